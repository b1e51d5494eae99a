"""Results of `hlfgen bench`: machine info, summary rows, issue 5's targets, the markdown report."""

from __future__ import annotations

import math
import os
import platform
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

from .models import SIZES, STEPS, cf_label
from .quantized import fmt_a73, quantized_markdown


def _git_state() -> dict:
    """Commit and modified files of the checkout the bench runs from (the bench dir's, the cwd's or,
    for an editable install, the sources'): an installed wheel has no .git of its own."""
    cands = [Path(os.environ["HLFGEN_BENCH_DIR"]).parent] if os.environ.get("HLFGEN_BENCH_DIR") else []
    cands += [Path.cwd(), Path(__file__).resolve().parents[2]]
    root = next((c for c in cands if (c / ".git").exists()), None)
    if root is None:
        return {}

    def git(*a):
        return subprocess.run(["git", "-C", str(root), *a], capture_output=True, text=True).stdout.rstrip()

    return {
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "modified": [line[3:] for line in git("status", "--porcelain").splitlines()],
    }


def machine_info(loadavg_at_start=None) -> dict:
    model = ""
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    gcc = (
        subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        if shutil.which("gcc")
        else ""
    )
    info = {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "gcc": gcc,
        "python": platform.python_version(),
        "hlfgen_source": _git_state(),
    }
    if loadavg_at_start is not None:
        info["loadavg_at_start"] = loadavg_at_start
    try:
        info["loadavg_at_end"] = os.getloadavg()
    except OSError:
        pass
    for mod in ("onnxruntime", "tract"):
        try:
            m = __import__(mod)
            info[mod] = m.version() if mod == "tract" else m.__version__
        except Exception:  # noqa: BLE001
            info[mod] = None
    return info


def phase_detail(rows) -> dict:
    d = {"model_s": sum({r["key"]: r["model_s"] for r in rows}.values())}
    for k in ("generate_s", "compile_s", "a73_generate_s", "a73_compile_s"):
        d[k] = sum(r.get(k, 0.0) for r in rows)
    d["slowest_compiles"] = sorted(
        (
            {
                "key": r["key"],
                "mode": r["mode"],
                "c_mb": round(r["c_bytes"] / 1e6, 1),
                "generate_s": round(r["generate_s"], 1),
                "compile_s": round(r["compile_s"], 1),
                "weights": r.get("weights_format"),
            }
            for r in rows
            if not r["cached"]
        ),
        key=lambda e: -e["compile_s"],
    )[:6]
    return d


# ---------------------------------------------------------------------------
# Summary, targets, outputs
# ---------------------------------------------------------------------------


def summarize(result: dict) -> list[dict]:
    """One row per (size, scheme, CF): pruned = its fastest mode (host) / fewest instructions (aarch64).
    fp32 builds only: the quantized ones are summarized by quantized.summarize_quantized."""
    rows = [r for r in result["rows"] if r.get("quantize", "none") == "none"]
    out = []
    dense = {r["size"]: r for r in rows if r["scheme"] == "dense"}
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["size"], r["scheme"], r["cf"]), []).append(r)
    extra = {}
    for (size, scheme, cf), rs in groups.items():
        sp = [r for r in rs if scheme == "pruned" and r["kernels"] and r["kernels"] != ["dense"]]
        if sp:  # the fastest build of the pruned model that runs sparse kernels (CSR/BCSR) at all
            extra[(size, "pruned-sparse", cf)] = sp
    groups.update(extra)
    for (size, scheme, cf), rs in groups.items():
        best = min(rs, key=lambda r: r["us_per_step"]["median"])
        d = dense[size]
        s = {
            "size": size,
            "scheme": scheme,
            "cf": cf,
            "cf_label": cf_label(cf),
            "mode": best["mode"],
            "kernels": best["kernels"],
            "weight_bytes": best["weight_bytes"],
            "us": best["us_per_step"],
            "speedup": d["us_per_step"]["median"] / best["us_per_step"]["median"],
            # the same from the fastest round of each (other jobs on the machine only ever add time)
            "speedup_min": d["us_per_step"]["min"] / min(r["us_per_step"]["min"] for r in rs),
            "eff_bw_gbs": best["eff_bw_gbs"],
            "probe_bw_gbs": best["probe_bw_gbs"],
        }
        if "default_us_per_step" in best:  # the unflagged build against the -march=native one
            s["default_us"] = best["default_us_per_step"]["median"]
            s["default_vs_native"] = s["default_us"] / best["us_per_step"]["median"]
            if "ort_us_per_step" in best:
                s["default_vs_ort"] = s["default_us"] / best["ort_us_per_step"]["median"]
        for base in ("ort", "tract"):
            if f"{base}_us_per_step" in best:
                s[f"{base}_us"] = best[f"{base}_us_per_step"]["median"]
                s[f"vs_{base}"] = best["us_per_step"]["median"] / s[f"{base}_us"]
                s[f"vs_{base}_min"] = min(r["us_per_step"]["min"] for r in rs) / best[f"{base}_us_per_step"]["min"]
        ins = [r for r in rs if "insn_per_step" in r]
        if ins and "insn_per_step" in d:
            bi = min(ins, key=lambda r: r["insn_per_step"])
            s["insn_per_step"] = bi["insn_per_step"]
            s["insn_mode"] = bi["mode"]
            s["insn_speedup"] = d["insn_per_step"] / bi["insn_per_step"]
            if bi.get("ort_a64_insn_per_step"):  # onnxruntime-aarch64 on the same ONNX file
                s["ort_a64_insn_per_step"] = bi["ort_a64_insn_per_step"]
                s["vs_ort_a64_insn"] = bi["insn_per_step"] / bi["ort_a64_insn_per_step"]
        est = [r for r in rs if "a73_us_per_step" in r]
        if est:  # the estimated HiKey 960 time of the mode with the smallest estimate
            be = min(est, key=lambda r: r["a73_us_per_step"])
            s["a73_us"], s["a73_mode"], s["a73_bound"] = be["a73_us_per_step"], be["mode"], be["a73"]["bound"]
        if "eq5" in best:
            s["eq5"] = best["eq5"]["op_reduction"]
        out.append(s)
    order = {k: i for i, k in enumerate(("dense", "small", "lmf", "hlf", "pruned", "pruned-sparse"))}
    out.sort(key=lambda s: (float(Fraction(s["cf"])) if s["cf"] else 0.0, order.get(s["scheme"], 3.5), s["scheme"]))
    return out


def _find(summary, size, scheme, cf):
    for s in summary:
        if s["size"] == size and s["scheme"] == scheme and s["cf"] == cf:
            return s
    return None


def evaluate_targets(result: dict) -> list[dict]:
    """Issue 5's targets, one entry per (target, size[, CF]): value, goal, met, margin."""
    summ = result["summary"]
    sizes, cfs = result["config"]["sizes"], result["config"]["cfs"]
    out = []

    def add(target, size, cf, value, goal, higher_is_better, what, value_min=None):
        if value is None or not math.isfinite(value):
            out.append(
                {
                    "target": target,
                    "size": size,
                    "cf": cf_label(cf) if cf else None,
                    "value": None,
                    "goal": goal,
                    "met": None,
                    "what": what,
                }
            )
            return
        met = value >= goal if higher_is_better else value <= goal
        # margin: how far from the goal, as a factor (>1 means it needs that much more)
        miss = goal / value if higher_is_better else value / goal
        met_min = None if value_min is None else (value_min >= goal if higher_is_better else value_min <= goal)
        out.append(
            {
                "target": target,
                "size": size,
                "cf": cf_label(cf) if cf else None,
                "value": value,
                "goal": goal,
                "met": met,
                "miss_factor": None if met else miss,
                "what": what,
                "value_min": value_min,
                "met_min": met_min,
            }
        )

    for size in sizes:
        d = _find(summ, size, "dense", None)
        add(
            "dense hlfgen/ORT <= 1.0",
            size,
            None,
            d.get("vs_ort"),
            1.0,
            False,
            "time ratio hlfgen/onnxruntime",
            d.get("vs_ort_min"),
        )
        add(
            "dense hlfgen/tract < 1.0",
            size,
            None,
            d.get("vs_tract"),
            1.0,
            False,
            "time ratio hlfgen/tract",
            d.get("vs_tract_min"),
        )
        if d.get("vs_ort_a64_insn") is not None:
            add(
                "dense hlfgen/ORT-aarch64 insns <= 0.95 (issue 11)",
                size,
                None,
                d["vs_ort_a64_insn"],
                0.95,
                False,
                "AArch64 instruction ratio hlfgen/onnxruntime-aarch64",
            )
        if "2.5" in cfs:
            h = _find(summ, size, "hlf", "2.5")
            v = 1 / h["vs_ort"] if h and h.get("vs_ort") else None
            vm = 1 / h["vs_ort_min"] if h and h.get("vs_ort_min") else None
            add(
                "HLF CF2.5: ORT/hlfgen >= 2", size, "2.5", v, 2.0, True, "onnxruntime time / hlfgen time, same file", vm
            )
        for cf in cfs:
            h, p = _find(summ, size, "hlf", cf), _find(summ, size, "pruned", cf)
            if h and p:
                add(
                    "HLF >= 1.5x best pruned (host)",
                    size,
                    cf,
                    p["us"]["median"] / h["us"]["median"],
                    1.5,
                    True,
                    "best pruned time / HLF time",
                    h["speedup_min"] / p["speedup_min"],
                )
                if "insn_per_step" in h and "insn_per_step" in p:
                    add(
                        "HLF >= 1.5x best pruned (aarch64 insns)",
                        size,
                        cf,
                        p["insn_per_step"] / h["insn_per_step"],
                        1.5,
                        True,
                        "best pruned insns / HLF insns",
                    )
            if h and h.get("eq5"):
                add(
                    "HLF speed-up >= 0.8x Eq. 5 (host)",
                    size,
                    cf,
                    h["speedup"] / h["eq5"],
                    0.8,
                    True,
                    "(dense time / HLF time) / Eq. 5",
                    h["speedup_min"] / h["eq5"],
                )
                if "insn_speedup" in h:
                    add(
                        "HLF speed-up >= 0.8x Eq. 5 (aarch64 insns)",
                        size,
                        cf,
                        h["insn_speedup"] / h["eq5"],
                        0.8,
                        True,
                        "(dense insns / HLF insns) / Eq. 5",
                    )
    return out


def _fmt_us(t: dict) -> str:
    return f"{t['median']:.3g} [{t['min']:.3g}-{t['max']:.3g}]"


def format_markdown(result: dict) -> str:
    m, cfg = result["machine"], result["config"]
    L = [
        "# hlfgen benchmark",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores; {m['gcc']}; onnxruntime {m['onnxruntime']}, tract {m['tract']}.",
        f"Batch 1, T = {cfg['steps']}, single thread. Host: portable kernels, `-O3 -march=native` (Release + "
        f"HLF_NATIVE); median [min-max] of {cfg['rounds']} interleaved rounds, each round a runner call "
        f"of ~{cfg['call_s'] * 1000:.0f} ms (`--repeat n` after the runner's untimed warm-up run). "
        "AArch64: NEON kernels, gcc `-mcpu=cortex-a73`, instructions per step under qemu `-cpu cortex-a72` "
        "(runner `--repeat 2` "
        f"minus `--repeat 1`, / T, at T = {cfg.get('insn_steps', STEPS)}).",
        "",
    ]
    L += [
        "Columns: *µs/step* hlfgen host time (`-march=native` build); *default µs/step* the same generated project "
        "built without flags (run-time kernel dispatch, runtime/hlf_dispatch.h), timed in the same interleaved "
        "rounds, *default/native* and *default/ORT* its ratios (medians); "
        "*x dense* speed-up over dense (time); */ORT*, */tract* hlfgen time "
        "divided by onnxruntime's / tract's time on the same ONNX file (< 1: hlfgen faster); *insn/step* AArch64 "
        "instructions; *A73 µs est.* estimated HiKey 960 time per step from those instructions by class and a cache "
        'model (compute- or memory-bound; docs/benchmarks.md, "Estimated HiKey 960 time"); '
        "*x dense insn* speed-up over dense in instructions; *Eq. 5* the operation reduction; "
        "*BW* weight bytes streamed per step (R every step, W once per T-step GEMM) / time, against the read "
        "bandwidth probe over a buffer of the model's weight bytes. *pruned* is the fastest of `--sparse auto`, "
        "`csr`, `block` (the mode is given; instructions take their own best mode).",
        "",
    ]
    a64 = bool(cfg.get("ort_aarch64"))
    if a64:
        L += [
            f"*ORT-aarch64 insn/step*: onnxruntime {cfg['ort_aarch64']} (linux/arm64 library of the npm package "
            "onnxruntime-node, C API, 1 thread) on the same ONNX file under qemu `-cpu cortex-a72` (the A73's "
            "ISA), same T and repeat difference; */ORT-a64 insn* hlfgen's instructions divided by those "
            "(pruned files are not run: onnxruntime runs them densely).",
            "",
        ]
    summ = result["summary"]
    for size in cfg["sizes"]:
        L += [
            f"## {SIZES[size].label} (`{size}`)",
            "",
            "| scheme | CF | weights KB | µs/step | x dense | /ORT | /tract | default µs/step | default/native "
            "| default/ORT | insn/step | A73 µs est. | x dense insn "
            "| Eq. 5 | BW GB/s | probe GB/s |" + (" ORT-aarch64 insn/step | /ORT-a64 insn |" if a64 else ""),
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if a64 else ""),
        ]
        for s in [s for s in summ if s["size"] == size]:

            def g(key, fmt="{:.2f}"):
                return fmt.format(s[key]) if s.get(key) is not None else "n/a"

            name = s["scheme"] + (
                f" ({s['mode']}: {'+'.join(s['kernels']) or 'dense'})" if s["scheme"].startswith("pruned") else ""
            )
            L.append(
                f"| {name} | {s['cf_label']} | {s['weight_bytes'] / 1024:.0f} | {_fmt_us(s['us'])} | "
                f"{s['speedup']:.2f} | {g('vs_ort')} | {g('vs_tract')} | {g('default_us', '{:.3g}')} | "
                f"{g('default_vs_native')} | {g('default_vs_ort')} | {g('insn_per_step', '{:.0f}')} | "
                f"{fmt_a73(s)} | {g('insn_speedup')} | {g('eq5')} | {s['eff_bw_gbs']:.1f} | {g('probe_bw_gbs', '{:.1f}')} |"
                + (f" {g('ort_a64_insn_per_step', '{:.0f}')} | {g('vs_ort_a64_insn')} |" if a64 else "")
            )
        L.append("")
    L += quantized_markdown(result)
    L += [
        "## Targets (issue 5)",
        "",
        "*value* from the medians (the verdict); *fastest rounds* the same ratio from each variant's fastest "
        "round, for host times (other jobs on the machine only ever add time).",
        "",
        "| target | size | CF | value | goal | result | fastest rounds |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in result["targets"]:
        if t["met"] is None:
            res = "n/a"
        elif t["met"]:
            res = "met"
        else:
            res = f"**missed** (x{t['miss_factor']:.2f} short)"
        val = "n/a" if t["value"] is None else f"{t['value']:.2f}"
        vm = t.get("value_min")
        vm = "" if vm is None else f"{vm:.2f} ({'met' if t['met_min'] else 'missed'})"
        L.append(f"| {t['target']} | {t['size']} | {t['cf'] or ''} | {val} | {t['goal']} | {res} | {vm} |")
    met = sum(1 for t in result["targets"] if t["met"])
    tot = sum(1 for t in result["targets"] if t["met"] is not None)
    met_min = sum(1 for t in result["targets"] if t.get("met_min") or (t.get("value_min") is None and t["met"]))
    L += ["", f"{met} of {tot} met ({met_min} by the fastest rounds).", "", "## Phases", ""]
    ph, pd = result["phases"], result["phase_detail"]
    L += [
        f"- models: {ph['models']:.1f} s wall",
        f"- builds + instruction counts: {ph['builds']:.1f} s wall "
        f"(generate host {pd['generate_s']:.0f} s + aarch64 {pd['a73_generate_s']:.0f} s, compile host "
        f"{pd['compile_s']:.0f} s + aarch64 {pd['a73_compile_s']:.0f} s, summed over {cfg['jobs']} workers)",
        f"- timing: {ph['timing']:.1f} s wall",
        f"- total: {ph['total']:.1f} s",
        "",
    ]
    if pd["slowest_compiles"]:
        L += ["Slowest host builds (generated C size, generate and compile seconds):", ""]
        L += [
            f"- {e['key']} ({e['mode']}, weights {e['weights']}): {e['c_mb']} MB of C/asm, generate {e['generate_s']} s, "
            f"compile {e['compile_s']} s"
            for e in pd["slowest_compiles"]
        ]
        L.append("")
    for fl in result.get("failures", []):
        L.append(f"- FAILED {fl['what']} {fl['key']} {fl['target']}: {fl['error'].splitlines()[-1][:200]}")
    L += [f"Plot: {result.get('plot')}", ""]
    return "\n".join(L)
