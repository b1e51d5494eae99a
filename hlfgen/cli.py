"""Command line: `hlfgen build|check|run|inspect|plan|example|bench`.  Thin: parses, calls, prints."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import COMPILERS, QUANTIZE_CHOICES, QUANTIZE_MODES, SPARSE_MODES, TARGETS, WEIGHT_FORMATS
from .errors import HlfgenError

TARGET_HELP = "host (portable C), cortex-a73 or aarch64 (NEON, cross-compiled)"
SPARSE_HELP = (
    "mostly-zero (pruned) weight matrices: auto (sparse kernel where the cost model says faster, "
    "default), off (all dense), csr or block (force that format)"
)
QUANTIZE_HELP = (
    "weight matrices: auto (default: fp16 if the model's weights are float16, else fp32), none (fp32), fp16 "
    "(stored as fp16, fp32 arithmetic) or int8 (symmetric per-row scales, inputs quantized per step, int32 "
    "accumulation); see docs/quantization.md"
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
        choices=QUANTIZE_MODES,
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except HlfgenError as e:
        print(f"hlfgen: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except RuntimeError as e:  # a tool (cmake, compiler, runner) failed
        print(f"hlfgen: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # a path the user gave cannot be written or read
        where = f"{e.filename}: " if e.filename else ""
        print(f"hlfgen: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2


def cmd_build(args) -> int:
    from .build import generate
    from .emit import ctx_bytes, weights_format

    gen = generate(
        args.model,
        args.out,
        name=args.name,
        target=args.target,
        batch=args.batch,
        max_seq_len=args.max_seq_len,
        sparse=args.sparse,
        weights=args.weights,
        quantize=args.quantize,
        dims=dict(args.dim),
        max_dims=dict(args.max_dim),
    )
    m = gen.model
    p = gen.program
    for note in m.notes:
        print(f"  {note}")
    print(
        f"wrote {gen.out_dir}/ ({m.name}: {len(m.layers)} recurrent layer(s), batch {m.batch}, max seq len {m.max_seq_len})"
    )
    if m.dims:
        print("  run-time dimensions: " + ", ".join(f"{d.name} 1..{d.max}" for d in m.dims))
    where = f"{m.name}_weights.bin" if weights_format(p, args.weights) == "bin" else f"{m.name}_weights.h"
    print(f"  weights {p.weight_bytes} bytes ({where}), one instance {ctx_bytes(p)} bytes ({m.name.upper()}_CTX_BYTES)")
    if args.quantize == "auto" and p.quantize == "fp16":
        print("  weights stored fp16: the model's weight initializers are float16 (--quantize none for fp32)")
    for ch in p.sparse_choices:
        print(
            f"  {ch['rows']} ({ch['shape'][0]}x{ch['shape'][1]}, {100 * ch['zero_fraction']:.0f}% zeros): {ch['kernel']}"
        )
    tc = (
        " -DCMAKE_TOOLCHAIN_FILE=" + str(gen.out_dir / "toolchains" / "aarch64-linux-gnu.cmake")
        if args.target != "host"
        else ""
    )
    bdir = gen.out_dir / ("build" if args.target == "host" else f"build-{args.target}")
    print(f"next: cmake -S {gen.out_dir} -B {bdir}{tc} && cmake --build {bdir}")
    return 0


def cmd_check(args) -> int:
    from .check import check

    report = check(
        args.model,
        target=args.target,
        seed=args.seed,
        seq_len=args.seq_len,
        batch=args.batch,
        compiler=args.compiler,
        runner=args.runner,
        stream=args.stream,
        sparse=args.sparse,
        weights=args.weights,
        quantize=args.quantize,
        dims=dict(args.dim),
        max_dims=dict(args.max_dim),
    )
    print(report.format())
    return 0 if report.ok else 1


def cmd_run(args) -> int:
    import shutil
    import tempfile

    import numpy as np

    from .build import compile_out, generate, run_runner

    feeds = {}
    for spec in args.input:
        name, sep, path = spec.partition("=")
        if not sep:
            raise HlfgenError(f"--input '{spec}' is not NAME=PATH.npy")
        try:
            feeds[name] = np.load(path)
        except (OSError, ValueError) as e:
            raise HlfgenError(f"--input {name}: cannot read {path} ({e})") from None
    work = Path(tempfile.mkdtemp(prefix="hlfgen-run-"))
    try:
        gen = generate(
            args.model,
            work / "out",
            target=args.target,
            batch=args.batch,
            max_seq_len=args.max_seq_len,
            sparse=args.sparse,
            weights=args.weights,
            quantize=args.quantize,
            dims=dict(args.dim),
            max_dims=dict(args.max_dim),
        )
        exe = compile_out(gen.out_dir, work / "build", target=args.target, compiler=args.compiler, werror=False)
        outputs, mean_us = run_runner(
            exe,
            feeds,
            target=args.target,
            work_dir=work / "run",
            repeat=args.repeat,
            stream=args.stream,
            runner_spec=args.runner,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, arr in outputs.items():
        np.save(out / f"{name}.npy", arr)
        print(f"{out / (name + '.npy')}: {arr.dtype} {list(arr.shape)}")
    if mean_us is not None:
        print(f"mean_us={mean_us:.3f} repeat={args.repeat}")
    return 0


def cmd_inspect(args) -> int:
    from .inspect import inspect_model, format_inspection

    info = inspect_model(args.model)
    if info["layers"]:
        from .inspect import weight_storage

        info["storage_fp32"] = weight_storage(args.model, args.target or "host")
    if args.quantize:
        from .inspect import format_storage, storage

        info["storage"] = storage(args.model, args.quantize, args.target)
    print(json.dumps(info, indent=2) if args.json else format_inspection(info))
    if args.quantize and not args.json:
        print(format_storage(info["storage"]))
    return 0


def cmd_plan(args) -> int:
    from . import hlf

    try:
        m, n = (int(v) for v in args.shape.lower().split("x"))
    except ValueError:
        raise HlfgenError(f"--shape '{args.shape}' is not MxN (e.g. 256x256)") from None
    p = hlf.plan(m, n, hlf.parse_cf(args.compression))
    print(json.dumps(hlf.plan_to_json(p), indent=2) if args.json else hlf.format_plan(p, None if args.all else 8))
    return 0


def cmd_factor(args) -> int:
    from .factor import factor_model, format_factor_report

    rows = factor_model(args.model, args.out, args.compression, k=args.k, per_gate=not args.stacked)
    print(format_factor_report(rows))
    print(f"wrote {args.out}")
    return 0


def cmd_example(args) -> int:
    from .example import write_example
    from . import hlf

    try:
        block = tuple(int(v) for v in args.prune_block.lower().split("x"))
        if len(block) != 2:
            raise ValueError
    except ValueError:
        raise HlfgenError(f"--prune-block '{args.prune_block}' is not RxC (e.g. 8x1)") from None
    model = write_example(
        Path(args.out),
        kind=args.kind,
        input_size=args.input_size,
        hidden_size=args.hidden_size,
        compression=hlf.parse_cf(args.compression),
        k=None if args.sweep_k else args.k,
        seed=args.seed,
        direction=args.direction,
        per_gate=not args.stacked,
        scheme=args.scheme,
        prune_block=block,
    )
    if args.scheme is None:
        print(
            f"wrote {args.out} ({args.kind}, input {args.input_size}, hidden {args.hidden_size}, compression {args.compression}, k {args.k})"
        )
        return 0
    from .example import weight_stats

    st = weight_stats(model)
    extra = "".join(f", {k[6:]} {v} B" for k, v in st.items() if k.startswith("bytes_") and k != "bytes_dense")
    print(f"wrote {args.out} ({model.doc_string.split(': ', 1)[1]})")
    print(
        f"  W and R: {st['weights']} of {st['dense']} weights kept (x{st['dense'] / st['weights']:.3f}); "
        f"{st['bytes_dense']} B as float32{extra}"
    )
    return 0


def cmd_bench(args) -> int:
    from .bench import main_args

    try:
        return main_args(args)
    except ValueError as e:
        raise HlfgenError(str(e)) from None


COMMANDS = {
    "build": cmd_build,
    "check": cmd_check,
    "run": cmd_run,
    "inspect": cmd_inspect,
    "plan": cmd_plan,
    "factor": cmd_factor,
    "example": cmd_example,
    "bench": cmd_bench,
}

if __name__ == "__main__":
    sys.exit(main())
