"""One source of truth for the constants Python and the generated C share.

Every module imports these names instead of spelling the values again; the
C side gets them from ``hlf_config.h``, generated from this module
(:func:`config_header`) into every OUT/runtime/ by emit.py.  A copy lives in
the source tree's runtime/ for the C unit tests that compile the runtime
directly; tests/test_config.py checks that copy is current.
"""

from __future__ import annotations

from dataclasses import dataclass

# ------------------------------------------------------------------ targets
TARGETS = ("host", "cortex-a73", "aarch64")
AARCH64_TARGETS = ("cortex-a73", "aarch64")  # cross-compiled, NEON kernels, run under qemu here

# Rows per packed weight panel (HLF_NR of runtime/hlf_kernels.h).  The NEON
# kernels are written for 8 rows (two q registers); the portable kernels use
# compiler vectors of HLF_NR floats, and 16 fills an AVX-512 register (or two
# AVX / four SSE registers).
DEFAULT_NR = 8
PANEL_ROWS = {"host": 16, "cortex-a73": 8, "aarch64": 8}


def is_aarch64(target: str) -> bool:
    return target in AARCH64_TARGETS


def panel_rows(target: str) -> int:
    return PANEL_ROWS.get(target, DEFAULT_NR)


# ------------------------------------------------------------------ build options
SPARSE_MODES = ("auto", "off", "csr", "block")  # --sparse (hlfgen/sparse.py)
WEIGHT_FORMATS = ("auto", "c", "bin")  # --weights (hlfgen/emit.py)
COMPILERS = ("gcc", "clang")
QUANTIZE_MODES = ("none", "fp16", "int8")  # how weight matrices are stored (hlfgen/quant.py)
# --quantize: auto = fp16 for a model whose weights are float16, else none; QDQ weights int8 (hlfgen/qdq.py)
QUANTIZE_CHOICES = ("auto", *QUANTIZE_MODES)

# ------------------------------------------------------------------ memory layout
ALIGN_BYTES = 64  # arena regions, scratch, weight arrays and blob entries start on a cache line
ALIGN_FLOATS = ALIGN_BYTES // 4

# ------------------------------------------------------------------ limits
# Highest tensor rank anywhere (ONNX tensors, the runner's descriptors, the
# index arrays of runtime/hlf_nn.c and hlf_ops.c): HLF_MAX_RANK in C.
MAX_RANK = 8
# Refused at build time with the figure (a static buffer this large does not
# link, or would not fit a device hlfgen targets).
MAX_WORK_BYTES = 1 << 30  # static working memory (arena, scratch, state, integer buffers)
MAX_WEIGHT_BYTES = 1 << 31  # packed weights and sparse index arrays
DEFAULT_MAX_SEQ_LEN = 128
# Output positions per im2col pass of Conv (runtime/hlf_conv.c): the scratch
# holds this many columns, whatever the run-time extents (HLF_CONV_CHUNK).
CONV_CHUNK = 32
# Rows per pass of a linear node with a factored matrix (Algorithm 1): t = C·x
# of this many rows lives in the scratch region (templates/ops/linear.c.j2).
LINEAR_CHUNK_ROWS = 64


# ------------------------------------------------------------------ dtypes
@dataclass(frozen=True)
class DType:
    name: str  # numpy name, the IR's TensorInfo.dtype
    onnx: int  # onnx.TensorProto elem_type
    ctype: str  # C type
    enum: str  # enum hlf_dtype of runtime/hlf_runner.h
    code: int  # its value
    size: int  # bytes


# Runtime tensor dtypes hlfgen compiles (graph inputs/outputs, intermediates).
DTYPES = {
    "float32": DType("float32", 1, "float", "HLF_DTYPE_F32", 1, 4),
    "int32": DType("int32", 6, "int32_t", "HLF_DTYPE_I32", 2, 4),
    "int64": DType("int64", 7, "int64_t", "HLF_DTYPE_I64", 3, 8),
    "bool": DType("bool", 9, "uint8_t", "HLF_DTYPE_BOOL", 4, 1),  # 0 or 1, one byte (numpy, ONNX)
}
ONNX_TO_DTYPE = {d.onnx: d.name for d in DTYPES.values()}
C_DTYPES = {d.name: (d.ctype, d.enum) for d in DTYPES.values()}  # name -> (C type, enum)

# ------------------------------------------------------------------ recurrent operators
RECURRENT_OPS = {"LSTM": "lstm", "GRU": "gru", "RNN": "rnn"}
# Gate order per operator, as ONNX stacks them in W, R and B.
GATES = {"lstm": "iofc", "gru": "zrh", "rnn": "i"}
# ONNX default activations per operator (f, g, h order of the spec).
DEFAULT_ACTIVATIONS = {
    "lstm": ("Sigmoid", "Tanh", "Tanh"),
    "gru": ("Sigmoid", "Tanh"),
    "rnn": ("Tanh",),
}
# Highest number of node inputs per recurrent operator (X W R B sequence_lens initial_h [initial_c P]).
MAX_INPUTS = {"lstm": 8, "gru": 6, "rnn": 6}


def config_header() -> str:
    """The text of hlf_config.h (byte-identical for the same hlfgen)."""
    lines = [
        "/*",
        " * hlf_config.h - constants shared by hlfgen (hlfgen/config.py) and the C runtime.",
        " * Generated from hlfgen/config.py: do not edit; change config.py instead.",
        " */",
        "#ifndef HLF_CONFIG_H",
        "#define HLF_CONFIG_H",
        "",
        "/* Highest tensor rank (hlfgen refuses higher ranks at build time). */",
        f"#define HLF_MAX_RANK {MAX_RANK}",
        "/* Alignment in bytes of weights, arena and scratch (HLF_ALIGNED). */",
        f"#define HLF_ALIGN_BYTES {ALIGN_BYTES}",
        "/* Rows per weight panel of the NEON kernels (HLF_NR default). */",
        f"#define HLF_DEFAULT_NR {DEFAULT_NR}",
        "/* Output positions per im2col pass of Conv (runtime/hlf_conv.c). */",
        f"#define HLF_CONV_CHUNK {CONV_CHUNK}",
        "",
        "/* Element types of graph inputs and outputs (the runner's .npy files). */",
        "enum hlf_dtype {",
    ]
    items = list(DTYPES.values())
    for i, d in enumerate(items):
        lines.append(f"    {d.enum} = {d.code}{',' if i + 1 < len(items) else ''} /* {d.name} */")
    lines += ["};", "", "#endif /* HLF_CONFIG_H */", ""]
    return "\n".join(lines)
