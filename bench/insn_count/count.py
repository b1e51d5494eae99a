#!/usr/bin/env python3
"""Count executed AArch64 instructions of a program under qemu-user.

Builds the TCG plugin insn_count.c (host shared library) into a cache
directory, runs a guest program under ``qemu-aarch64 -plugin``, and returns
the executed-instruction counts: in total, per symbol / address range, and a
mnemonic histogram per symbol / range.

Library use (tests, benchmarks)::

    from count import count_instructions
    res = count_instructions(["./gemv_bench", "10"], symbols=["hlf_f32_gemv_acc"])
    res["total"]                         # whole program
    res["regions"]["hlf_f32_gemv_acc"]   # inside that function
    res["hist"]["hlf_f32_gemv_acc"]      # {"fmla": ..., "ldp": ...}

CLI::

    python3 bench/insn_count/count.py --sym hlf_f32_gemv_acc [--range LO-HI[:LABEL]]
        [--no-hist] [--json] -- ./prog args...

Symbols are resolved to address ranges with ``aarch64-linux-gnu-nm -S
--defined-only`` when the program is a fixed-address (ET_EXEC, e.g. ``-static``)
executable; for a position-independent one the plugin matches QEMU's own
symbol lookup instead (``sym=``), which does not depend on the load address.

``memory=True`` (CLI ``--a73``) also counts instructions by class and feeds
every load/store through the plugin's L1D/L2 cache model; ``a73_estimate``
turns those counts into an estimated Cortex-A73 (HiKey 960) time with the
constants of ``A73`` (see README.md and docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLUGIN_SOURCES = (HERE / "insn_count.c", HERE / "qemu_plugin_api.h")

QEMU = os.environ.get("HLF_QEMU_AARCH64", "qemu-aarch64")
SYSROOT = os.environ.get("HLF_AARCH64_SYSROOT", "/usr/aarch64-linux-gnu")
NM = os.environ.get("HLF_AARCH64_NM", "aarch64-linux-gnu-nm")
HOST_CC = os.environ.get("HLF_HOST_CC", "gcc")

ELF_ET_EXEC = 2


class InsnCountError(RuntimeError):
    """The plugin could not be built, the program failed, or no report came."""


def cache_dir() -> Path:
    """Where the built plugin is kept: $HLF_INSN_COUNT_CACHE, else the XDG cache."""
    env = os.environ.get("HLF_INSN_COUNT_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hlfgen" / "insn_count"


def build_plugin(cache: Path | None = None, cc: str = HOST_CC) -> Path:
    """Builds libinsn-<hash>.so (hash of sources and compiler) unless cached; returns its path."""
    cache = Path(cache) if cache is not None else cache_dir()
    digest = hashlib.sha256(cc.encode())
    for src in PLUGIN_SOURCES:
        digest.update(src.read_bytes())
    lib = cache / f"libinsn-{digest.hexdigest()[:16]}.so"
    if lib.exists():
        return lib
    cache.mkdir(parents=True, exist_ok=True)
    # Build under a temporary name and rename: concurrent builders never see
    # a half-written library.
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=cache)
    os.close(fd)
    cmd = [cc, "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-std=gnu11",
           "-Wall", "-Wextra", "-Werror", "-o", tmp, str(HERE / "insn_count.c")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        os.unlink(tmp)
        raise InsnCountError(f"building the plugin failed: {' '.join(cmd)}\n{proc.stderr}")
    os.replace(tmp, lib)
    return lib


def elf_is_fixed_address(path: str | os.PathLike) -> bool:
    """True for an ET_EXEC ELF (addresses in nm are the run-time addresses)."""
    with open(path, "rb") as f:
        head = f.read(18)
    if len(head) < 18 or head[:4] != b"\x7fELF":
        raise InsnCountError(f"{path} is not an ELF file")
    return int.from_bytes(head[16:18], "little") == ELF_ET_EXEC


def symbol_ranges(binary: str | os.PathLike, nm: str = NM) -> dict[str, list[tuple[int, int]]]:
    """{name: [(lo, hi), ...]} of the defined sized symbols (a local name may repeat)."""
    proc = subprocess.run([nm, "-S", "--defined-only", str(binary)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise InsnCountError(f"{nm} failed on {binary}: {proc.stderr}")
    out: dict[str, list[tuple[int, int]]] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) != 4:  # symbols without a size have 3 fields
            continue
        addr, size, _kind, name = parts
        lo = int(addr, 16)
        hi = lo + int(size, 16)
        if hi > lo:
            out.setdefault(name, []).append((lo, hi))
    return out


def parse_report(text: str) -> dict:
    """Parses the plugin's 'insn_count ...' lines (labels repeat: counts add up)."""
    total = None
    labels: dict[int, str] = {}
    regions: dict[str, int] = {}
    hist: dict[str, dict[str, int]] = {}
    classes: dict[str, int] = {}
    cache: dict[str, int] = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) < 3 or f[0] != "insn_count":
            continue
        if f[1] == "total":
            total = int(f[2])
        elif f[1] in ("class", "cache") and len(f) == 4:
            (classes if f[1] == "class" else cache)[f[2]] = int(f[3])
        elif f[1] == "region" and len(f) == 7:
            idx, label, count = int(f[2]), f[3], int(f[6])
            labels[idx] = label
            regions[label] = regions.get(label, 0) + count
        elif f[1] == "hist" and len(f) == 5:
            idx, mnemonic, count = int(f[2]), f[3], int(f[4])
            key = {-1: "*", -2: "(overflow)"}.get(idx) or labels.get(idx, str(idx))
            h = hist.setdefault(key, {})
            h[mnemonic] = h.get(mnemonic, 0) + count
    if total is None:
        raise InsnCountError("no 'insn_count total' line in the plugin report")
    out = {"total": total, "regions": regions, "hist": hist}
    if classes or cache:
        out.update(classes=classes, cache=cache)
    return out


# The Cortex-A73 (HiKey 960) time model: a roofline over the counts of a
# mem=on run.  Every number is an assumption; docs/benchmarks.md ("Estimated
# HiKey 960 time") gives the sources.
A73 = {
    "clock_hz": 2.36e9,  # HiKey 960's A73 cluster at its top OPP
    "issue_per_cycle": 2,  # 2-wide decode/issue (Anandtech, "ARM Cortex A73 - Artemis unveiled")
    "fpsimd_per_cycle": 2,  # two FP/ASIMD pipes, one 128-bit op (FMLA included) each per cycle
    "ldst_per_cycle": 2,  # two AGUs, each a load or a store (PRFM included) per cycle
    "l1_bytes_per_cycle": 32,  # each AGU moves at most 16 B per cycle
    "branch_per_cycle": 1,  # one branch pipe
    "line_bytes": 64,
    "l2_bytes_per_s": 16 * 2.36e9,  # L2 -> L1: one 64-B line per 4 cycles (assumed)
    "dram_bytes_per_s": 4.03e9,  # tinymembench memcpy on an A73 (issue 11)
}


def a73_estimate(classes: dict, cache: dict, model: dict | None = None) -> dict:
    """Estimated A73 seconds of the work the counts describe (counts may be differences of two runs).

    compute cycles = the largest of: instructions / issue width, FP/SIMD instructions / FP pipes,
    load+store+prfm instructions / AGUs, load+store bytes / AGU bytes per cycle, branches / branch
    pipes.  memory seconds = L2-hit and L1-writeback lines * 64 B / L2 bandwidth + DRAM fill and
    L2-writeback lines * 64 B / DRAM bandwidth.  seconds = max(compute, memory): latency is assumed
    hidden (out-of-order execution, PRFM), dependencies and stalls are not modelled.
    """
    m = dict(A73, **(model or {}))
    n = sum(classes.values())
    ldst = classes.get("load", 0) + classes.get("store", 0) + classes.get("prfm", 0)
    nbytes = cache.get("load_bytes", 0) + cache.get("store_bytes", 0)
    bounds = {
        "issue": n / m["issue_per_cycle"],
        "fpsimd": classes.get("fpsimd", 0) / m["fpsimd_per_cycle"],
        "ldst": max(ldst / m["ldst_per_cycle"], nbytes / m["l1_bytes_per_cycle"]),
        "branch": classes.get("branch", 0) / m["branch_per_cycle"],
    }
    cycles = max(bounds.values())
    l2_bytes = (cache.get("l2_hit", 0) + cache.get("l1_writeback", 0)) * m["line_bytes"]
    dram_bytes = (cache.get("l2_miss", 0) + cache.get("l2_writeback", 0)) * m["line_bytes"]
    compute_s = cycles / m["clock_hz"]
    memory_s = l2_bytes / m["l2_bytes_per_s"] + dram_bytes / m["dram_bytes_per_s"]
    return {
        "seconds": max(compute_s, memory_s),
        "compute_s": compute_s,
        "memory_s": memory_s,
        "bound": max(bounds, key=lambda k: bounds[k]) if compute_s >= memory_s else "memory",
        "cycles": cycles,
        "l2_bytes": l2_bytes,
        "dram_bytes": dram_bytes,
    }


def count_instructions(argv: list[str], symbols=(), ranges=(), hist: bool = True,
                       qemu: str = QEMU, sysroot: str | None = SYSROOT,
                       cache: Path | None = None, timeout: float | None = 600,
                       check: bool = True, stdin: bytes | None = None,
                       symbol_mode: str = "auto", memory: bool = False, qemu_args=()) -> dict:
    """Runs argv[0] (an AArch64 ELF) under qemu with the counting plugin.

    symbols: function names to count in (all their definitions).
    ranges: (lo, hi) or (lo, hi, label) tuples, lo <= pc < hi.
    symbol_mode: "nm" (address ranges from nm; fixed-address executables
    only), "qemu" (the plugin asks QEMU which symbol holds each instruction),
    or "auto" (nm for ET_EXEC, else qemu).
    qemu_args: more qemu options, before -plugin (e.g. ["-cpu", "cortex-a72",
    "-E", "LD_PRELOAD=..."]).
    Returns {"total", "regions": {label: count}, "hist": {label: {mnemonic:
    count}} ("*" = whole program when no symbol/range is given),
    "returncode", "stdout", "stderr"} (stdout/stderr as bytes).
    memory: also run the A73 model's counters (whole program): "classes"
    {fpsimd, load, store, prfm, branch, int: count} and "cache" {l1_hit,
    l1_miss, l2_hit, l2_miss, l1_writeback, l2_writeback, loads, stores,
    load_bytes, store_bytes} (see insn_count.c).
    """
    lib = build_plugin(cache)
    args = []
    if symbol_mode not in ("auto", "nm", "qemu"):
        raise ValueError(f"symbol_mode must be auto, nm or qemu, not {symbol_mode!r}")
    if symbols:
        use_nm = symbol_mode == "nm" or (symbol_mode == "auto" and elf_is_fixed_address(argv[0]))
        if use_nm:
            table = symbol_ranges(argv[0])
            for name in symbols:
                if name not in table:
                    raise InsnCountError(f"symbol {name!r} not found in {argv[0]}")
                for lo, hi in table[name]:
                    args.append(f"range={lo:#x}-{hi:#x}:{name}")
        else:
            args.extend(f"sym={name}" for name in symbols)
    for r in ranges:
        lo, hi = int(r[0]), int(r[1])
        label = r[2] if len(r) > 2 else f"{lo:#x}-{hi:#x}"
        args.append(f"range={lo:#x}-{hi:#x}:{label}")
    args.append("hist=on" if hist else "hist=off")
    if memory:
        args.append("mem=on")

    with tempfile.TemporaryDirectory(prefix="insn_count.") as tmp:
        report = os.path.join(tmp, "report.txt")
        args.append(f"outfile={report}")
        # QEMU splits -plugin options at commas.
        for a in [str(lib)] + args:
            if "," in a:
                raise InsnCountError(f"plugin argument {a!r} must not contain ','")
        cmd = [qemu]
        if sysroot:
            cmd += ["-L", sysroot]
        cmd += [str(a) for a in qemu_args]
        cmd += ["-plugin", ",".join([str(lib)] + args)] + [str(a) for a in argv]
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, input=stdin)
        if check and proc.returncode != 0:
            raise InsnCountError(f"{' '.join(cmd)} exited with {proc.returncode}\n"
                                 f"{proc.stderr.decode(errors='replace')}")
        try:
            with open(report) as f:
                text = f.read()
        except OSError as e:
            raise InsnCountError(f"no plugin report ({e}); qemu said:\n"
                                 f"{proc.stderr.decode(errors='replace')}") from e
    res = parse_report(text)
    res.update(returncode=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)
    return res


def tools_available() -> bool:
    """True if qemu-aarch64, nm for aarch64 and a host C compiler are on PATH."""
    return all(shutil.which(t) for t in (QEMU, NM, HOST_CC))


def _parse_range_arg(text: str):
    span, _, label = text.partition(":")
    lo, _, hi = span.partition("-")
    return (int(lo, 0), int(hi, 0), label or span)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sym", action="append", default=[], help="count inside this symbol")
    p.add_argument("--range", action="append", default=[], type=_parse_range_arg,
                   help="count in LO-HI[:LABEL] (LO <= pc < HI)")
    p.add_argument("--symbol-mode", choices=("auto", "nm", "qemu"), default="auto",
                   help="resolve --sym with nm address ranges or QEMU's symbol lookup")
    p.add_argument("--no-hist", action="store_true", help="no mnemonic histogram")
    p.add_argument("--top", type=int, default=15, help="histogram rows to print")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--a73", action="store_true",
                   help="count by class, run the cache model and print the A73 time estimate")
    p.add_argument("prog", nargs=argparse.REMAINDER, help="-- program and arguments")
    a = p.parse_args(argv)
    prog = a.prog[1:] if a.prog[:1] == ["--"] else a.prog
    if not prog:
        p.error("no program given")
    res = count_instructions(prog, symbols=a.sym, ranges=a.range, hist=not a.no_hist,
                             check=False, symbol_mode=a.symbol_mode, memory=a.a73)
    if a.a73:
        res["a73"] = a73_estimate(res["classes"], res["cache"])
    sys.stdout.buffer.write(res["stdout"])
    sys.stdout.flush()
    if a.json:
        out = {k: res[k] for k in ("total", "regions", "hist", "returncode", "classes", "cache", "a73")
               if k in res}
        print(json.dumps(out, indent=2, sort_keys=True))
    else:
        print(f"total {res['total']}")
        for label, count in res["regions"].items():
            print(f"{label} {count}")
        for label, h in res["hist"].items():
            print(f"histogram {label}:")
            for mnemonic, count in sorted(h.items(), key=lambda kv: -kv[1])[:a.top]:
                print(f"  {mnemonic:10s} {count}")
        if a.a73:
            print("classes " + " ".join(f"{k}={v}" for k, v in res["classes"].items()))
            print("cache " + " ".join(f"{k}={v}" for k, v in res["cache"].items()))
            e = res["a73"]
            print(f"a73 estimate {e['seconds'] * 1e6:.3f} us (compute {e['compute_s'] * 1e6:.3f} us, "
                  f"memory {e['memory_s'] * 1e6:.3f} us, bound {e['bound']})")
    return res["returncode"]


if __name__ == "__main__":
    sys.exit(main())
