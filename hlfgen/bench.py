"""`hlfgen bench`: the paper's run-time comparison (hlf-paper.txt §4, Figure 2) on hlfgen's own C.

For each layer size of the paper (LSTM 650 x 2 layers as PTB-medium, LSTM 512,
bidirectional LSTM 256, LSTM 128; GRU at the same sizes) and each compression
factor (2.5, 3.33, 5), the models of ``hlfgen example --scheme`` (same seeded
dense weights) are built and measured:

* dense (once per size), small baseline, LMF, HLF (k=1; ``--k`` adds others),
  magnitude-pruned compiled with ``--sparse auto``, ``csr`` and ``block``
  ("pruned" in the summary is the fastest of the three: the fair baseline;
  "pruned-sparse" the fastest that runs CSR/BCSR kernels at all);
* host time per step (batch 1, T=35) through the runner's ``--repeat`` (after its
  untimed warm-up run), all
  variants of a size interleaved round-robin (shuffled each round) with
  onnxruntime (1 intra-op thread, sequential) and tract on the same ONNX
  files: medians and min-max over the rounds;
* AArch64 instructions per step (NEON kernels, gcc -mcpu=cortex-a73) under
  qemu with the instruction-count plugin (bench/insn_count): runner
  ``--repeat 2`` minus ``--repeat 1`` at T=16 (INSN_STEPS), deterministic;
* effective weight bandwidth (weight bytes streamed per step / time) against a
  read-bandwidth probe (a small C program) over a buffer of the same size;
* the targets of issue 5, each met or missed by how much.

Phases: models (ONNX files) -> builds (generate + compile, host and aarch64,
``--jobs`` processes; instruction counts run as soon as an aarch64 build is
done) -> timing (nothing else running).  Everything lands in ``-o DIR``:
``bench.json``, ``benchmarks.md``, ``figure2.png``; builds are kept in
``DIR/work`` and reused by the next run when the model and hlfgen are unchanged.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

# One BLAS thread: the SVDs of the LMF/HLF models run in --jobs worker processes, and a multi-threaded
# OpenBLAS on an oversubscribed machine is ~10x slower (0.64 s vs 7.4 s for one 400x650 SVD here).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

STEPS = 35  # PTB-medium's unrolled length: T = 35, batch 1
# Instruction counts run T = 16 steps (the binaries are the T <= 35 ones): qemu time is linear in the
# steps, and per-step counts at T = 16 are within 1.2 % of T = 35 (lstm512 dense 841001 vs 851823,
# HLF CF 2.5 368908 vs 373222: the GEMM of the input projection handles a remainder of T mod 8).
INSN_STEPS = 16
MIN_RUNNER_REPEAT = 4  # runs per timed runner call, at least (see _runner_call)
MODELS_VERSION = "1"  # bump when make_model changes: the ONNX files of an earlier run are then rebuilt
CFS = ("2.5", "10/3", "5")
SCHEMES = ("dense", "small", "lmf", "hlf", "pruned")
PRUNED_MODES = ("auto", "csr", "block")


@dataclass(frozen=True)
class Size:
    name: str
    kind: str
    input_size: int
    hidden: int
    direction: str = "forward"
    layers: int = 1

    @property
    def label(self) -> str:
        bi = "bi" if self.direction == "bidirectional" else ""
        stack = f" x {self.layers} layers" if self.layers > 1 else ""
        return f"{bi}{self.kind.upper()} {self.hidden}{stack}"


SIZES = {s.name: s for s in (
    Size("lstm650x2", "lstm", 650, 650, layers=2),
    Size("lstm512", "lstm", 512, 512),
    Size("bilstm256", "lstm", 256, 256, "bidirectional"),
    Size("lstm128", "lstm", 128, 128),
    Size("gru650x2", "gru", 650, 650, layers=2),
    Size("gru512", "gru", 512, 512),
    Size("bigru256", "gru", 256, 256, "bidirectional"),
    Size("gru128", "gru", 128, 128),
)}
QUICK_SIZES = ("lstm128",)
QUICK_CFS = ("2.5",)


def cf_label(cf: str | None) -> str:
    if cf is None:
        return "1"
    f = Fraction(cf)
    return f"{float(f):.3g}" if f.denominator != 1 else str(f.numerator)


def cf_slug(cf: str) -> str:
    return cf_label(cf).replace(".", "p")


# ---------------------------------------------------------------------------
# Fingerprints: a build is reused when its model file and hlfgen are unchanged
# ---------------------------------------------------------------------------

def _hash_tree(h, root: Path, suffixes=(".py", ".c", ".h", ".j2", ".cmake", ".txt"), skip=()) -> None:
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in suffixes and "__pycache__" not in p.parts and p.name not in skip:
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())


def hlfgen_fingerprint() -> str:
    from hlfgen import resources

    h = hashlib.sha256()
    _hash_tree(h, Path(__file__).resolve().parent, skip=(Path(__file__).name,))  # this file makes no C
    for d in (resources.runtime_dir(), resources.templates_dir(), resources.toolchains_dir()):
        _hash_tree(h, Path(d))
    for tool in ("gcc", "aarch64-linux-gnu-gcc"):
        h.update(subprocess.run([tool, "--version"], capture_output=True, text=True).stdout.encode()
                 if shutil.which(tool) else b"-")
    return h.hexdigest()[:16]


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------

def _prefixed(model, prefix: str, rename_io: dict[str, str]):
    """Copies of the graph's nodes and initializers with every internal name prefixed."""
    import copy

    g = model.graph
    names = {t.name for t in g.initializer} | {o for n in g.node for o in n.output}

    def ren(x: str) -> str:
        if x in rename_io:
            return rename_io[x]
        return prefix + x if x in names else x

    nodes = []
    for n in g.node:
        n = copy.deepcopy(n)
        n.input[:] = [ren(x) if x else x for x in n.input]
        n.output[:] = [ren(x) if x else x for x in n.output]
        n.name = prefix + n.name
        nodes.append(n)
    inits = []
    for t in g.initializer:
        t = copy.deepcopy(t)
        t.name = ren(t.name)
        inits.append(t)
    return nodes, inits


def stack_layers(m1, m2, kind: str):
    """Two single-layer example models as one 2-layer model: m1's Y (squeezed) feeds m2's X."""
    import onnx
    from onnx import helper, numpy_helper

    n1, i1 = _prefixed(m1, "l0.", {"Y": "l0.Y", "Y_h": "l0.Y_h", "Y_c": "l0.Y_c"})
    n2, i2 = _prefixed(m2, "l1.", {"X": "l1.X", "Y": "Y", "Y_h": "Y_h", "Y_c": "Y_c"})
    rec = next(n for n in n1 if n.op_type in ("LSTM", "GRU", "RNN"))
    del rec.output[1:]  # layer 0's final states are not graph outputs
    axes = numpy_helper.from_array(np.array([1], np.int64), "l0.squeeze_axes")
    squeeze = helper.make_node("Squeeze", ["l0.Y", "l0.squeeze_axes"], ["l1.X"], name="l0.squeeze")
    x = m1.graph.input[0]
    outs = [o for o in m2.graph.output]
    graph = helper.make_graph(n1 + [squeeze] + n2, f"hlfgen_bench_{kind}_2layers", [x], outs,
                              initializer=i1 + [axes] + i2)
    model = helper.make_model(graph, opset_imports=list(m1.opset_import), producer_name="hlfgen",
                              ir_version=m1.ir_version)
    props = {p.key: p.value for p in m1.metadata_props}
    helper.set_model_props(model, props)
    model.doc_string = "2 layers: " + m1.doc_string + " | " + m2.doc_string
    onnx.checker.check_model(model)
    return model


def small_hidden_stacked(input_size: int, hidden: int, layers: int, cf: str) -> int:
    """Largest h with the W+R parameters of `layers` layers of hidden h <= those of hidden H / CF."""
    dense = hidden * (input_size + hidden) + (layers - 1) * hidden * 2 * hidden
    budget = Fraction(dense) / Fraction(cf)
    h = hidden
    while h > 1 and h * (input_size + h) + (layers - 1) * 2 * h * h > budget:
        h -= 1
    return h


def make_model(size: Size, scheme: str, cf: str | None, k: int, path: Path) -> None:
    """The ONNX file of one (size, scheme, CF): hlfgen.example's schemes, stacked for 2 layers."""
    import onnx

    from hlfgen.example import make_example_model

    cfv = cf or "1"
    common = dict(kind=size.kind, direction=size.direction, k=k)
    if size.layers == 1:
        m = make_example_model(input_size=size.input_size, hidden_size=size.hidden, compression=cfv, seed=0,
                               scheme=scheme, **common)
    elif size.layers == 2:
        if scheme == "small":  # one h for both layers, over the parameters of both
            h = small_hidden_stacked(size.input_size, size.hidden, 2, cfv)
            m1 = make_example_model(input_size=size.input_size, hidden_size=h, seed=0, scheme="dense", **common)
            m2 = make_example_model(input_size=h, hidden_size=h, seed=1, scheme="dense", **common)
        else:
            m1 = make_example_model(input_size=size.input_size, hidden_size=size.hidden, compression=cfv,
                                    seed=0, scheme=scheme, **common)
            m2 = make_example_model(input_size=size.hidden, hidden_size=size.hidden, compression=cfv,
                                    seed=1, scheme=scheme, **common)
        m = stack_layers(m1, m2, size.kind)
    else:
        raise ValueError(f"{size.name}: {size.layers} layers not supported")
    onnx.checker.check_model(m)
    tmp = path.with_suffix(".tmp")
    onnx.save(m, tmp)
    os.replace(tmp, path)


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
    """Weight bytes of the program split into input projections (W, one GEMM per run) and the rest."""
    w = r = 0
    for wa in prog.weights:
        nb = int(wa.data.size) * 4
        if "_W" in wa.symbol:
            w += nb
        else:
            r += nb
    for ia in prog.index_arrays:
        if "_W" in ia.symbol:
            w += int(ia.data.nbytes)
        else:
            r += int(ia.data.nbytes)
    return {"weight_bytes": int(prog.weight_bytes), "w_bytes": w, "r_bytes": r}


def _gen_hash(out: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(list(out.glob("*.[chS]")) + list(out.glob("*.bin"))):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _build_job(args) -> dict:
    """generate + compile one model for one target in each sparse mode (identical C is compiled once)."""
    from hlfgen.build import compile_out, generate

    model, target, modes, root, stamp = args
    model, root = Path(model), Path(root)
    results = {}
    seen: dict[str, str] = {}  # generated-C hash -> mode that compiled it
    for mode in modes:
        d = root / f"{model.stem}.{target}.{mode}"
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
        gen = generate(model, d / "out", target=target, max_seq_len=STEPS, sparse=mode)
        t1 = time.perf_counter()
        c_hash = _gen_hash(d / "out")
        c_bytes = sum(p.stat().st_size for p in (d / "out").glob("*.[chS]"))
        weights_fmt = "bin" if any((d / "out").glob("*_weights.bin")) else "c"
        info = {"stamp": stamp, "model": str(model), "target": target, "mode": mode, "generate_s": t1 - t0,
                "c_hash": c_hash, "c_bytes": c_bytes, "weights_format": weights_fmt,
                "kernels": sorted({c["kernel"] for c in gen.program.sparse_choices}),
                "input_size": gen.model.layers[0].input_size, **_weight_split(gen.program)}
        if c_hash in seen:  # same C as another mode: same binary
            other = results[seen[c_hash]]
            info.update(exe=other["exe"], compile_s=0.0, same_as=seen[c_hash])
        else:
            exe = compile_out(gen.out_dir, d / "build", target=target, werror=False,
                              native=(target == "host"), static=(target != "host") or None)
            info.update(exe=str(exe), compile_s=time.perf_counter() - t1)
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
    cands += [Path.cwd() / "bench", Path(__file__).resolve().parent.parent / "bench"]
    for c in cands:
        if (c / "insn_count" / "count.py").exists():
            return c / "insn_count" / "count.py"
    return None


def _count_job(args) -> dict:
    exe, x_path, work, count_py, steps = args
    info_file = Path(work) / "insn.json"
    key = f"{_file_hash(Path(exe))}:{steps}"
    if info_file.exists():
        old = json.loads(info_file.read_text())
        if old.get("exe_hash") == key:
            return dict(old, cached=True)
    spec = importlib.util.spec_from_file_location("hlf_insn_count", count_py)
    count = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(count)
    t0 = time.perf_counter()
    totals = []
    for r in (1, 2):
        out = Path(work) / f"insn_out{r}"
        out.mkdir(parents=True, exist_ok=True)
        res = count.count_instructions([str(exe), "--input", f"X={x_path}", "--out-dir", str(out), "--repeat", str(r)],
                                       hist=False)
        if res.get("returncode", 0) != 0:
            raise RuntimeError(f"runner failed under qemu: {res}")
        totals.append(res["total"])
    info = {"exe_hash": key, "insn_per_step": (totals[1] - totals[0]) / steps, "steps": steps, "count_s": time.perf_counter() - t0}
    info_file.write_text(json.dumps(info))
    return dict(info, cached=False)


# ---------------------------------------------------------------------------
# Read-bandwidth probe
# ---------------------------------------------------------------------------

BW_PROBE_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
/* bwprobe BYTES...: median read bandwidth (GB/s) of summing a BYTES buffer again and again */
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        size_t n = ((size_t)atoll(argv[i]) / 4 + 63) & ~(size_t)63;
        float *a = aligned_alloc(64, n * 4);
        for (size_t j = 0; j < n; j++) a[j] = (float)(j & 7);
        float s = 0;
        long reps = (long)(4e7 / (double)n) + 1;   /* ~160 MB read per trial */
        double gbs[9];
        for (int t = 0; t < 9; t++) {
            double t0 = now();
            for (long r = 0; r < reps; r++) {
                float acc[16] = {0};
                for (size_t j = 0; j < n; j += 16)
                    for (int k = 0; k < 16; k++) acc[k] += a[j + k];
                for (int k = 0; k < 16; k++) s += acc[k];
                __asm__ volatile("" : : "r"(a) : "memory");
            }
            gbs[t] = (double)reps * n * 4 / (now() - t0) / 1e9;
        }
        qsort(gbs, 9, sizeof gbs[0], cmp);
        printf("%s %.3f %.3f %.3f %g\n", argv[i], gbs[4], gbs[0], gbs[8], (double)s);
        free(a);
    }
    return 0;
}
"""


def build_bw_probe(work: Path) -> Path:
    src = work / "bwprobe.c"
    exe = work / "bwprobe"
    if not exe.exists() or not src.exists() or src.read_text() != BW_PROBE_C:
        src.write_text(BW_PROBE_C)
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


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

@dataclass
class Variant:
    size: str
    scheme: str  # dense small lmf hlf hlf-k<K> pruned
    cf: str | None
    k: int
    modes: tuple[str, ...] = ("auto",)

    @property
    def key(self) -> str:
        return f"{self.size}_{self.scheme}" + (f"_cf{cf_slug(self.cf)}" if self.cf else "")


def variants(sizes, cfs, ks) -> list[Variant]:
    out = []
    for s in sizes:
        out.append(Variant(s, "dense", None, 1))
        for cf in cfs:
            out.append(Variant(s, "small", cf, 1))
            out.append(Variant(s, "lmf", cf, 1))
            for k in ks:
                out.append(Variant(s, "hlf" if k == 1 else f"hlf-k{k}", cf, k))
            out.append(Variant(s, "pruned", cf, 1, PRUNED_MODES))
    return out


def _eq5(model: Path) -> dict:
    from hlfgen.inspect import inspect_model

    info = inspect_model(str(model))
    mats = [m for layer in info["layers"] for m in layer["matrices"]]
    dense = sum(m["shape"][0] * m["shape"][1] for m in mats)
    ops = sum(m["ops"] for m in mats)
    return {"dense_macs": dense, "macs": ops, "op_reduction": dense / ops}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_bench(out_dir: str | os.PathLike = "bench-out", *, sizes=None, cfs=None, ks=(1,), quick: bool = False,
              rounds: int | None = None, call_s: float | None = None, jobs: int | None = None,
              insn: bool = True, baselines: bool = True, plot: bool = True, insn_steps: int = INSN_STEPS) -> dict:
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
    vs = variants(sizes, cfs, ks)
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

    # -- phase 1: ONNX models
    t0 = time.perf_counter()
    cpu_m = _cpu_s()
    model_path = {v.key: work / "models" / f"{v.key}.onnx" for v in vs}
    margs = [(v.size, v.scheme.split("-")[0], v.cf, v.k, str(model_path[v.key]), f"{fp}:{MODELS_VERSION}:{v}") for v in vs]
    model_s: dict[str, float] = {}
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for v, res in zip(vs, pool.map(_model_job, margs)):
            model_s[v.key] = res["seconds"]
    phases["models"] = time.perf_counter() - t0
    phases["models_cpu"] = _cpu_s() - cpu_m
    log(f"models: {len(vs)} ONNX files in {phases['models']:.1f} s")

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
            stamp = f"{fp}:{_file_hash(model_path[v.key])}:{t}"
            f = pool.submit(_build_job, (str(model_path[v.key]), t, v.modes, str(work / "builds"), stamp))
            pending[f] = ("build", v, t)
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
                            g = pool.submit(_count_job, (info["exe"], str(xi_paths[v.size]), str(wd), str(count_py),
                                                         insn_steps))
                            pending[g] = ("count", v, mode)
                            n_counts += 1
                    log(f"built {v.key} {t} " + ", ".join(
                        f"{m}: gen {i['generate_s']:.1f} s cc {i['compile_s']:.1f} s" + (" (cached)" if i["cached"] else "")
                        for m, i in res["results"].items()))
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
                items.append(_Timed(f"hlfgen:{v.key}:{mode}",
                                    _runner_call(Path(info["exe"]), x, work / "run_out" / v.key)))
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
        wb = sorted({builds[(v.key, "host")][m]["weight_bytes"] for v in vs if v.size == s
                     for m in builds[(v.key, "host")]})
        bw.update(probe_bandwidth(probe, wb))
    phases["timing"] = time.perf_counter() - t0
    log(f"timing: {phases['timing']:.1f} s")

    # -- results
    rows = []
    eq5 = {}
    for v in vs:
        if v.scheme.startswith("hlf") or v.scheme == "lmf":
            eq5[v.key] = _eq5(model_path[v.key])
        for mode, info in builds[(v.key, "host")].items():
            t = timings[f"hlfgen:{v.key}:{mode}"]
            streamed = info["r_bytes"] + info["w_bytes"] / STEPS
            row = {"size": v.size, "scheme": v.scheme, "cf": v.cf, "cf_label": cf_label(v.cf), "mode": mode,
                   "key": v.key, "kernels": info["kernels"], "same_as": info.get("same_as"),
                   "weight_bytes": info["weight_bytes"], "streamed_bytes_per_step": streamed,
                   "us_per_step": t, "c_bytes": info["c_bytes"],
                   "generate_s": info["generate_s"], "compile_s": info["compile_s"], "cached": info["cached"],
                   "model_s": model_s[v.key], "weights_format": info.get("weights_format")}
            a = builds.get((v.key, "cortex-a73"), {}).get(mode)
            if a:
                row["a73_generate_s"], row["a73_compile_s"] = a["generate_s"], a["compile_s"]
                c = counts.get((v.key, mode))
                if c:
                    row["insn_per_step"] = c["insn_per_step"]
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
        "config": {"sizes": sizes, "cfs": cfs, "ks": list(ks), "steps": STEPS, "batch": 1, "rounds": rounds,
                   "call_s": call_s, "jobs": jobs, "quick": quick, "insn": bool(count_py), "insn_steps": insn_steps,
                   "ort": have_ort, "tract": have_tract},
        "rows": rows,
        "failures": failures,
    }
    result["summary"] = summarize(result)
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


def _git_state() -> dict:
    """Commit and modified files of the checkout the bench runs from (the bench dir's, the cwd's or,
    for an editable install, the sources'): an installed wheel has no .git of its own."""
    cands = [Path(os.environ["HLFGEN_BENCH_DIR"]).parent] if os.environ.get("HLFGEN_BENCH_DIR") else []
    cands += [Path.cwd(), Path(__file__).resolve().parent.parent]
    root = next((c for c in cands if (c / ".git").exists()), None)
    if root is None:
        return {}
    def git(*a):
        return subprocess.run(["git", "-C", str(root), *a], capture_output=True, text=True).stdout.rstrip()
    return {"commit": git("rev-parse", "--short", "HEAD").strip(),
            "modified": [line[3:] for line in git("status", "--porcelain").splitlines()]}


def machine_info(loadavg_at_start=None) -> dict:
    model = ""
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0] \
        if shutil.which("gcc") else ""
    info = {"cpu": model or platform.processor(), "cores": os.cpu_count(), "gcc": gcc,
            "python": platform.python_version(), "hlfgen_source": _git_state()}
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
        ({"key": r["key"], "mode": r["mode"], "c_mb": round(r["c_bytes"] / 1e6, 1),
          "generate_s": round(r["generate_s"], 1), "compile_s": round(r["compile_s"], 1),
          "weights": r.get("weights_format")}
         for r in rows if not r["cached"]), key=lambda e: -e["compile_s"])[:6]
    return d


# ---------------------------------------------------------------------------
# Summary, targets, outputs
# ---------------------------------------------------------------------------

def summarize(result: dict) -> list[dict]:
    """One row per (size, scheme, CF): pruned = its fastest mode (host) / fewest instructions (aarch64)."""
    rows = result["rows"]
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
        s = {"size": size, "scheme": scheme, "cf": cf, "cf_label": cf_label(cf), "mode": best["mode"],
             "kernels": best["kernels"], "weight_bytes": best["weight_bytes"], "us": best["us_per_step"],
             "speedup": d["us_per_step"]["median"] / best["us_per_step"]["median"],
             # the same from the fastest round of each (other jobs on the machine only ever add time)
             "speedup_min": d["us_per_step"]["min"] / min(r["us_per_step"]["min"] for r in rs),
             "eff_bw_gbs": best["eff_bw_gbs"], "probe_bw_gbs": best["probe_bw_gbs"]}
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
        if "eq5" in best:
            s["eq5"] = best["eq5"]["op_reduction"]
        out.append(s)
    order = {k: i for i, k in enumerate(("dense", "small", "lmf", "hlf", "pruned", "pruned-sparse"))}
    out.sort(key=lambda s: (float(Fraction(s["cf"])) if s["cf"] else 0.0,
                            order.get(s["scheme"], 3.5), s["scheme"]))
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
            out.append({"target": target, "size": size, "cf": cf_label(cf) if cf else None, "value": None,
                        "goal": goal, "met": None, "what": what})
            return
        met = value >= goal if higher_is_better else value <= goal
        # margin: how far from the goal, as a factor (>1 means it needs that much more)
        miss = (goal / value if higher_is_better else value / goal)
        met_min = None if value_min is None else (value_min >= goal if higher_is_better else value_min <= goal)
        out.append({"target": target, "size": size, "cf": cf_label(cf) if cf else None, "value": value,
                    "goal": goal, "met": met, "miss_factor": None if met else miss, "what": what,
                    "value_min": value_min, "met_min": met_min})

    for size in sizes:
        d = _find(summ, size, "dense", None)
        add("dense hlfgen/ORT <= 1.0", size, None, d.get("vs_ort"), 1.0, False, "time ratio hlfgen/onnxruntime",
            d.get("vs_ort_min"))
        add("dense hlfgen/tract < 1.0", size, None, d.get("vs_tract"), 1.0, False, "time ratio hlfgen/tract",
            d.get("vs_tract_min"))
        if "2.5" in cfs:
            h = _find(summ, size, "hlf", "2.5")
            v = 1 / h["vs_ort"] if h and h.get("vs_ort") else None
            vm = 1 / h["vs_ort_min"] if h and h.get("vs_ort_min") else None
            add("HLF CF2.5: ORT/hlfgen >= 2", size, "2.5", v, 2.0, True, "onnxruntime time / hlfgen time, same file",
                vm)
        for cf in cfs:
            h, p = _find(summ, size, "hlf", cf), _find(summ, size, "pruned", cf)
            if h and p:
                add("HLF >= 1.5x best pruned (host)", size, cf, p["us"]["median"] / h["us"]["median"], 1.5, True,
                    "best pruned time / HLF time", h["speedup_min"] / p["speedup_min"])
                if "insn_per_step" in h and "insn_per_step" in p:
                    add("HLF >= 1.5x best pruned (aarch64 insns)", size, cf, p["insn_per_step"] / h["insn_per_step"],
                        1.5, True, "best pruned insns / HLF insns")
            if h and h.get("eq5"):
                add("HLF speed-up >= 0.8x Eq. 5 (host)", size, cf, h["speedup"] / h["eq5"], 0.8, True,
                    "(dense time / HLF time) / Eq. 5", h["speedup_min"] / h["eq5"])
                if "insn_speedup" in h:
                    add("HLF speed-up >= 0.8x Eq. 5 (aarch64 insns)", size, cf, h["insn_speedup"] / h["eq5"], 0.8,
                        True, "(dense insns / HLF insns) / Eq. 5")
    return out


def _fmt_us(t: dict) -> str:
    return f"{t['median']:.3g} [{t['min']:.3g}-{t['max']:.3g}]"


def format_markdown(result: dict) -> str:
    m, cfg = result["machine"], result["config"]
    L = ["# hlfgen benchmark", "",
         f"Machine: {m['cpu']}, {m['cores']} cores; {m['gcc']}; onnxruntime {m['onnxruntime']}, tract {m['tract']}.",
         f"Batch 1, T = {cfg['steps']}, single thread. Host: portable kernels, `-O3 -march=native` (Release + "
         f"HLF_NATIVE); median [min-max] of {cfg['rounds']} interleaved rounds, each round a runner call "
         f"of ~{cfg['call_s'] * 1000:.0f} ms (`--repeat n` after the runner's untimed warm-up run). "
         "AArch64: NEON kernels, gcc `-mcpu=cortex-a73`, instructions per step under qemu (runner `--repeat 2` "
         f"minus `--repeat 1`, / T, at T = {cfg.get('insn_steps', STEPS)}).", ""]
    L += ["Columns: *µs/step* hlfgen host time; *x dense* speed-up over dense (time); */ORT*, */tract* hlfgen time "
          "divided by onnxruntime's / tract's time on the same ONNX file (< 1: hlfgen faster); *insn/step* AArch64 "
          "instructions; *x dense insn* speed-up over dense in instructions; *Eq. 5* the operation reduction; "
          "*BW* weight bytes streamed per step (R every step, W once per T-step GEMM) / time, against the read "
          "bandwidth probe over a buffer of the model's weight bytes. *pruned* is the fastest of `--sparse auto`, "
          "`csr`, `block` (the mode is given; instructions take their own best mode).", ""]
    summ = result["summary"]
    for size in cfg["sizes"]:
        L += [f"## {SIZES[size].label} (`{size}`)", "",
              "| scheme | CF | weights KB | µs/step | x dense | /ORT | /tract | insn/step | x dense insn | Eq. 5 "
              "| BW GB/s | probe GB/s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for s in [s for s in summ if s["size"] == size]:
            def g(key, fmt="{:.2f}"):
                return fmt.format(s[key]) if s.get(key) is not None else "n/a"
            name = s["scheme"] + (f" ({s['mode']}: {'+'.join(s['kernels']) or 'dense'})"
                                  if s["scheme"].startswith("pruned") else "")
            L.append(f"| {name} | {s['cf_label']} | {s['weight_bytes'] / 1024:.0f} | {_fmt_us(s['us'])} | "
                     f"{s['speedup']:.2f} | {g('vs_ort')} | {g('vs_tract')} | {g('insn_per_step', '{:.0f}')} | "
                     f"{g('insn_speedup')} | {g('eq5')} | {s['eff_bw_gbs']:.1f} | {g('probe_bw_gbs', '{:.1f}')} |")
        L.append("")
    L += ["## Targets (issue 5)", "",
          "*value* from the medians (the verdict); *fastest rounds* the same ratio from each variant's fastest "
          "round, for host times (other jobs on the machine only ever add time).", "",
          "| target | size | CF | value | goal | result | fastest rounds |", "|---|---|---|---|---|---|---|"]
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
    L += [f"- models: {ph['models']:.1f} s wall", f"- builds + instruction counts: {ph['builds']:.1f} s wall "
          f"(generate host {pd['generate_s']:.0f} s + aarch64 {pd['a73_generate_s']:.0f} s, compile host "
          f"{pd['compile_s']:.0f} s + aarch64 {pd['a73_compile_s']:.0f} s, summed over {cfg['jobs']} workers)",
          f"- timing: {ph['timing']:.1f} s wall", f"- total: {ph['total']:.1f} s", ""]
    if pd["slowest_compiles"]:
        L += ["Slowest host builds (generated C size, generate and compile seconds):", ""]
        L += [f"- {e['key']} ({e['mode']}, weights {e['weights']}): {e['c_mb']} MB of C/asm, generate {e['generate_s']} s, "
              f"compile {e['compile_s']} s" for e in pd["slowest_compiles"]]
        L.append("")
    for fl in result.get("failures", []):
        L.append(f"- FAILED {fl['what']} {fl['key']} {fl['target']}: {fl['error'].splitlines()[-1][:200]}")
    L += [f"Plot: {result.get('plot')}", ""]
    return "\n".join(L)


MARKERS = {"dense": ("s", "black"), "small": ("v", "tab:gray"), "lmf": ("^", "tab:blue"), "hlf": ("o", "tab:red"),
           "pruned": ("x", "tab:green"), "pruned-sparse": ("+", "tab:olive")}
NAMES = {"dense": "Baseline", "small": "SB", "lmf": "LMF", "hlf": "HLF", "pruned": "P (fastest build)",
         "pruned-sparse": "P (sparse kernels)"}


def write_plot(result: dict, path: Path) -> str:
    """Figure 2 style: speed-up over dense against compression, one marker per scheme, a panel per size."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        msg = "matplotlib not installed (pip install 'hlfgen[bench]'): no PNG"
        log(msg)
        return msg
    sizes = result["config"]["sizes"]
    has_insn = any("insn_speedup" in s for s in result["summary"])
    nmetric = 2 if has_insn else 1
    ncols = min(4, len(sizes))
    size_rows = -(-len(sizes) // ncols)
    fig, axes = plt.subplots(size_rows * nmetric, ncols, figsize=(3.6 * ncols, 3.0 * size_rows * nmetric),
                             squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for i, size in enumerate(sizes):
        col = i % ncols
        for m, (key, title) in enumerate((("speedup", "host time"), ("insn_speedup", "AArch64 insns"))[:nmetric]):
            ax = axes[(i // ncols) * nmetric + m][col]
            ax.set_visible(True)
            for scheme, (mk, color) in MARKERS.items():
                pts = [(1.0 if s["cf"] is None else float(Fraction(s["cf"])), s[key]) for s in result["summary"]
                       if s["size"] == size and s["scheme"] == scheme and key in s]
                if pts:
                    xs, ys = zip(*sorted(pts))
                    ax.plot(xs, ys, marker=mk, color=color, label=NAMES[scheme], linestyle="-" if len(xs) > 1 else "")
            eq5 = sorted((float(Fraction(s["cf"])), s["eq5"]) for s in result["summary"]
                         if s["size"] == size and s["scheme"] == "hlf" and s.get("eq5"))
            if eq5:
                ax.plot(*zip(*eq5), color="tab:red", linestyle=":", label="Eq. 5")
            ax.axhline(1.0, color="black", linewidth=0.5)
            ax.set_title(f"{SIZES[size].label}: {title}", fontsize=9)
            ax.set_xlabel("compression factor", fontsize=8)
            if col == 0:
                ax.set_ylabel("speed-up over dense", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Speed-up over the dense baseline against compression (cf. hlf-paper Figure 2; "
                 f"batch 1, T = {result['config']['steps']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path.name)


def rerender(out_dir: str | os.PathLike, plot: bool = True) -> dict:
    """Re-derive the summary, targets, markdown and PNG from OUT/bench.json (no measuring)."""
    out_dir = Path(out_dir)
    result = json.loads((out_dir / "bench.json").read_text())
    result["summary"] = summarize(result)
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
    res = run_bench(args.out, sizes=args.sizes, cfs=args.cf, ks=tuple(args.k), quick=args.quick, rounds=args.rounds,
                    insn_steps=args.insn_steps,
                    call_s=args.call_ms / 1000 if args.call_ms else None, jobs=args.jobs, insn=not args.no_insn,
                    baselines=not args.no_baselines, plot=not args.no_plot)
    missed = [t for t in res["targets"] if t["met"] is False]
    print(f"wrote {Path(args.out) / 'benchmarks.md'} and bench.json; targets: "
          f"{sum(1 for t in res['targets'] if t['met'])} met, {len(missed)} missed; "
          f"total {res['phases']['total']:.0f} s")
    return 0
