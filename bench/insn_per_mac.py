"""AArch64 instructions per weight multiply-accumulate of a compiled model, under qemu.

The deterministic speed measure on this ISA (qemu timings mean nothing).  The
runner is run with --repeat R1 and --repeat R2 under the instruction-count
plugin (bench/insn_count); the difference divided by R2 - R1 is the cost of
one whole run(): every instruction of the model code, kernels, activations,
memcpy/memset included, the runner's file I/O excluded.

    python3 bench/insn_per_mac.py                       # LSTM 256x256: dense and HLF at CF 2.5
    python3 bench/insn_per_mac.py --kind gru --hidden 128 --cf 2.5 5 --json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from hlfgen.build import compile_out, generate  # noqa: E402
from hlfgen.example import write_example  # noqa: E402
from hlfgen.inspect import inspect_model  # noqa: E402

GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def _count_module():
    spec = importlib.util.spec_from_file_location("insn_count", HERE / "insn_count" / "count.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def dense_model(path: Path, kind: str, input_size: int, hidden: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    g = GATES[kind]
    W = (rng.standard_normal((1, g * hidden, input_size)) / np.sqrt(input_size)).astype(np.float32)
    R = (rng.standard_normal((1, g * hidden, hidden)) / np.sqrt(hidden)).astype(np.float32)
    B = (rng.standard_normal((1, 2 * g * hidden)) * 0.1).astype(np.float32)
    node = helper.make_node(kind.upper(), ["X", "W", "R", "B"], ["Y", "Y_h"], hidden_size=hidden)
    graph = helper.make_graph(
        [node], "dense", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", 1, input_size])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None), helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(a, n) for a, n in ((W, "W"), (R, "R"), (B, "B"))])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)


def per_run_instructions(exe: Path, x_path: Path, work: Path, r1: int = 1, r2: int = 3) -> tuple[float, dict]:
    count = _count_module()
    totals, hists = [], []
    for r in (r1, r2):
        res = count.count_instructions([str(exe), "--input", f"X={x_path}", "--out-dir", str(work / f"out{r}"),
                                        "--repeat", str(r)], hist=True)
        if res.get("returncode", 0) != 0:
            raise RuntimeError(f"runner failed under qemu: {res}")
        totals.append(res["total"])
        hists.append(res["hist"].get("*", {}))
    per_run = (totals[1] - totals[0]) / (r2 - r1)
    hist = {k: (hists[1].get(k, 0) - hists[0].get(k, 0)) / (r2 - r1) for k in hists[1]}
    return per_run, hist


def measure(model: Path, work: Path, steps: int, target: str = "cortex-a73") -> dict:
    gen = generate(model, work / "out", target=target, max_seq_len=steps)
    exe = compile_out(gen.out_dir, work / "build", target=target, static=True)
    x = np.random.default_rng(1).standard_normal((steps, 1, gen.model.layers[0].input_size)).astype(np.float32)
    (work / "out_x").mkdir(exist_ok=True)
    x_path = work / "x.npy"
    np.save(x_path, x)
    per_run, hist = per_run_instructions(exe, x_path, work)
    info = inspect_model(model)
    macs = sum(m["ops"] for layer in info["layers"] for m in layer["matrices"])  # per step, Algorithm 1
    dense_macs = sum(m["shape"][0] * m["shape"][1] for layer in info["layers"] for m in layer["matrices"])
    top = dict(sorted(hist.items(), key=lambda kv: -kv[1])[:12])
    return {
        "model": model.name,
        "structure": [m["structure"] for layer in info["layers"] for m in layer["matrices"]],
        "insn_per_step": per_run / steps,
        "macs_per_step": macs,
        "insn_per_mac": per_run / steps / macs,
        "insn_per_dense_mac": per_run / steps / dense_macs,
        "histogram_per_step": {k: v / steps for k, v in top.items()},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", default="lstm", choices=sorted(GATES))
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--input-size", type=int, default=None, help="default: = hidden")
    ap.add_argument("--cf", type=float, nargs="*", default=[2.5], help="HLF compression factors to measure")
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    n = args.input_size or args.hidden
    results = []
    with tempfile.TemporaryDirectory(prefix="hlfgen-insn-") as tmp:
        tmp = Path(tmp)
        dense = tmp / f"{args.kind}{args.hidden}_dense.onnx"
        dense_model(dense, args.kind, n, args.hidden)
        results.append(measure(dense, tmp / "dense", args.steps))
        for cf in args.cf:
            path = tmp / f"{args.kind}{args.hidden}_hlf_cf{cf}.onnx"
            write_example(path, kind=args.kind, input_size=n, hidden_size=args.hidden, compression=cf, k=args.k)
            results.append(measure(path, tmp / f"hlf{cf}", args.steps))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    base = results[0]["insn_per_step"]
    print(f"{'model':<28} {'insn/step':>12} {'MAC/step':>10} {'insn/MAC':>9} {'speed-up':>9}")
    for r in results:
        print(f"{r['model']:<28} {r['insn_per_step']:>12.0f} {r['macs_per_step']:>10} {r['insn_per_mac']:>9.3f} "
              f"{base / r['insn_per_step']:>9.2f}")
    for r in results:
        hist = ", ".join(f"{k} {v:.0f}" for k, v in r["histogram_per_step"].items())
        print(f"\n{r['model']} per step: {hist}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
