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
  ``qemu-aarch64 -cpu cortex-a72`` (the A73's ISA) with the instruction-count plugin
  (bench/insn_count): runner ``--repeat 2`` minus ``--repeat 1`` at T=16 (INSN_STEPS),
  deterministic; from the same runs, an estimated HiKey 960 (Cortex-A73) time per step:
  instructions by class and the plugin's L1D/L2 cache model through a roofline (count.py
  ``a73_estimate``; docs/benchmarks.md); with ``--ort-aarch64`` the instruction counts of
  onnxruntime's AArch64 build on the same ONNX files (ort_aarch64.py);
* effective weight bandwidth (weight bytes streamed per step / time) against a
  read-bandwidth probe (a small C program) over a buffer of the same size;
* the targets of issue 5, each met or missed by how much;
* with ``--quantize fp16,int8``: the dense and HLF models also built with fp16 / int8 weights (weight
  bytes, instructions and host time per step, each against the fp32 build: "Quantized weights").

Phases: models (ONNX files) -> builds (generate + compile, host and aarch64,
``--jobs`` processes; instruction counts run as soon as an aarch64 build is
done) -> timing (nothing else running).  Everything lands in ``-o DIR``:
``bench.json``, ``benchmarks.md``, ``figure2.png``; builds are kept in
``DIR/work`` and reused by the next run when the model and hlfgen are unchanged.
"""

from __future__ import annotations

import os

# One BLAS thread: the SVDs of the LMF/HLF models run in --jobs worker processes, and a multi-threaded
# OpenBLAS on an oversubscribed machine is ~10x slower (0.64 s vs 7.4 s for one 400x650 SVD here).
# Set before numpy is imported (here, in the parent and in every spawned worker: they import this package first).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# The modules, in import order (each imports only those above it): models (sizes, schemes, ONNX files,
# fingerprints, variants), jobs (worker-process jobs: models, builds, instruction counts), timing
# (interleaved timing, the bandwidth probe bw_probe.c), quantized (the --quantize table), report (summary,
# targets, markdown), plot (Figure 2), run (run_bench, rerender, main_args).
from .jobs import _build_job, _count_job, _eq5, _model_job, _weight_split, find_insn_count  # noqa: E402
from .models import (
    CFS,
    INSN_STEPS,
    MODELS_VERSION,
    PRUNED_MODES,
    QUANT_MODES,
    QUICK_CFS,
    QUICK_SIZES,
    SCHEMES,  # noqa: E402
    SIZES,
    STEPS,
    Size,
    Variant,
    cf_label,
    cf_slug,
    hlfgen_fingerprint,
    log,
    make_model,
    small_hidden_stacked,
    stack_layers,
    variants,
)
from .plot import MARKERS, NAMES, write_plot  # noqa: E402
from .quantized import quantized_markdown, summarize_quantized  # noqa: E402
from .report import evaluate_targets, format_markdown, machine_info, phase_detail, summarize  # noqa: E402
from .run import main_args, rerender, run_bench  # noqa: E402
from .timing import (
    BW_PROBE_SRC,
    MIN_RUNNER_REPEAT,
    build_bw_probe,
    probe_bandwidth,  # noqa: E402
    time_interleaved,
)

__all__ = [
    "BW_PROBE_SRC",
    "CFS",
    "INSN_STEPS",
    "MARKERS",
    "MIN_RUNNER_REPEAT",
    "MODELS_VERSION",
    "NAMES",
    "PRUNED_MODES",
    "QUANT_MODES",
    "QUICK_CFS",
    "QUICK_SIZES",
    "SCHEMES",
    "SIZES",
    "STEPS",
    "Size",
    "Variant",
    "build_bw_probe",
    "cf_label",
    "cf_slug",
    "evaluate_targets",
    "find_insn_count",
    "format_markdown",
    "hlfgen_fingerprint",
    "log",
    "machine_info",
    "main_args",
    "make_model",
    "phase_detail",
    "probe_bandwidth",
    "quantized_markdown",
    "rerender",
    "run_bench",
    "small_hidden_stacked",
    "stack_layers",
    "summarize",
    "summarize_quantized",
    "time_interleaved",
    "variants",
    "write_plot",
    "_build_job",
    "_count_job",
    "_eq5",
    "_model_job",
    "_weight_split",
]
