"""Timing of `hlfgen bench`: interleaved rounds over hlfgen's runner, onnxruntime and tract; the bandwidth probe."""

from __future__ import annotations

import random
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

from .models import STEPS

MIN_RUNNER_REPEAT = 4  # runs per timed runner call, at least (see _runner_call)


# ---------------------------------------------------------------------------
# Read-bandwidth probe
# ---------------------------------------------------------------------------

BW_PROBE_SRC = Path(__file__).with_name("bw_probe.c")  # the probe's C source, shipped beside this file


def build_bw_probe(work: Path) -> Path:
    code = BW_PROBE_SRC.read_text()
    src = work / "bwprobe.c"
    exe = work / "bwprobe"
    if not exe.exists() or not src.exists() or src.read_text() != code:
        src.write_text(code)
        subprocess.run(["gcc", "-O3", "-march=native", "-ffast-math", "-o", str(exe), str(src)], check=True)
    return exe


def probe_bandwidth(exe: Path, sizes: list[int]) -> dict[int, float]:
    out = subprocess.run([str(exe)] + [str(s) for s in sizes], capture_output=True, text=True, check=True).stdout
    res = {}
    for line in out.splitlines():
        f = line.split()
        res[int(f[0])] = float(f[1])
    return res


# ---------------------------------------------------------------------------
# Timing (serial, interleaved)
# ---------------------------------------------------------------------------


class _Timed:
    """One timed thing: call(n) runs it n times and returns the mean microseconds per run."""

    def __init__(self, key: str, call):
        self.key = key
        self.call = call
        self.n = 1
        self.samples: list[float] = []


def _runner_call(exe: Path, x: np.ndarray, work: Path):
    """Mean µs per run of the runner's --repeat n: it makes one untimed run first (the page faults
    of the weights: lstm650x2 dense 43 ms cold vs 17-19 ms warm per run), so the mean is warm."""
    from hlfgen.build import run_runner

    def call(n: int) -> float:
        _, mean_us = run_runner(exe, {"X": x}, work_dir=work, repeat=max(n, MIN_RUNNER_REPEAT))
        return mean_us

    return call


def _ort_call(model: Path, x: np.ndarray):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    feeds = {"X": x}
    sess.run(None, feeds)

    def call(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            sess.run(None, feeds)
        return (time.perf_counter() - t0) / n * 1e6

    return call


def _tract_call(model: Path, x: np.ndarray):
    import tract

    m = tract.onnx().load(str(model))
    m.set_input_fact(0, f"{x.shape[0]},{x.shape[1]},{x.shape[2]},f32")
    run = m.into_model().into_runnable()
    run.run([x])

    def call(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            run.run([x])
        return (time.perf_counter() - t0) / n * 1e6

    return call


def time_interleaved(items: list[_Timed], rounds: int, call_s: float, seed: int = 0) -> None:
    """Calibrate each item's repeat count to ~call_s per call, then `rounds` shuffled round-robin passes."""
    for it in items:
        us = it.call(2)
        it.n = max(2, min(5000, int(call_s * 1e6 / max(us, 1e-3))))
    rng = random.Random(seed)
    for _ in range(rounds):
        order = list(items)
        rng.shuffle(order)
        for it in order:
            it.samples.append(it.call(it.n))


def _stats(samples: list[float], per: int = STEPS) -> dict:
    s = sorted(v / per for v in samples)
    q = statistics.quantiles(s, n=4) if len(s) >= 2 else [s[0]] * 3
    return {"median": statistics.median(s), "min": s[0], "max": s[-1], "q1": q[0], "q3": q[2], "n": len(s)}
