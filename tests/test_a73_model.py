"""The Cortex-A73 model of bench/insn_count (mem=on): cache counts on a synthetic trace, and the estimate.

tests/c/stream_cache.c streams a 64-byte-aligned buffer of BYTES bytes PASSES times, one 8-byte
access per element in an inline-asm loop.  One steady-state pass is the difference of PASSES = k + 1
and k runs (as `hlfgen bench` takes one runner call from --repeat 2 minus --repeat 1), and its
counts follow from the cache geometry alone (64-byte lines, L1D 64 KiB 4-way, L2 2 MiB 16-way,
LRU): a buffer that fits a level hits there on every pass after the first, one that does not misses
on every line of every pass.  The tolerance allows for the few accesses of startup code that differ
between the runs.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COUNT_PY = ROOT / "bench" / "insn_count" / "count.py"
SRC = ROOT / "tests" / "c" / "stream_cache.c"
AARCH64_CC = "aarch64-linux-gnu-gcc"
LINE = 64
SLACK = 32  # lines / instructions of startup noise between two runs

needs_qemu = pytest.mark.skipif(
    not (shutil.which("qemu-aarch64") and shutil.which(AARCH64_CC) and shutil.which("gcc")),
    reason="needs qemu-user, gcc-aarch64-linux-gnu and a host gcc",
)


def _count():
    spec = importlib.util.spec_from_file_location("hlf_insn_count_a73", COUNT_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    exe = tmp_path_factory.mktemp("a73") / "stream_cache"
    subprocess.run([AARCH64_CC, "-O2", "-static", "-o", str(exe), str(SRC)], check=True)
    count = _count()

    def one_pass(nbytes: int, mode: int = 0, first: bool = False) -> dict:
        """Counters of one pass: the first (PASSES 1 - 0) or a steady-state one (PASSES 2 - 1)."""
        k = 0 if first else 1
        runs = [
            count.count_instructions([str(exe), str(nbytes), str(p), str(mode)], hist=False, memory=True)
            for p in (k, k + 1)
        ]
        diff = {f"cache.{n}": runs[1]["cache"][n] - runs[0]["cache"][n] for n in runs[0]["cache"]}
        diff.update({f"class.{n}": runs[1]["classes"][n] - runs[0]["classes"][n] for n in runs[0]["classes"]})
        return diff

    return one_pass


def _near(value: int, expected: int, slack: int = SLACK) -> bool:
    return abs(value - expected) <= slack


@needs_qemu
def test_first_pass_misses_every_line(stream):
    nbytes = 32 * 1024
    d = stream(nbytes, first=True)
    lines = nbytes // LINE
    assert _near(d["cache.l1_miss"], lines), d
    assert _near(d["cache.l2_miss"], lines), d  # cold: every line comes from DRAM
    assert _near(d["cache.l1_hit"], nbytes // 8 - lines), d  # the other 7 loads of each line hit


@needs_qemu
def test_fits_l1_hits_on_the_second_pass(stream):
    nbytes = 32 * 1024  # half of L1D
    d = stream(nbytes)
    assert _near(d["cache.loads"], nbytes // 8), d
    assert _near(d["cache.load_bytes"], nbytes, 8 * SLACK), d
    assert _near(d["cache.l1_hit"], nbytes // 8), d
    assert _near(d["cache.l1_miss"], 0), d
    assert _near(d["cache.l2_miss"], 0), d
    # The loop's classes, one each per element (inline asm).
    for cls in ("load", "fpsimd", "prfm", "branch"):
        assert _near(d[f"class.{cls}"], nbytes // 8), (cls, d)
    assert _near(d["class.int"], nbytes // 8), d  # subs
    assert _near(d["class.store"], 0), d


@needs_qemu
def test_fits_l2_not_l1_hits_in_l2(stream):
    nbytes = 1024 * 1024  # 16x L1D, half of L2
    d = stream(nbytes)
    lines = nbytes // LINE
    assert _near(d["cache.l1_miss"], lines), d
    assert _near(d["cache.l2_hit"], lines), d
    assert _near(d["cache.l2_miss"], 0), d


@needs_qemu
def test_larger_than_l2_misses_every_line(stream):
    nbytes = 4 * 1024 * 1024  # 2x L2: LRU streaming misses every line
    d = stream(nbytes)
    lines = nbytes // LINE
    assert _near(d["cache.l1_miss"], lines), d
    assert _near(d["cache.l2_hit"], 0), d
    assert _near(d["cache.l2_miss"], lines), d


@needs_qemu
def test_stores_write_back_dirty_lines(stream):
    nbytes = 4 * 1024 * 1024
    d = stream(nbytes, mode=1)
    lines = nbytes // LINE
    assert _near(d["cache.stores"], nbytes // 8), d
    assert _near(d["cache.l2_miss"], lines), d  # write allocate: each line is filled first
    assert _near(d["cache.l1_writeback"], lines), d
    assert _near(d["cache.l2_writeback"], lines), d
    assert _near(d["class.store"], nbytes // 8), d


def test_estimate_arithmetic():
    """a73_estimate against hand arithmetic at the documented constants (no qemu needed)."""
    count = _count()
    m = count.A73
    assert m["clock_hz"] == 2.36e9 and m["dram_bytes_per_s"] == 4.03e9
    # 1000 FP ops, 600 loads, 400 int, 10 branches: issue bound (2010 / 2 = 1005 cycles) beats the
    # FP pipes (1000 / 2 = 500) and the AGUs (600 / 2 = 300; 9600 B / 32 = 300).
    classes = {"fpsimd": 1000, "load": 600, "store": 0, "prfm": 0, "branch": 10, "int": 400}
    cache = {"load_bytes": 600 * 16, "store_bytes": 0, "l2_hit": 0, "l2_miss": 0}
    e = count.a73_estimate(classes, cache)
    assert e["cycles"] == pytest.approx(1005)
    assert e["seconds"] == pytest.approx(1005 / 2.36e9) and e["bound"] == "issue"
    # 1000 DRAM line fills: 64000 B / 4.03 GB/s = 15.9 us >> 0.43 us of compute.
    cache = dict(cache, l2_miss=1000, l2_hit=100, l1_writeback=50)
    e = count.a73_estimate(classes, cache)
    assert e["dram_bytes"] == 64000 and e["l2_bytes"] == 150 * 64
    assert e["seconds"] == pytest.approx(64000 / 4.03e9 + 9600 / (16 * 2.36e9)) and e["bound"] == "memory"
