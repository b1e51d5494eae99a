"""`hlfgen bench --quantize`: the fp16 and int8 builds of the dense and HLF models against their fp32 build.

The measured fields are the rows' own (run.py): weight bytes (``prog.weight_bytes``, the model's
NAME_WEIGHT_BYTES: packed matrices, int8 row scales, biases) of the cortex-a73 build, AArch64 instructions
per step (the instruction-count job on that build) and host time per step.  Here they become one entry per
(size, scheme, CF, weights) with their ratios to the fp32 build of the same model and mode.

The bytes are the cortex-a73 build's (the board's; the build whose instructions are counted) when there
is one (not with --no-insn): a quantized matrix is stored in whole panels of nr rows (fp32 ones unpadded),
and the host's portable kernels have nr = 16 against NEON's 8, so a host build's fp16 / int8 bytes are a
little larger (``host_weight_bytes``).  The estimated HiKey 960 time (``a73_us``, the qemu plugin's cache
model, docs/benchmarks.md) is the cortex-a73 build's, with what bounds it (issue or memory).
"""

from __future__ import annotations

from fractions import Fraction

from .models import QUANT_MODES, SIZES, cf_label

LABELS = {"none": "fp32", "fp16": "fp16", "int8": "int8"}


def _quant(row: dict) -> str:
    return row.get("quantize", "none")  # a bench.json from before --quantize: every row fp32


def summarize_quantized(result: dict) -> list[dict]:
    """Each size's dense and HLF builds, fp32 first, when any quantized one was measured; else []."""
    rows = result["rows"]
    quantized = {(r["size"], r["scheme"], r["cf"], r["mode"]) for r in rows if _quant(r) != "none"}
    if not quantized:
        return []
    base = {(r["size"], r["scheme"], r["cf"], r["mode"]): r for r in rows if _quant(r) == "none"}
    out = []
    for r in rows:
        k = (r["size"], r["scheme"], r["cf"], r["mode"])
        if k not in quantized or k not in base:
            continue
        b = base[k]
        target = "cortex-a73" if "a73_weight_bytes" in r and "a73_weight_bytes" in b else "host"
        nbytes, nbase = (
            (r["a73_weight_bytes"], b["a73_weight_bytes"])
            if target != "host"
            else (r["weight_bytes"], b["weight_bytes"])
        )
        e = {
            "size": r["size"],
            "scheme": r["scheme"],
            "cf": r["cf"],
            "cf_label": cf_label(r["cf"]),
            "mode": r["mode"],
            "quantize": _quant(r),
            "weights": LABELS[_quant(r)],
            "weight_bytes": nbytes,
            "bytes_vs_fp32": nbytes / nbase,
            "bytes_target": target,
            "host_weight_bytes": r["weight_bytes"],
            "host_bytes_vs_fp32": r["weight_bytes"] / b["weight_bytes"],
            "us": r["us_per_step"],
            "time_vs_fp32": r["us_per_step"]["median"] / b["us_per_step"]["median"],
            "time_vs_fp32_min": r["us_per_step"]["min"] / b["us_per_step"]["min"],
        }
        if r.get("matrix_bytes") is not None:
            e["matrix_bytes"] = r["matrix_bytes"]
        if "insn_per_step" in r:
            e["insn_per_step"] = r["insn_per_step"]
            if "insn_per_step" in b:
                e["insn_vs_fp32"] = r["insn_per_step"] / b["insn_per_step"]
        if r.get("a73_us_per_step") is not None:
            e["a73_us"], e["a73_bound"] = r["a73_us_per_step"], r["a73"]["bound"]
            if b.get("a73_us_per_step") is not None:
                e["a73_vs_fp32"] = r["a73_us_per_step"] / b["a73_us_per_step"]
        out.append(e)
    order = {q: i for i, q in enumerate(QUANT_MODES)}
    sizes = {s: i for i, s in enumerate(result["config"]["sizes"])}
    out.sort(
        key=lambda e: (
            sizes.get(e["size"], len(sizes)),
            float(Fraction(e["cf"])) if e["cf"] else 0.0,
            e["scheme"],
            order[e["quantize"]],
        )
    )
    return out


def fmt_a73(s: dict) -> str:
    """'12.3 (mem)': an entry's estimated HiKey 960 time and what bounds it (issue, fpsimd, ldst,
    branch or memory); the summary tables (report.py) print theirs the same way."""
    if s.get("a73_us") is None:
        return "n/a"
    bound = {"memory": "mem"}.get(s["a73_bound"], s["a73_bound"])
    return f"{s['a73_us']:.3g} ({bound})"


def quantized_markdown(result: dict) -> list[str]:
    """The "Quantized weights" section of benchmarks.md (no lines when nothing was quantized)."""
    entries = result.get("quantized") or []
    if not entries:
        return []
    L = [
        "## Quantized weights",
        "",
        "`--quantize`: the dense and HLF models built with fp16 or int8 weight matrices (docs/quantization.md; "
        "biases, states and activations stay fp32). *weight bytes* every array the model reads (NAME_WEIGHT_BYTES: "
        "matrices, int8 row scales, biases) in the cortex-a73 build (marked *host* where there is none; a host "
        "build pads quantized matrices to 16-row panels, NEON to 8: bench.json has both); *insn/step* AArch64 instructions (cortex-a73 build, qemu as "
        "above); *A73 µs est.* the estimated HiKey 960 time per step of that build (issue- or memory-bound, "
        "docs/benchmarks.md); *µs/step* host time (portable kernels, timed in the same interleaved rounds as the "
        "fp32 build); each *x fp32* is the value divided by the fp32 build's of the same model (< 1: fewer "
        "bytes, instructions or µs).",
        "",
        "| size | scheme | CF | weights | weight bytes | x fp32 | insn/step | x fp32 | A73 µs est. | x fp32 "
        "| µs/step | x fp32 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:

        def g(key, fmt="{:.3f}"):
            return fmt.format(e[key]) if e.get(key) is not None else "n/a"

        u = e["us"]
        L.append(
            f"| {SIZES[e['size']].label if e['size'] in SIZES else e['size']} | {e['scheme']} | {e['cf_label']} | "
            f"{e['weights']} | {e['weight_bytes']:,}{' (host)' if e['bytes_target'] == 'host' else ''} | "
            f"{e['bytes_vs_fp32']:.3f} | {g('insn_per_step', '{:,.0f}')} | "
            f"{g('insn_vs_fp32')} | {fmt_a73(e)} | {g('a73_vs_fp32')} | "
            f"{u['median']:.3g} [{u['min']:.3g}-{u['max']:.3g}] | {e['time_vs_fp32']:.2f} |"
        )
    L.append("")
    return L
