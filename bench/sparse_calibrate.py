"""Calibrates the sparse-vs-dense cost model of hlfgen/sparse.py.

For every kernel (dense panel GEMV/GEMM, CSR, BCSR 4x1, BCSR 8x1; one
vector and 8 vectors) and a grid of shapes and densities, measures

  * aarch64: executed instructions per call under qemu (the instruction-count
    plugin of bench/insn_count, whole program, REPS=4 minus REPS=2, over 2),
    NEON kernels, gcc -O2 -mcpu=cortex-a73;
  * host: nanoseconds per call (tests/c/sparse/sparse_driver.c timing, best
    of 9 runs of ~1 ms), portable kernels, gcc -O2 -march=native (as compile_out(native=True));

then fits  cost = a * units + b * row_units + c  by least squares on the
relative errors, with a, b, c >= 0 (units:
dense padded MACs / CSR nonzeros / BCSR blocks; row_units: panels / rows /
block rows) and prints the tables to paste into hlfgen/sparse.py.

    python3 bench/sparse_calibrate.py [--family aarch64|host|both] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from hlfgen import sparse  # noqa: E402
from hlfgen.pack import pack_panels, panel_rows  # noqa: E402

RUNTIME = ROOT / "runtime"
DRIVER = ROOT / "tests" / "c" / "sparse" / "sparse_driver.c"
OPS = {("csr", "gemv"): 0, ("csr", "gemm"): 1, ("bcsr", "gemv"): 2, ("bcsr", "gemm"): 3,
       ("dense", "gemv"): 4, ("dense", "gemm"): 5}
NV_GEMM = 8


def _count_module():
    spec = importlib.util.spec_from_file_location("insn_count", HERE / "insn_count" / "count.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build(family: str, work: Path) -> Path:
    isa = "neon" if family == "aarch64" else "scalar"
    srcs = sorted((RUNTIME / "kernels").glob(f"f32-sp*-{isa}.c")) + sorted((RUNTIME / "kernels").glob(f"f32-gem*-acc-{isa}.c"))
    nr = panel_rows("cortex-a73" if family == "aarch64" else "host")
    exe = work / f"driver-{family}"
    if family == "aarch64":
        cc = ["aarch64-linux-gnu-gcc", "-O2", "-mcpu=cortex-a73", "-static"]
    else:
        cc = ["gcc", "-O2", "-march=native"]
    subprocess.run(cc + ["-std=c99", f"-DHLF_NR={nr}", "-ffp-contract=fast", "-I", str(RUNTIME), str(DRIVER),
                         *map(str, srcs), "-o", str(exe), "-lm"], check=True)
    return exe


def record(kernel: str, op: str, a: np.ndarray, nr: int, br: int = 0, seed: int = 0) -> bytes:
    m, n = a.shape
    nv = NV_GEMM if op == "gemm" else 1
    rng = np.random.default_rng(seed)
    if kernel == "csr":
        s = sparse.pack_csr(a)
        ptr, col, val = s.row_ptr, s.col_idx, s.values
    elif kernel == "bcsr":
        s = sparse.pack_bcsr(a, br)
        ptr, col, val = s.block_ptr, s.block_col, s.values
    else:
        ptr, col, val = np.zeros(0, np.uint32), np.zeros(0, np.uint16), pack_panels(a, nr)
    x = rng.uniform(-1, 1, nv * n).astype(np.float32)
    y = np.zeros(nv * m, np.float32)
    head = struct.pack("<12i", OPS[(kernel, op)], nv, m, n, n, m, y.size, br, ptr.size, col.size, val.size, 0)
    colb = col.astype("<u2").tobytes()
    colb += b"\0" * (-len(colb) % 4)
    return head + ptr.astype("<u4").tobytes() + colb + val.astype("<f4").tobytes() + x.tobytes() + y.tobytes()


def units(kernel: str, a: np.ndarray, nr: int, br: int) -> tuple[int, int]:
    m, n = a.shape
    if kernel == "dense":
        p = -(-m // nr)
        return p * nr * n, p
    if kernel == "csr":
        return int(np.count_nonzero(a)), m
    return sparse.block_count(a, br), -(-m // br)


def matrices(quick: bool):
    rng = np.random.default_rng(0)
    shapes = [(64, 64), (256, 256), (1024, 256)] if quick else [(64, 64), (256, 128), (256, 256), (1024, 256), (512, 512)]
    dens = [0.05, 0.2, 0.4] if quick else [0.02, 0.05, 0.1, 0.2, 0.4, 0.6]
    for m, n in shapes:
        for d in dens:
            for structure in ("random", "8x1"):
                if structure == "random":
                    mask = rng.random((m, n)) < d
                else:
                    mask = np.kron(rng.random((-(-m // 8), n)) < d, np.ones((8, 1), bool))[:m]
                yield f"{m}x{n} {structure} {d:.2f}", np.where(mask, rng.uniform(-1, 1, (m, n)), 0).astype(np.float32)


def measure_aarch64(exe: Path, blob: bytes, work: Path, count) -> float:
    f = work / "case.bin"
    f.write_bytes(blob)
    tot = []
    for r in (2, 4):
        res = count.count_instructions([str(exe), str(f), str(work / "out.bin"), str(r)], hist=False)
        tot.append(res["total"])
    return (tot[1] - tot[0]) / 2


def measure_host(exe: Path, blob: bytes, work: Path, macs: int) -> float:
    f = work / "case.bin"
    f.write_bytes(blob)
    # Short runs (~1 ms), best of 9: the minimum filters out preemption on a
    # loaded machine better than a long average.
    reps = max(3, int(5e6 / max(macs, 1)))
    best = float("inf")
    for _ in range(9):
        out = subprocess.run([str(exe), str(f), str(work / "out.bin"), str(reps)], capture_output=True, text=True, check=True)
        best = min(best, float(re.search(r"ns_per_call=([0-9.]+)", out.stdout).group(1)))
    return best


def _nnls(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares with non-negative coefficients, relative errors weighted equally."""
    w = 1.0 / y
    try:
        from scipy.optimize import nnls

        return nnls(X * w[:, None], y * w)[0]
    except ImportError:  # plain least squares, negative terms dropped
        cols = list(range(X.shape[1]))
        while True:
            coef = np.zeros(X.shape[1])
            coef[cols] = np.linalg.lstsq(X[:, cols] * w[:, None], y * w, rcond=None)[0]
            neg = [c for c in cols if coef[c] < 0]
            if not neg:
                return coef
            cols.remove(neg[0])


def calibrate(family: str, quick: bool, verbose: bool = True) -> dict:
    nr = panel_rows("cortex-a73" if family == "aarch64" else "host")
    count = _count_module() if family == "aarch64" else None
    rows: dict[tuple[str, str], list] = {}
    with tempfile.TemporaryDirectory(prefix="hlfgen-spcal-") as tmp:
        work = Path(tmp)
        exe = build(family, work)
        for label, a in matrices(quick):
            for kname, kernel, br in (("dense", "dense", 0), ("csr", "csr", 0), ("bcsr4", "bcsr", 4), ("bcsr8", "bcsr", 8)):
                for op in ("gemv", "gemm"):
                    blob = record(kernel, op, a, nr, br)
                    u, r = units(kernel, a, nr, br)
                    nv = NV_GEMM if op == "gemm" else 1
                    if family == "aarch64":
                        cost = measure_aarch64(exe, blob, work, count) / nv
                    else:
                        cost = measure_host(exe, blob, work, u * nv) / nv
                    rows.setdefault((kname, op), []).append((label, u, r, cost))
                    if verbose:
                        print(f"{family} {kname:<6} {op} {label:<22} units {u:>7} rows {r:>5} cost {cost:>12.1f} "
                              f"per unit {cost / max(u, 1):.3f}", flush=True)
    fits = {}
    for key, data in rows.items():
        X = np.array([[u, r, 1.0] for _, u, r, _ in data])
        y = np.array([c for *_, c in data])
        coef = _nnls(X, y)
        pred = X @ coef
        fits[key] = {"abc": [round(float(v), 4) for v in coef],
                     "max_rel_residual": float(np.max(np.abs(pred - y) / y))}
    return {"family": family, "fits": {f"{k}/{o}": v for (k, o), v in fits.items()},
            "raw": {f"{k}/{o}": v for (k, o), v in rows.items()}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", default="both", choices=["aarch64", "host", "both"])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    fams = ["aarch64", "host"] if args.family == "both" else [args.family]
    results = [calibrate(f, args.quick, verbose=not args.json) for f in fams]
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    for res in results:
        print(f"\n_set_costs(\"{res['family']}\", {{")
        for key, fit in res["fits"].items():
            k, o = key.split("/")
            a, b, c = fit["abc"]
            print(f"    (\"{k}\", \"{o}\"): ({a:.4g}, {b:.4g}, {c:.4g}),  # max rel residual {fit['max_rel_residual']:.2f}")
        print("})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
