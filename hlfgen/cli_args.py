"""The command line's arguments: every subcommand, option, default and help text of `hlfgen`
(cli.py runs the commands).  Choices come from config.py, the one list of targets and modes."""

from __future__ import annotations

import argparse

from .config import COMPILERS, QUANTIZE_CHOICES, QUANTIZE_MODES, SPARSE_MODES, TARGETS, WEIGHT_FORMATS

TARGET_HELP = "host (portable C), cortex-a73 or aarch64 (NEON, cross-compiled)"
SPARSE_HELP = (
    "mostly-zero (pruned) weight matrices: auto (sparse kernel where the cost model says faster, "
    "default), off (all dense), csr or block (force that format)"
)
QUANTIZE_HELP = (
    "weight matrices: auto (default: fp16 if the model's weights are float16, else fp32; DequantizeLinear "
    "int8/uint8 weights as the file's int8), none (fp32), fp16 (stored as fp16, fp32 arithmetic) or int8 "
    "(symmetric per-row scales, inputs quantized per step, int32 accumulation); see docs/quantization.md"
)
WEIGHTS_HELP = (
    "how the weights are emitted: c (static const arrays in <name>_weights.h), bin (a binary blob "
    "linked by <name>_weights.S: fast builds of large models; gcc/clang), auto (bin from 1 MiB, default)"
)


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} must be at least 1")
    return v


def _quant_list(text: str) -> list[str]:
    """`bench --quantize none,fp16,int8`: a comma-separated list of --quantize modes."""
    modes = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in modes if m not in QUANTIZE_MODES]
    if bad or not modes:
        raise argparse.ArgumentTypeError(
            f"'{text}': give a comma-separated list of {', '.join(QUANTIZE_MODES)} (e.g. none,fp16,int8)"
        )
    return modes


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad argument reported in one line (exit 2) instead of the whole usage."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _dim(text: str) -> tuple[str, int]:
    name, sep, value = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"'{text}' is not NAME=N")
    return name, _positive(value)


DIM_HELP = "fix the symbolic dimension NAME (a dim_param, or INPUT:AXIS) to N at build time (repeatable)"
MAX_DIM_HELP = "keep NAME a run-time dimension, 1..N (memory planned for N; repeatable)"


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hlfgen", description="Compile ONNX LSTM/GRU/RNN models with HLF-factored weights to C.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="generate a self-contained C project (OUT/) for a model")
    b.add_argument("model", help="ONNX file")
    b.add_argument("-o", "--out", required=True, help="output directory")
    b.add_argument("--name", help="C name of the model (default: from the file name)")
    b.add_argument("--target", default="host", choices=TARGETS, help=TARGET_HELP)
    b.add_argument("--batch", type=_positive, help="batch size (default: the model's static value, else 1)")
    b.add_argument(
        "--max-seq-len",
        type=_positive,
        help="longest sequence a call may pass (default: the model's static value, else 128)",
    )
    b.add_argument("--dim", type=_dim, action="append", default=[], metavar="NAME=N", help=DIM_HELP)
    b.add_argument("--max-dim", type=_dim, action="append", default=[], metavar="NAME=N", help=MAX_DIM_HELP)
    b.add_argument("--sparse", default="auto", choices=SPARSE_MODES, help=SPARSE_HELP)
    b.add_argument("--weights", default="auto", choices=WEIGHT_FORMATS, help=WEIGHTS_HELP)
    b.add_argument("--quantize", default="auto", choices=QUANTIZE_CHOICES, help=QUANTIZE_HELP)

    c = sub.add_parser("check", help="build, run on random inputs and compare with onnxruntime")
    c.add_argument("model")
    c.add_argument("--target", default="host", choices=TARGETS, help=TARGET_HELP)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument(
        "--seq-len",
        type=_positive,
        help="sequence length of the random inputs (default: the model's static one, else 16)",
    )
    c.add_argument("--batch", type=_positive)
    c.add_argument("--dim", type=_dim, action="append", default=[], metavar="NAME=N", help=DIM_HELP)
    c.add_argument(
        "--max-dim",
        type=_dim,
        action="append",
        default=[],
        metavar="NAME=N",
        help="keep NAME a run-time dimension, 1..N; the random inputs use N",
    )
    c.add_argument("--compiler", default="gcc", choices=COMPILERS)
    c.add_argument("--runner", help="how to run the binary: qemu (default for aarch64), or a command prefix")
    c.add_argument(
        "--stream", action="store_true", help="feed the sequence one step at a time through the streaming API"
    )
    c.add_argument("--sparse", default="auto", choices=SPARSE_MODES, help=SPARSE_HELP)
    c.add_argument("--weights", default="auto", choices=WEIGHT_FORMATS, help=WEIGHTS_HELP)
    c.add_argument("--quantize", default="auto", choices=QUANTIZE_CHOICES, help=QUANTIZE_HELP)

    r = sub.add_parser("run", help="build and run a model on .npy inputs (here, under qemu, or on a board)")
    r.add_argument("model")
    r.add_argument("--input", action="append", default=[], metavar="NAME=PATH.npy", help="a graph input (repeat)")
    r.add_argument("--out-dir", required=True, help="where <output>.npy files go")
    r.add_argument("--target", default="host", choices=TARGETS, help=TARGET_HELP)
    r.add_argument("--runner", help="local, qemu, ssh://user@host[:port][/dir], adb, or a command prefix")
    r.add_argument("--repeat", type=_positive, help="run N times and print the mean time per run")
    r.add_argument("--stream", action="store_true", help="feed one step at a time through the streaming API")
    r.add_argument("--batch", type=_positive)
    r.add_argument("--max-seq-len", type=_positive)
    r.add_argument("--dim", type=_dim, action="append", default=[], metavar="NAME=N", help=DIM_HELP)
    r.add_argument("--max-dim", type=_dim, action="append", default=[], metavar="NAME=N", help=MAX_DIM_HELP)
    r.add_argument("--sparse", default="auto", choices=SPARSE_MODES, help=SPARSE_HELP)
    r.add_argument("--weights", default="auto", choices=WEIGHT_FORMATS, help=WEIGHTS_HELP)
    r.add_argument("--quantize", default="auto", choices=QUANTIZE_CHOICES, help=QUANTIZE_HELP)
    r.add_argument("--compiler", default="gcc", choices=COMPILERS)

    i = sub.add_parser(
        "inspect", help="per-layer structure of the weights: HLF, LMF, dense; compression (Eq. 4), op reduction (Eq. 5)"
    )
    i.add_argument("model")
    i.add_argument("--json", action="store_true")
    i.add_argument(
        "--quantize",
        choices=QUANTIZE_CHOICES,
        help="also list every packed weight matrix as built with this --quantize: dtype and bytes",
    )
    i.add_argument("--target", default="host", choices=TARGETS, help="target of that listing")

    pl = sub.add_parser(
        "plan", help="the paper's Table 1 for any shape: LMF rank and HLF (j, k) options reaching a compression"
    )
    pl.add_argument("--shape", required=True, help="MxN, e.g. 256x256")
    pl.add_argument("--compression", required=True, help="compression factor, e.g. 2.5 or 5/3")
    pl.add_argument("--json", action="store_true")
    pl.add_argument("--all", action="store_true", help="list every k (default: the first few)")

    f = sub.add_parser("factor", help="rewrite a dense LSTM/GRU/RNN model into HLF form (SVD), for speed estimates")
    f.add_argument("model")
    f.add_argument("-o", "--out", required=True, help="ONNX file to write")
    f.add_argument("--compression", required=True, help="compression factor, e.g. 2.5 or 5/3")
    f.add_argument("--k", type=_positive, default=1)
    f.add_argument("--stacked", action="store_true", help="factor the stacked gate matrix once instead of per gate")

    e = sub.add_parser("example", help="write an HLF-factored example model")
    e.add_argument("-o", "--out", required=True, help="ONNX file to write")
    e.add_argument("--kind", default="lstm", choices=["lstm", "gru", "rnn"])
    e.add_argument("--input-size", type=_positive, default=64)
    e.add_argument("--hidden-size", type=_positive, default=128)
    e.add_argument("--compression", default="2.5")
    e.add_argument("--k", type=_positive, default=1)
    e.add_argument(
        "--scheme",
        choices=["dense", "small", "lmf", "hlf", "pruned"],
        help="write the same layer compressed by one scheme, from the same seeded dense weights: "
        "dense baseline, small baseline (smaller hidden size), LMF, HLF (SVD), magnitude-pruned "
        "(default: the original HLF example with random factors)",
    )
    e.add_argument("--sweep-k", action="store_true", help="--scheme hlf: try k = 1..16 per matrix, keep the best fit")
    e.add_argument(
        "--prune-block", default="1x1", metavar="RxC", help="--scheme pruned: prune whole RxC blocks (e.g. 8x1)"
    )
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--direction", default="forward", choices=["forward", "reverse", "bidirectional"])
    e.add_argument("--stacked", action="store_true", help="factor the stacked gate matrix once instead of per gate")

    bn = sub.add_parser(
        "bench",
        help="the paper's run-time comparison (dense, small, LMF, HLF, pruned) against "
        "onnxruntime and tract: markdown table, JSON, Figure-2 plot",
    )
    bn.add_argument("-o", "--out", default="bench-out", help="output directory (builds kept in OUT/work and reused)")
    bn.add_argument("--quick", action="store_true", help="one small size (lstm128), CF 2.5, 3 rounds")
    bn.add_argument(
        "--sizes",
        nargs="+",
        metavar="SIZE",
        help="lstm650x2 lstm512 bilstm256 lstm128 gru650x2 gru512 bigru256 gru128 (default: all)",
    )
    bn.add_argument("--cf", nargs="+", metavar="CF", help="compression factors (default: 2.5 10/3 5)")
    bn.add_argument("--k", nargs="+", type=_positive, default=[1], help="HLF ranks k to build (default: 1)")
    bn.add_argument("--rounds", type=_positive, help="interleaved timing rounds (default 7, --quick 3)")
    bn.add_argument("--call-ms", type=float, help="length of one timed call in ms (default 50, --quick 20)")
    bn.add_argument("--jobs", type=_positive, help="parallel builds (default: the number of cores)")
    bn.add_argument("--no-insn", action="store_true", help="skip the AArch64 instruction counts (qemu)")
    bn.add_argument(
        "--insn-steps", type=_positive, default=16, help="sequence length of the instruction counts (default 16)"
    )
    bn.add_argument(
        "--quantize",
        type=_quant_list,
        default=["none"],
        metavar="MODES",
        help="weight storage of the dense and HLF builds, comma-separated: none (fp32, default), fp16, int8; "
        "fp16/int8 add a 'Quantized weights' table against fp32 (weight bytes, AArch64 insns, host time)",
    )
    bn.add_argument("--no-baselines", action="store_true", help="skip onnxruntime and tract")
    bn.add_argument(
        "--ort-aarch64",
        action="store_true",
        help="add onnxruntime-aarch64's instructions per step under qemu (fetches onnxruntime-node with npm "
        "on first use, cached in ~/.cache/hlfgen/ort-aarch64)",
    )
    bn.add_argument("--no-plot", action="store_true", help="skip the PNG")
    bn.add_argument(
        "--report-only", action="store_true", help="re-render OUT/benchmarks.md and the PNG from OUT/bench.json"
    )
    return p
