#!/usr/bin/env python3
"""fp32 / fp16 / int8 weights (hlfgen build --quantize): bytes, AArch64 instructions, accuracy.

For each size (bench sizes of hlfgen/bench/models.py: lstm512, lstm650x2) and
scheme (dense, HLF at CF 2.5, k = 1), built for the Cortex-A73 with
--quantize none|fp16|int8:
  * weight bytes (everything the model streams: packed matrices, int8 row
    scales, biases), and the ratio to the fp32 build of the same model;
  * AArch64 instructions per step under the QEMU counter (bench/insn_count;
    QEMU_CPU=cortex-a72, an ARMv8.0 core: no dotprod, no FP16 arithmetic),
    runner --repeat 1 vs 2 so file I/O cancels; whole model (kernels,
    quantization of the inputs, activations, copies);
  * max |Y - Y_fp32| of the quantized build against onnxruntime on the fp32
    file (random inputs, T steps), next to onnxruntime's own quantize_dynamic
    of the same file against the same fp32 outputs.
Plus the kernels alone (instructions per MAC of each GEMV / GEMM form).

    python3 bench/quant.py [--sizes lstm512 lstm650x2] [--steps 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QEMU_CPU", "cortex-a72")

from hlfgen.bench import SIZES, make_model  # noqa: E402
from hlfgen.build import compile_out, generate, run_runner  # noqa: E402
from hlfgen.check import oracle_outputs  # noqa: E402

MODES = ("none", "fp16", "int8")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def quantize_dynamic_error(model: Path, feeds: dict, expected: dict, work: Path) -> float | None:
    """max |Y| error of onnxruntime's quantize_dynamic (default settings: int8 weights, uint8 activations)."""
    try:
        from onnxruntime.quantization import quantize_dynamic

        from hlfgen.check import _onnxruntime
    except ImportError:
        return None
    q = work / "qd.onnx"
    quantize_dynamic(str(model), str(q))
    got = dict(zip(expected, _onnxruntime(str(q), list(expected), feeds)))
    return float(np.abs(got["Y"].astype(np.float64) - expected["Y"]).max())


def measure(size: str, scheme: str, steps: int, work: Path) -> list[dict]:
    insn = _load("insn_per_mac", HERE / "insn_per_mac.py")
    model = work / f"{size}_{scheme}.onnx"
    make_model(SIZES[size], scheme, "2.5" if scheme == "hlf" else None, 1, model)
    rows, base = [], {}
    feeds = expected = None
    for mode in MODES:
        d = work / f"{size}_{scheme}_{mode}"
        gen = generate(model, d / "out", target="cortex-a73", max_seq_len=steps, quantize=mode)
        exe = compile_out(gen.out_dir, d / "build", target="cortex-a73", static=True)
        if feeds is None:
            rng = np.random.default_rng(1)
            feeds = {"X": rng.standard_normal((steps, 1, gen.model.layers[0].input_size)).astype(np.float32)}
            expected, _ = oracle_outputs(model, feeds)
            qd = quantize_dynamic_error(model, feeds, expected, work)
        np.save(d / "x.npy", feeds["X"])
        per_run, _ = insn.per_run_instructions(exe, d / "x.npy", d, r1=1, r2=2)
        outs, _ = run_runner(exe, feeds, target="cortex-a73", work_dir=d / "run")
        err = float(np.abs(outs["Y"].astype(np.float64) - expected["Y"]).max())
        row = {"size": size, "scheme": scheme, "quantize": mode, "weight_bytes": gen.program.weight_bytes,
               "matrix_bytes": sum(m["bytes"] for m in gen.program.matrices),
               "insn_per_step": per_run / steps, "max_abs_err_Y": err, "quantize_dynamic_err_Y": qd}
        if mode == "none":
            base = row
        row["bytes_vs_fp32"] = row["weight_bytes"] / base["weight_bytes"]
        row["insn_vs_fp32"] = row["insn_per_step"] / base["insn_per_step"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def kernels(work: Path) -> list[dict]:
    """Instructions per MAC of each kernel alone (bench/quant_count.c, GCC -O2 -mcpu=cortex-a73)."""
    count = _load("insn_count", HERE / "insn_count" / "count.py")
    exe = work / "quant_count"
    srcs = sorted(str(p) for p in (ROOT / "runtime" / "kernels").glob("*-neon.c") if p.name.split("-")[0] in ("f32", "f16", "qs8"))
    srcs = [s for s in srcs if "-sp" not in Path(s).name]
    subprocess.run(["aarch64-linux-gnu-gcc", "-O2", "-mcpu=cortex-a73", "-static", "-std=c11", "-DHLF_NR=8",
                    "-I", str(ROOT / "runtime"), str(HERE / "quant_count.c"), *srcs, "-o", str(exe), "-lm"], check=True)
    out = []
    for kind in ("f32", "f16", "qs8"):
        for m, n, nv in ((2600, 650, 0), (2600, 650, 16), (2048, 512, 0), (2048, 40, 0)):
            syms = [f"hlf_{kind}_{'gemm' if nv else 'gemv'}_acc"] + ([f"hlf_{kind}_gemv_acc"] if nv else [])
            res = count.count_instructions([str(exe), kind, str(m), str(n), "4", str(nv)], symbols=syms, hist=False)
            per_mac = sum(res["regions"].values()) / (4 * m * n * max(nv, 1))
            out.append({"kernel": kind, "op": "gemm" if nv else "gemv", "m": m, "n": n, "nv": nv, "insn_per_mac": per_mac})
            print(json.dumps(out[-1]), flush=True)
    res = count.count_instructions([str(exe), "qs8q", "100", "650", "1"], symbols=["hlf_qs8_quantize"], hist=False)
    out.append({"kernel": "qs8", "op": "quantize", "n": 650, "insn_per_element": sum(res["regions"].values()) / (101 * 650)})
    print(json.dumps(out[-1]), flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["lstm512", "lstm650x2"])
    ap.add_argument("--schemes", nargs="+", default=["dense", "hlf"])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--json", help="write all results here")
    ap.add_argument("--no-kernels", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hlfgen-quant-bench-") as tmp:
        work = Path(tmp)
        res = {"kernels": [] if args.no_kernels else kernels(work), "models": []}
        for size in args.sizes:
            for scheme in args.schemes:
                res["models"] += measure(size, scheme, args.steps, work)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    print(f"{'size':<10} {'scheme':<6} {'mode':<5} {'bytes':>10} {'x fp32':>7} {'insn/step':>11} {'x fp32':>7} "
          f"{'max|dY|':>9} {'qdyn':>9}")
    for r in res["models"]:
        qd = f"{r['quantize_dynamic_err_Y']:.2e}" if r["quantize_dynamic_err_Y"] is not None else "-"
        print(f"{r['size']:<10} {r['scheme']:<6} {r['quantize']:<5} {r['weight_bytes']:>10} {r['bytes_vs_fp32']:>7.3f} "
              f"{r['insn_per_step']:>11.0f} {r['insn_vs_fp32']:>7.3f} {r['max_abs_err_Y']:>9.2e} {qd:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
