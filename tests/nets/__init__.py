"""The paper's benchmark networks (§4.2) and the README's keyword spotters, in PyTorch.

spec.py    what each network takes and returns (no torch needed): inputs with
           symbolic axes, outputs, the run-time symbol, seeded numpy feeds;
models.py  the nn.Modules (small random-weight sizes: a build takes seconds);
export.py  one export, run in its own interpreter: ``python export.py NET MODE OUT.onnx``.

tests/test_nets.py exports every network three ways and checks hlfgen's build
against onnxruntime on the same file.
"""
