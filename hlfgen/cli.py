"""Command line: `hlfgen build|check|run|inspect|plan|example|bench`.  Thin: parses, calls, prints."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .cli_args import _parser
from .errors import HlfgenError


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


def _model_options(args) -> dict:
    """The options build, check and run share (hlfgen.build.generate's keywords)."""
    return dict(
        sparse=args.sparse,
        weights=args.weights,
        quantize=args.quantize,
        dims=dict(args.dim),
        max_dims=dict(args.max_dim),
    )


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
        **_model_options(args),
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
    qdq = [mat for mat in p.matrices if mat["qdq"] == "int8"]
    if qdq:
        print(
            f"  {len(qdq)} matrices stored int8 as the file's DequantizeLinear weights "
            f"({sum(mat['bytes'] for mat in qdq)} bytes with row scales; --quantize none for fp32)"
        )
    for note in p.notes:
        print(f"  {note}")
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
        **_model_options(args),
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
            **_model_options(args),
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
    from .schemes import weight_stats

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
