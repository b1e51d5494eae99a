"""Worker-process jobs of `hlfgen bench` (module level: they are pickled to spawned workers)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import time
from pathlib import Path

from .models import SIZES, STEPS, _file_hash, make_model


def _model_job(args) -> dict:
    size_name, scheme, cf, k, path, stamp = args
    path = Path(path)
    stamp_file = path.with_suffix(".stamp")
    t0 = time.perf_counter()
    if path.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return {"path": str(path), "seconds": 0.0, "cached": True}
    make_model(SIZES[size_name], scheme, cf, k, path)
    stamp_file.write_text(stamp)
    return {"path": str(path), "seconds": time.perf_counter() - t0, "cached": False}


# ---------------------------------------------------------------------------
# Builds (worker processes)
# ---------------------------------------------------------------------------


def _weight_split(prog) -> dict:
    """Weight bytes of the program split into input projections (W, one GEMM per run) and the rest
    (the arrays' own bytes: fp16 and int8 matrices, int8 row scales; W's scales are ``<W sym>_s``)."""
    w = r = 0
    for wa in prog.weights:
        nb = int(wa.data.nbytes)
        if "_W" in wa.symbol:
            w += nb
        else:
            r += nb
    for ia in prog.index_arrays:
        if "_W" in ia.symbol:
            w += int(ia.data.nbytes)
        else:
            r += int(ia.data.nbytes)
    return {
        "weight_bytes": int(prog.weight_bytes),
        "w_bytes": w,
        "r_bytes": r,
        "matrix_bytes": sum(int(m["bytes"]) for m in prog.matrices),
    }


def _gen_hash(out: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(list(out.glob("*.[chS]")) + list(out.glob("*.bin"))):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _build_job(args) -> dict:
    """generate + compile one model for one target in each sparse mode (identical C is compiled once),
    its weights stored as `quantize` says (none: fp32)."""
    from hlfgen.build import compile_out, generate

    model, target, modes, root, stamp, quantize = args
    model, root = Path(model), Path(root)
    results = {}
    seen: dict[str, str] = {}  # generated-C hash -> mode that compiled it
    qsuffix = "" if quantize == "none" else f"_{quantize}"
    for mode in modes:
        d = root / f"{model.stem}{qsuffix}.{target}.{mode}"
        info_file = d / "build.json"
        if info_file.exists():
            info = json.loads(info_file.read_text())
            if info.get("stamp") == stamp and Path(info["exe"]).exists():
                info["cached"] = True
                results[mode] = info
                seen.setdefault(info["c_hash"], mode)
                continue
        shutil.rmtree(d, ignore_errors=True)
        t0 = time.perf_counter()
        gen = generate(model, d / "out", target=target, max_seq_len=STEPS, sparse=mode, quantize=quantize)
        t1 = time.perf_counter()
        c_hash = _gen_hash(d / "out")
        c_bytes = sum(p.stat().st_size for p in (d / "out").glob("*.[chS]"))
        weights_fmt = "bin" if any((d / "out").glob("*_weights.bin")) else "c"
        info = {
            "stamp": stamp,
            "model": str(model),
            "target": target,
            "mode": mode,
            "quantize": quantize,
            "generate_s": t1 - t0,
            "c_hash": c_hash,
            "c_bytes": c_bytes,
            "weights_format": weights_fmt,
            "kernels": sorted({c["kernel"] for c in gen.program.sparse_choices}),
            "input_size": gen.model.layers[0].input_size,
            **_weight_split(gen.program),
        }
        if c_hash in seen:  # same C as another mode: same binary
            other = results[seen[c_hash]]
            info.update(exe=other["exe"], compile_s=0.0, same_as=seen[c_hash])
            if "exe_default" in other:
                info["exe_default"] = other["exe_default"]
        else:
            exe = compile_out(
                gen.out_dir,
                d / "build",
                target=target,
                werror=False,
                native=(target == "host"),
                static=(target != "host") or None,
            )
            info.update(exe=str(exe), compile_s=time.perf_counter() - t1)
            if target == "host":  # the build a user gets without flags (run-time kernel dispatch)
                info["exe_default"] = str(compile_out(gen.out_dir, d / "build-default", target=target, werror=False))
            seen[c_hash] = mode
        shutil.rmtree(d / "out", ignore_errors=True)  # the sources are big (float literals); the binary stays
        info_file.write_text(json.dumps(info))
        info["cached"] = False
        results[mode] = info
    return {"model": str(model), "target": target, "results": results}


def find_insn_count() -> Path | None:
    """bench/insn_count/count.py: $HLFGEN_BENCH_DIR, ./bench, or beside the hlfgen sources (a checkout)."""
    cands = []
    if os.environ.get("HLFGEN_BENCH_DIR"):
        cands.append(Path(os.environ["HLFGEN_BENCH_DIR"]))
    cands += [Path.cwd() / "bench", Path(__file__).resolve().parents[2] / "bench"]
    for c in cands:
        if (c / "insn_count" / "count.py").exists():
            return c / "insn_count" / "count.py"
    return None


def _count_job(args) -> dict:
    from .ort_aarch64 import QEMU_CPU

    exe, x_path, work, count_py, steps = args
    # The A73 is ARMv8.0 (no FP16 arithmetic, no dotprod): qemu emulates an ARMv8.0 core, so an instruction the
    # board lacks traps instead of being counted (as bench/quant.py and docs/quantization.md count).
    os.environ.setdefault("QEMU_CPU", "cortex-a72")
    info_file = Path(work) / "insn.json"
    # the plugin and the A73 model (count.py) are part of the key: a changed model is re-run
    here = Path(count_py).parent
    tools = hashlib.sha256(b"".join((here / n).read_bytes() for n in ("count.py", "insn_count.c", "qemu_plugin_api.h")))
    key = f"{_file_hash(Path(exe))}:{steps}:{QEMU_CPU}:{tools.hexdigest()[:12]}"
    if info_file.exists():
        old = json.loads(info_file.read_text())
        if old.get("exe_hash") == key:
            return dict(old, cached=True)
    spec = importlib.util.spec_from_file_location("hlf_insn_count", count_py)
    count = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(count)
    t0 = time.perf_counter()
    runs = []
    for r in (1, 2):
        out = Path(work) / f"insn_out{r}"
        out.mkdir(parents=True, exist_ok=True)
        res = count.count_instructions(
            [str(exe), "--input", f"X={x_path}", "--out-dir", str(out), "--repeat", str(r)],
            hist=False,
            memory=True,
            qemu_args=["-cpu", QEMU_CPU],  # an A73's ISA: glibc's string functions take no SVE path
        )
        if res.get("returncode", 0) != 0:
            raise RuntimeError(f"runner failed under qemu: {res}")
        runs.append(res)
    # one runner call's work (warm caches: the runner's warm-up run precedes both) = repeat 2 - repeat 1
    diff = {kind: {n: runs[1][kind][n] - runs[0][kind][n] for n in runs[0][kind]} for kind in ("classes", "cache")}
    est = count.a73_estimate(diff["classes"], diff["cache"])
    info = {
        "exe_hash": key,
        "insn_per_step": (runs[1]["total"] - runs[0]["total"]) / steps,
        "a73_us_per_step": est["seconds"] * 1e6 / steps,
        "a73": {
            "compute_us_per_step": est["compute_s"] * 1e6 / steps,
            "memory_us_per_step": est["memory_s"] * 1e6 / steps,
            "bound": est["bound"],
            "l2_bytes_per_step": est["l2_bytes"] / steps,
            "dram_bytes_per_step": est["dram_bytes"] / steps,
            "classes_per_step": {n: v / steps for n, v in diff["classes"].items()},
            "cache_per_step": {n: v / steps for n, v in diff["cache"].items()},
        },
        "steps": steps,
        "qemu_cpu": QEMU_CPU,
        "count_s": time.perf_counter() - t0,
    }
    info_file.write_text(json.dumps(info))
    return dict(info, cached=False)


def _ort_a64_count_job(args) -> dict:
    """onnxruntime-aarch64 instructions per step on one ONNX file (`hlfgen bench --ort-aarch64`)."""
    import numpy as np

    from .ort_aarch64 import count_insn

    paths, model, x_path, work, count_py, steps = args
    return count_insn(paths, Path(model), np.load(x_path), steps, Path(work), Path(count_py))


def _eq5(model: Path) -> dict:
    from hlfgen.inspect import inspect_model

    info = inspect_model(str(model))
    mats = [m for layer in info["layers"] for m in layer["matrices"]]
    dense = sum(m["shape"][0] * m["shape"][1] for m in mats)
    ops = sum(m["ops"] for m in mats)
    return {"dense_macs": dense, "macs": ops, "op_reduction": dense / ops}
