"""hlfgen: compile ONNX LSTM/GRU/RNN models with HLF-factored weights to C.

Pipeline (one module per stage):
  reader.py  ONNX graph -> ir.Model   (weights.py evaluates W/R as row segments)
  lower.py   ir.Model -> lowered program (program.py): Algorithm 1 calls (alg1.py), memory plan (memplan.py)
  emit.py    lowered program -> C sources from templates/
  build.py   cmake configure/build, runner invocation
  check.py   parity against onnxruntime / onnx.reference
The paper's equations live in hlf.py.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """hlfgen.compile (hlfgen/api.py), imported on first use."""
    if name == "compile":
        from .api import compile

        return compile
    raise AttributeError(f"module 'hlfgen' has no attribute {name!r}")
