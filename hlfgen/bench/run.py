"""The `hlfgen bench` run: models -> builds (+ instruction counts) -> timing -> bench.json, benchmarks.md, PNG."""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import os
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import numpy as np

from .jobs import _build_job, _count_job, _eq5, _model_job, _ort_a64_count_job, find_insn_count
from .models import (
    CFS,
    INSN_STEPS,
    MODELS_VERSION,
    QUICK_CFS,
    QUANT_MODES,
    QUICK_SIZES,
    SIZES,
    STEPS,
    _file_hash,
    cf_label,
    hlfgen_fingerprint,
    log,
    variants,
)
from .plot import write_plot
from .quantized import summarize_quantized
from .report import evaluate_targets, format_markdown, machine_info, phase_detail, summarize
from .timing import (
    _ort_call,
    _runner_call,
    _stats,
    _Timed,
    _tract_call,
    build_bw_probe,
    probe_bandwidth,
    time_interleaved,
)


def run_bench(
    out_dir: str | os.PathLike = "bench-out",
    *,
    sizes=None,
    cfs=None,
    ks=(1,),
    quick: bool = False,
    rounds: int | None = None,
    call_s: float | None = None,
    jobs: int | None = None,
    insn: bool = True,
    baselines: bool = True,
    plot: bool = True,
    insn_steps: int = INSN_STEPS,
    quantize=("none",),
    ort_aarch64: bool = False,
) -> dict:
    t_start = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    work = out_dir / "work"
    (work / "models").mkdir(parents=True, exist_ok=True)
    (work / "builds").mkdir(parents=True, exist_ok=True)
    sizes = list(sizes or (QUICK_SIZES if quick else SIZES))
    for s in sizes:
        if s not in SIZES:
            raise ValueError(f"unknown size {s!r} (choose from {', '.join(SIZES)})")
    cfs = [str(c) for c in (cfs or (QUICK_CFS if quick else CFS))]
    rounds = rounds or (3 if quick else 7)
    call_s = call_s or (0.02 if quick else 0.05)
    jobs = jobs or os.cpu_count() or 2
    fp = hlfgen_fingerprint()
    quantize = [q for q in QUANT_MODES if q in set(quantize) | {"none"}]  # fp32 always: the ratios' base
    vs = variants(sizes, cfs, ks, quantize)
    phases: dict[str, float] = {}
    try:
        load_start = os.getloadavg()
    except OSError:
        load_start = None
    count_py = find_insn_count() if insn else None
    if insn and count_py is None:
        log("bench/insn_count not found (run from a checkout or set HLFGEN_BENCH_DIR): no instruction counts")
    if insn and not (shutil.which("qemu-aarch64") and shutil.which("aarch64-linux-gnu-gcc")):
        log("qemu-aarch64 or aarch64-linux-gnu-gcc missing: no instruction counts")
        count_py = None
    targets = ["host"] + (["cortex-a73"] if count_py else [])
    ort_a64 = None  # paths of the onnxruntime-aarch64 runner (set up once, here: it may download)
    if ort_aarch64 and count_py:
        from .ort_aarch64 import OrtAarch64Error, setup

        try:
            ort_a64 = setup()
            log(f"onnxruntime-aarch64 {ort_a64['version']}: {ort_a64['lib']}")
        except OrtAarch64Error as e:
            log(f"no ORT-aarch64 column: {e}")
    elif ort_aarch64:
        log("no ORT-aarch64 column: instruction counts are off")

    # -- phase 1: ONNX models
    t0 = time.perf_counter()
    cpu_m = _cpu_s()
    model_path = {v.key: work / "models" / f"{v.model_key}.onnx" for v in vs}  # quantized: the fp32 file
    mvs = [v for v in vs if v.quantize == "none"]  # one per ONNX file (each quantized variant has its fp32 one)
    margs = [
        (v.size, v.scheme.split("-")[0], v.cf, v.k, str(model_path[v.key]), f"{fp}:{MODELS_VERSION}:{v}") for v in mvs
    ]
    file_s: dict[str, float] = {}
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for v, res in zip(mvs, pool.map(_model_job, margs)):
            file_s[v.model_key] = res["seconds"]
    model_s = {v.key: file_s[v.model_key] if v.quantize == "none" else 0.0 for v in vs}
    phases["models"] = time.perf_counter() - t0
    phases["models_cpu"] = _cpu_s() - cpu_m
    log(f"models: {len(mvs)} ONNX files in {phases['models']:.1f} s")

    # -- phase 2: builds (+ instruction counts as the aarch64 builds finish)
    t0 = time.perf_counter()
    cpu0 = _cpu_s()
    x_paths, xi_paths = {}, {}
    for s in sizes:
        x = np.random.default_rng(1).standard_normal((STEPS, 1, SIZES[s].input_size)).astype(np.float32)
        x_paths[s] = work / f"x_{s}.npy"
        np.save(x_paths[s], x)
        xi_paths[s] = work / f"x_{s}_insn.npy"
        np.save(xi_paths[s], x[:insn_steps])
    failures: list[dict] = []
    n_counts = 0
    builds: dict[tuple[str, str], dict] = {}  # (variant key, target) -> {mode: info}
    counts: dict[tuple[str, str], dict] = {}  # (variant key, mode) -> insn info
    # biggest models first: the pool stays busy till the end
    order = sorted(((v, t) for v in vs for t in targets), key=lambda vt: -model_path[vt[0].key].stat().st_size)
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = {}
        for v, t in order:
            stamp = f"{fp}:{_file_hash(model_path[v.key])}:{t}" + ("" if v.quantize == "none" else f":{v.quantize}")
            bargs = (str(model_path[v.key]), t, v.modes, str(work / "builds"), stamp, v.quantize)
            f = pool.submit(_build_job, bargs)
            pending[f] = ("build", v, t)
        if ort_a64:  # onnxruntime runs pruned files densely: their count is dense's, not measured again
            for v in vs:
                if v.scheme != "pruned":
                    wd = work / "ort_aarch64" / v.key
                    args = (ort_a64, str(model_path[v.key]), str(xi_paths[v.size]), str(wd), str(count_py), insn_steps)
                    pending[pool.submit(_ort_a64_count_job, args)] = ("ort-aarch64", v, "cortex-a72")
        ort_counts: dict[str, dict] = {}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                what, v, t = pending.pop(f)
                try:
                    res = f.result()
                except Exception as e:  # noqa: BLE001 - one failed variant does not stop the run
                    log(f"FAILED {what} {v.key} {t}: {str(e).strip()[-400:]}")
                    failures.append({"what": what, "key": v.key, "target": t, "error": str(e).strip()[-2000:]})
                    continue
                if what == "build":
                    builds[(v.key, t)] = res["results"]
                    if t != "host":
                        for mode, info in res["results"].items():
                            wd = Path(info["exe"]).parent.parent / "insn"
                            g = pool.submit(
                                _count_job, (info["exe"], str(xi_paths[v.size]), str(wd), str(count_py), insn_steps)
                            )
                            pending[g] = ("count", v, mode)
                            n_counts += 1
                    log(
                        f"built {v.key} {t} "
                        + ", ".join(
                            f"{m}: gen {i['generate_s']:.1f} s cc {i['compile_s']:.1f} s"
                            + (" (cached)" if i["cached"] else "")
                            for m, i in res["results"].items()
                        )
                    )
                elif what == "ort-aarch64":
                    ort_counts[v.key] = res
                    log(
                        f"ORT-aarch64 {v.key}: {res['insn_per_step']:.0f} insn/step"
                        + (" (cached)" if res["cached"] else "")
                    )
                else:
                    counts[(v.key, t)] = res
                    if len(counts) % 20 == 0 or len(counts) == n_counts:
                        log(f"instruction counts: {len(counts)} done")
    phases["builds"] = time.perf_counter() - t0
    phases["builds_cpu"] = _cpu_s() - cpu0
    vs = [v for v in vs if (v.key, "host") in builds and (v.size, "dense") in {(w.size, w.scheme) for w in vs}]
    dense_ok = {v.size for v in vs if v.scheme == "dense"}
    vs = [v for v in vs if v.size in dense_ok]
    sizes = [s for s in sizes if s in dense_ok]
    log(f"builds and instruction counts: {phases['builds']:.1f} s")

    # -- phase 3: timing, one size at a time, all its variants interleaved
    t0 = time.perf_counter()
    probe = build_bw_probe(work)
    have_ort = baselines and importlib.util.find_spec("onnxruntime") is not None
    have_tract = baselines and importlib.util.find_spec("tract") is not None
    if baselines and not have_tract:
        log("tract not installed (pip install 'hlfgen[bench]'): no tract column")
    timings: dict[str, dict] = {}
    bw: dict[int, float] = {}
    for s in sizes:
        x = np.load(x_paths[s])
        items = []
        done_exes: dict[str, str] = {}
        for v in [v for v in vs if v.size == s]:
            for mode, info in builds[(v.key, "host")].items():
                if info["exe"] in done_exes:  # same binary as another mode: same time
                    continue
                done_exes[info["exe"]] = f"hlfgen:{v.key}:{mode}"
                items.append(
                    _Timed(f"hlfgen:{v.key}:{mode}", _runner_call(Path(info["exe"]), x, work / "run_out" / v.key))
                )
                if info.get("exe_default"):  # the unflagged build of the same C, in the same rounds
                    items.append(
                        _Timed(
                            f"hlfgen-default:{v.key}:{mode}",
                            _runner_call(Path(info["exe_default"]), x, work / "run_out" / v.key),
                        )
                    )
            if v.quantize != "none":  # onnxruntime and tract run the fp32 file: timed once, with the fp32 build
                continue
            if have_ort:
                items.append(_Timed(f"ort:{v.key}", _ort_call(model_path[v.key], x)))
            if have_tract:
                try:
                    items.append(_Timed(f"tract:{v.key}", _tract_call(model_path[v.key], x)))
                except Exception as e:  # noqa: BLE001 - tract refuses some models: n/a
                    log(f"tract cannot run {v.key}: {str(e).splitlines()[0][:120]}")
        log(f"timing {s}: {len(items)} items x {rounds} rounds")
        time_interleaved(items, rounds, call_s)
        for it in items:
            timings[it.key] = _stats(it.samples)
        for v in [v for v in vs if v.size == s]:
            for mode, info in builds[(v.key, "host")].items():
                timings.setdefault(f"hlfgen:{v.key}:{mode}", timings[done_exes[info["exe"]]])
                first = done_exes[info["exe"]].replace("hlfgen:", "hlfgen-default:", 1)
                if first in timings:
                    timings.setdefault(f"hlfgen-default:{v.key}:{mode}", timings[first])
        wb = sorted(
            {builds[(v.key, "host")][m]["weight_bytes"] for v in vs if v.size == s for m in builds[(v.key, "host")]}
        )
        bw.update(probe_bandwidth(probe, wb))
    phases["timing"] = time.perf_counter() - t0
    log(f"timing: {phases['timing']:.1f} s")

    # -- results
    rows = []
    eq5 = {}
    for v in vs:
        if v.scheme.startswith("hlf") or v.scheme == "lmf":
            eq5[v.key] = eq5.get(v.model_key) or _eq5(model_path[v.key])
        for mode, info in builds[(v.key, "host")].items():
            t = timings[f"hlfgen:{v.key}:{mode}"]
            streamed = info["r_bytes"] + info["w_bytes"] / STEPS
            row = {
                "size": v.size,
                "scheme": v.scheme,
                "cf": v.cf,
                "cf_label": cf_label(v.cf),
                "mode": mode,
                "quantize": v.quantize,
                "key": v.key,
                "kernels": info["kernels"],
                "same_as": info.get("same_as"),
                "weight_bytes": info["weight_bytes"],
                "matrix_bytes": info.get("matrix_bytes"),
                "streamed_bytes_per_step": streamed,
                "us_per_step": t,
                "c_bytes": info["c_bytes"],
                "generate_s": info["generate_s"],
                "compile_s": info["compile_s"],
                "cached": info["cached"],
                "model_s": model_s[v.key],
                "weights_format": info.get("weights_format"),
            }
            a = builds.get((v.key, "cortex-a73"), {}).get(mode)
            if a:
                row["a73_generate_s"], row["a73_compile_s"] = a["generate_s"], a["compile_s"]
                row["a73_weight_bytes"] = a["weight_bytes"]  # quantized: fewer padding rows than host's (nr 8 vs 16)
                c = counts.get((v.key, mode))
                if c:
                    row["insn_per_step"] = c["insn_per_step"]
                    if "a73_us_per_step" in c:
                        row["a73_us_per_step"], row["a73"] = c["a73_us_per_step"], c["a73"]
            if v.key in ort_counts:
                row["ort_a64_insn_per_step"] = ort_counts[v.key]["insn_per_step"]
            if f"hlfgen-default:{v.key}:{mode}" in timings:  # the unflagged build (run-time dispatch)
                row["default_us_per_step"] = timings[f"hlfgen-default:{v.key}:{mode}"]
            for base in ("ort", "tract"):
                if f"{base}:{v.key}" in timings:
                    row[f"{base}_us_per_step"] = timings[f"{base}:{v.key}"]
            probe_gbs = bw.get(info["weight_bytes"])
            row["eff_bw_gbs"] = streamed / (t["median"] * 1e-6) / 1e9
            row["probe_bw_gbs"] = probe_gbs
            if v.key in eq5:
                row["eq5"] = eq5[v.key]
            rows.append(row)
    result = {
        "machine": machine_info(load_start),
        "config": {
            "sizes": sizes,
            "cfs": cfs,
            "ks": list(ks),
            "steps": STEPS,
            "batch": 1,
            "rounds": rounds,
            "call_s": call_s,
            "jobs": jobs,
            "quick": quick,
            "insn": bool(count_py),
            "insn_steps": insn_steps,
            "quantize": quantize,
            "ort": have_ort,
            "tract": have_tract,
            "ort_aarch64": ort_a64["version"] if ort_a64 else None,
        },
        "rows": rows,
        "failures": failures,
    }
    result["summary"] = summarize(result)
    result["quantized"] = summarize_quantized(result)
    result["targets"] = evaluate_targets(result)
    phases["total"] = time.perf_counter() - t_start
    result["phases"] = phases
    result["phase_detail"] = phase_detail(rows)
    (out_dir / "bench.json").write_text(json.dumps(result, indent=1))
    png = out_dir / "figure2.png"
    plotted = write_plot(result, png) if plot else "plot disabled"
    result["plot"] = plotted
    (out_dir / "benchmarks.md").write_text(format_markdown(result))
    (out_dir / "bench.json").write_text(json.dumps(result, indent=1))
    log(f"wrote {out_dir / 'benchmarks.md'}, {out_dir / 'bench.json'}; total {phases['total']:.1f} s")
    return result


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (workers, compilers, qemu: all waited for)."""
    import resource

    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def rerender(out_dir: str | os.PathLike, plot: bool = True) -> dict:
    """Re-derive the summary, targets, markdown and PNG from OUT/bench.json (no measuring)."""
    out_dir = Path(out_dir)
    result = json.loads((out_dir / "bench.json").read_text())
    result["summary"] = summarize(result)
    result["quantized"] = summarize_quantized(result)
    result["targets"] = evaluate_targets(result)
    result["plot"] = write_plot(result, out_dir / "figure2.png") if plot else "plot disabled"
    (out_dir / "benchmarks.md").write_text(format_markdown(result))
    (out_dir / "bench.json").write_text(json.dumps(result, indent=1))
    return result


def main_args(args) -> int:
    """`hlfgen bench` (cli.py parses, this runs)."""
    if args.report_only:
        res = rerender(args.out, plot=not args.no_plot)
        print(f"rewrote {Path(args.out) / 'benchmarks.md'} from bench.json")
        return 0
    res = run_bench(
        args.out,
        sizes=args.sizes,
        cfs=args.cf,
        ks=tuple(args.k),
        quick=args.quick,
        rounds=args.rounds,
        insn_steps=args.insn_steps,
        call_s=args.call_ms / 1000 if args.call_ms else None,
        jobs=args.jobs,
        insn=not args.no_insn,
        baselines=not args.no_baselines,
        plot=not args.no_plot,
        quantize=args.quantize,
        ort_aarch64=args.ort_aarch64,
    )
    missed = [t for t in res["targets"] if t["met"] is False]
    print(
        f"wrote {Path(args.out) / 'benchmarks.md'} and bench.json; targets: "
        f"{sum(1 for t in res['targets'] if t['met'])} met, {len(missed)} missed; "
        f"total {res['phases']['total']:.0f} s"
    )
    return 0
