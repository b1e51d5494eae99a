"""Parity: build the model, run the runner, compare with onnxruntime.

Tolerance: |ours - oracle| <= ATOL + RTOL * |oracle| element-wise, with
ATOL = 1e-4 and RTOL = 1e-3.  Both sides compute in float32 but in a
different order (packed GEMV accumulation, Algorithm 1's B·(C·x) instead of
onnxruntime's (B·C)·x folded at load time, libm versus MLAS approximations of
sigmoid/tanh, whose errors are ~1e-6 relative); these differences are a few
float32 ulps per step and grow slowly through the recurrence.  1e-4 absolute
is far above that noise on gate outputs bounded by 1, and far below the
effect of any real bug (a wrong gate order, transpose or missed segment
changes outputs by ~1e-1).

A ``--quantize fp16|int8`` build is compared with the fp32 model (onnxruntime on
the original file) with an absolute tolerance widened by the quantization's
effect: onnxruntime runs the model with every weight matrix perturbed by
random noise of the quantization's size (quant.weight_noise), and
quant.TOL_FACTOR times the largest output change this makes is added to ATOL
(docs/quantization.md derives it).  A QDQ file's weights kept as the file's
int8 (hlfgen/qdq.py) are exact: their noise is that of the kernels' input
quantization only (quant.ACTIVATIONS), and onnxruntime runs the file with its
basic graph optimizations (keeps_dequantize).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from . import dims as D
from . import quant
from .build import compile_out, generate, run_runner
from .cnames import output_stems
from .errors import HlfgenError
from .ir import Model
from .reader import load_onnx, read_model

ATOL = 1e-4
RTOL = 1e-3
DEFAULT_SEQ_LEN = 16


@dataclass
class OutputCheck:
    name: str
    max_abs: float
    max_rel: float
    ok: bool
    shape_ok: bool = True


@dataclass
class CheckReport:
    ok: bool
    oracle: str
    rows: list[OutputCheck]
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    expected: dict[str, np.ndarray] = field(default_factory=dict)
    atol: float = ATOL
    rtol: float = RTOL
    quant_atol: dict[str, float] = field(default_factory=dict)  # --quantize: per output, the tolerance added

    def format(self) -> str:
        lines = [
            f"oracle: {self.oracle}; tolerance |diff| <= {self.atol:g} + {self.rtol:g}*|expected|"
            + (" + the quantization's effect (per output below)" if self.quant_atol else "")
        ]
        for name, q in self.quant_atol.items():
            lines.append(f"  {name}: + {q:.3e} (quantization: docs/quantization.md, Tolerance)")
        lines.append(f"{'output':<24} {'max abs err':>12} {'max rel err':>12}  result")
        for r in self.rows:
            verdict = "ok" if r.ok else ("SHAPE MISMATCH" if not r.shape_ok else "MISMATCH")
            lines.append(f"{r.name:<24} {r.max_abs:>12.3e} {r.max_rel:>12.3e}  {verdict}")
        lines.append("PASS" if self.ok else "FAIL")
        return "\n".join(lines)


def run_dims(model: Model, seq_len: int, dims: dict[str, int] | None = None) -> dict[str, int]:
    """Values of the run-time dimensions: the sequence symbol at seq_len, others from dims (else min(max, seq_len))."""
    dims = dims or {}
    return {
        d.name: dims.get(d.name, seq_len if d.name == model.seq_symbol else min(d.max, seq_len)) for d in model.dims
    }


def random_inputs(
    model: Model, seq_len: int, seed: int = 0, dims: dict[str, int] | None = None
) -> dict[str, np.ndarray]:
    """Seeded random inputs for every graph input (T = seq_len; other run-time dimensions: run_dims)."""
    rng = np.random.default_rng(seed)
    env = run_dims(model, seq_len, dims)
    feeds = {}
    for t in model.inputs:
        shape = tuple(D.evaluate(d, env) for d in t.shape)
        if t.dtype == "bool":  # masks
            feeds[t.name] = rng.random(shape) < 0.5
        elif t.dtype in ("int32", "int64") and isinstance(t.int_range, tuple):  # e.g. token ids
            feeds[t.name] = rng.integers(t.int_range[0], t.int_range[1], size=shape).astype(t.dtype)
        elif t.dtype in ("int32", "int64"):  # sequence_lens: lengths in 1..T, one entry full length
            lens = rng.integers(1, seq_len + 1, size=shape)
            if lens.size:
                lens.reshape(-1)[0] = seq_len
            feeds[t.name] = lens.astype(t.dtype)
        else:
            scale = 1.0 if "initial" not in t.name else 0.5
            feeds[t.name] = (rng.standard_normal(shape) * scale).astype(np.float32)
    return feeds


def layout0_twin(proto: onnx.ModelProto) -> onnx.ModelProto | None:
    """The same model with every layout=1 recurrent node in layout 0, between Transposes.

    onnxruntime refuses layout=1, and onnx.reference ignores sequence_lens,
    activations and clip; ONNX defines layout=1 as the transposed layout 0,
    so onnxruntime on this twin is the oracle.  None if no node has layout=1.
    """
    twin = onnx.ModelProto()
    twin.CopyFrom(proto)
    nodes, changed = [], False
    for i, node in enumerate(twin.graph.node):
        layout = next((a.i for a in node.attribute if a.name == "layout"), 0)
        if node.op_type not in ("LSTM", "GRU", "RNN") or layout != 1:
            nodes.append(node)
            continue
        changed = True
        ins, outs = list(node.input), list(node.output)
        for pos in (0, 5, 6):  # X [B,T,I] -> [T,B,I]; initial_h/initial_c [B,D,H] -> [D,B,H]
            if pos < len(ins) and ins[pos]:
                nodes.append(helper.make_node("Transpose", [ins[pos]], [f"{ins[pos]}__l0_{i}"], perm=[1, 0, 2]))
                ins[pos] = f"{ins[pos]}__l0_{i}"
        post = []
        for pos, perm in ((0, [2, 0, 1, 3]), (1, [1, 0, 2]), (2, [1, 0, 2])):  # Y [T,D,B,H] -> [B,T,D,H]
            if pos < len(outs) and outs[pos]:
                post.append(helper.make_node("Transpose", [f"{outs[pos]}__l0_{i}"], [outs[pos]], perm=perm))
                outs[pos] = f"{outs[pos]}__l0_{i}"
        twin_node = helper.make_node(node.op_type, ins, outs, name=node.name)
        twin_node.attribute.extend(a for a in node.attribute if a.name != "layout")
        nodes += [twin_node] + post
    if not changed:
        return None
    del twin.graph.node[:]
    twin.graph.node.extend(nodes)
    del twin.graph.value_info[:]
    return twin


def keeps_dequantize(proto: onnx.ModelProto) -> bool:
    """A QDQ file: onnxruntime's extended graph optimizations would replace DequantizeLinear -> MatMul by
    its own MatMulNBits, which quantizes the activations (not the file's math: fp32 products of the
    dequantized weights); the oracle runs such a file with the basic (exact) optimizations only."""
    return any(n.op_type == "DequantizeLinear" for n in proto.graph.node)


def _onnxruntime(model: onnx.ModelProto | str, names, inputs, basic: bool = False) -> list:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    if basic:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    src = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"]).run(names, inputs)


def oracle_outputs(model_path: str | os.PathLike, inputs: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], str]:
    """Outputs from onnxruntime (on the layout-0 twin for layout=1), else from onnx.reference."""
    proto = load_onnx(model_path)
    names = [o.name for o in proto.graph.output]
    twin = layout0_twin(proto)
    basic = keeps_dequantize(proto)
    how = " (basic graph optimizations: DequantizeLinear kept)" if basic else ""
    try:
        if twin is not None:
            return dict(zip(names, _onnxruntime(twin, names, inputs, basic))), "onnxruntime (layout-0 twin)" + how
        return dict(zip(names, _onnxruntime(str(model_path), names, inputs, basic))), "onnxruntime" + how
    except Exception as ort_error:  # a model onnxruntime refuses
        from onnx.reference import ReferenceEvaluator

        try:
            res = ReferenceEvaluator(proto).run(names, inputs)
        except Exception as ref_error:
            raise HlfgenError(
                f"no oracle can run this model (onnxruntime: {_first_line(ort_error)}; "
                f"onnx.reference: {_first_line(ref_error)})"
            ) from None
        return dict(zip(names, (np.asarray(r) for r in res))), "onnx.reference"


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def quantization_tolerance(
    model_path,
    inputs: dict[str, np.ndarray],
    expected: dict[str, np.ndarray],
    mode: str,
    seed: int = 0,
    qdq_mode: str = "none",
) -> dict[str, float]:
    """Per output: TOL_FACTOR x the largest change onnxruntime sees when every weight matrix
    (float initializers with two or more axes longer than 1: biases and peepholes stay exact) is
    perturbed by quant.weight_noise, over TOL_REALIZATIONS random perturbations.  The outputs of
    DequantizeLinear on such integer initializers (QDQ weights) are perturbed with qdq_mode's noise:
    quant.ACTIVATIONS when the build keeps them as the file's int8."""
    proto = load_onnx(model_path)
    names = list(expected)
    rng = np.random.default_rng(seed + 7919)
    worst = {n: 0.0 for n in names}
    for _ in range(quant.TOL_REALIZATIONS):
        twin = onnx.ModelProto()
        twin.CopyFrom(proto)
        for init in twin.graph.initializer:
            if init.data_type != onnx.TensorProto.FLOAT or sum(d > 1 for d in init.dims) < 2:
                continue
            a = numpy_helper.to_array(init)
            init.CopyFrom(numpy_helper.from_array((a + quant.weight_noise(a, mode, rng)).astype(np.float32), init.name))
        if qdq_mode != "none":
            _perturb_qdq(twin, qdq_mode, rng)
        twin = layout0_twin(twin) or twin
        for name, got in zip(names, _onnxruntime(twin, names, inputs, keeps_dequantize(proto))):
            diff = np.abs(np.asarray(got, np.float64) - np.asarray(expected[name], np.float64))
            worst[name] = max(worst[name], float(diff.max()) if diff.size else 0.0)
    return {n: quant.TOL_FACTOR * w for n, w in worst.items()}


def _perturb_qdq(twin: onnx.ModelProto, mode: str, rng: np.random.Generator) -> None:
    """Add quant.weight_noise(mode) of the dequantized values after every DequantizeLinear of an integer
    weight initializer (two or more axes longer than 1) of the main graph."""
    from .fold import dequantize_linear

    inits = {t.name: t for t in twin.graph.initializer}
    nodes = []
    for i, node in enumerate(twin.graph.node):
        nodes.append(node)
        ins = [inits.get(n) if n else None for n in node.input]
        if node.op_type != "DequantizeLinear" or any(n and t is None for n, t in zip(node.input, ins)):
            continue
        vals = [numpy_helper.to_array(t) if t is not None else None for t in ins]
        if vals[0].dtype.kind not in "iu" or sum(d > 1 for d in vals[0].shape) < 2:
            continue
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        y = dequantize_linear(vals, {"axis": axis})
        if y is None:
            continue
        noise = f"{node.output[0]}__qnoise{i}"
        twin.graph.initializer.append(numpy_helper.from_array(quant.weight_noise(y, mode, rng), noise))
        out = node.output[0]
        node.output[0] = f"{out}__deq{i}"
        nodes.append(helper.make_node("Add", [node.output[0], noise], [out]))
    del twin.graph.node[:]
    twin.graph.node.extend(nodes)


def qdq_tolerance_mode(prog, mode: str) -> str:
    """The noise of the tolerance model for a build's DequantizeLinear weights (quant.weight_noise)."""
    kept = {m["qdq"] for m in prog.matrices}
    if mode == "fp16" or (mode == "int8" and "refused" in kept):
        return mode  # rounded to fp16, or re-quantized
    return quant.ACTIVATIONS if "int8" in kept else "none"


def compare(outputs, expected, atol=ATOL, rtol=RTOL, extra: dict[str, float] | None = None) -> list[OutputCheck]:
    rows = []
    for name, exp in expected.items():
        atol_n = atol + (extra or {}).get(name, 0.0)
        got = outputs.get(name)
        exp = np.asarray(exp, np.float32)
        if got is None or got.shape != exp.shape:
            rows.append(OutputCheck(name, float("inf"), float("inf"), False, shape_ok=False))
            continue
        diff = np.abs(got.astype(np.float64) - exp.astype(np.float64))
        max_abs = float(diff.max()) if diff.size else 0.0
        max_rel = float((diff / np.maximum(np.abs(exp), 1e-30)).max()) if diff.size else 0.0
        ok = bool(np.all(diff <= atol_n + rtol * np.abs(exp))) and not np.isnan(got).any()
        rows.append(OutputCheck(name, max_abs, max_rel, ok))
    return rows


def check(
    model_path: str | os.PathLike,
    *,
    target: str = "host",
    seed: int = 0,
    seq_len: int | None = None,
    batch: int | None = None,
    inputs: dict[str, np.ndarray] | None = None,
    work_dir: str | os.PathLike | None = None,
    compiler: str = "gcc",
    runner: str | None = None,
    stream: bool = False,
    sanitize: bool = False,
    sparse: str = "auto",
    weights: str = "auto",
    quantize: str = "auto",
    dims: dict[str, int] | None = None,
    max_dims: dict[str, int] | None = None,
) -> CheckReport:
    """Build model_path for target, run it on seeded random (or given) inputs, compare with the oracle.

    quantize: a --quantize build, compared with the fp32 model within the quantization's tolerance.
    dims: symbols fixed at build time (hlfgen build --dim); max_dims: run-time symbols' maxima (the
    random inputs use them as the values; the sequence symbol takes seq_len).
    """
    own = work_dir is None
    work = Path(tempfile.mkdtemp(prefix="hlfgen-check-")) if own else Path(work_dir)
    max_dims = dict(max_dims or {})
    try:
        if inputs is not None:
            seq_len, given = _dims_of(model_path, inputs, batch, dims, max_dims)
            seq_len = seq_len or DEFAULT_SEQ_LEN
            max_dims = {**given, **max_dims}
        if seq_len is None:  # a model with a static sequence length runs at that length (onnxruntime insists)
            seq_len = (
                read_model(model_path, batch=batch, dims=dims, max_dims=max_dims).static_seq_len or DEFAULT_SEQ_LEN
            )
        gen = generate(
            model_path,
            work / "out",
            target=target,
            batch=batch,
            max_seq_len=seq_len,
            sparse=sparse,
            weights=weights,
            quantize=quantize,
            dims=dims,
            max_dims=max_dims,
        )
        feeds = inputs if inputs is not None else random_inputs(gen.model, seq_len, seed, max_dims)
        expected, oracle = oracle_outputs(model_path, feeds)
        exe = compile_out(gen.out_dir, work / "build", target=target, compiler=compiler, sanitize=sanitize)
        outputs, _ = run_runner(exe, feeds, target=target, work_dir=work / "run", stream=stream, runner_spec=runner)
        by_name = {}
        for t, key in zip(gen.model.outputs, output_stems([t.name for t in gen.model.outputs])):
            if key in outputs:
                by_name[t.name] = outputs[key]
        # an explicit fp16/int8 build against the fp32 model; auto's fp16 (float16 weights) is the file's own math;
        # QDQ weights kept as the file's int8: only the quantization of the kernels' inputs
        mode = quantize if quantize in ("fp16", "int8") else "none"
        qdq_mode = qdq_tolerance_mode(gen.program, mode)
        extra = (
            quantization_tolerance(model_path, feeds, expected, mode, seed, qdq_mode)
            if mode != "none" or qdq_mode != "none"
            else {}
        )
        if any(layer.qweights is not None for layer in gen.model.layers):  # onnxruntime's DynamicQuantizeLSTM
            extra = {n: extra.get(n, 0.0) + quant.ORT_DYNAMIC_ATOL for n in expected}
        rows = compare(by_name, expected, extra=extra)
        return CheckReport(all(r.ok for r in rows), oracle, rows, feeds, by_name, expected, quant_atol=extra)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def _dims_of(model_path, inputs, batch, dims, max_dims) -> tuple[int | None, dict[str, int]]:
    """The run-time dimensions of user-given inputs: (sequence length or None, other symbols' values)."""
    from .reader import read_model

    model = read_model(model_path, batch=batch, dims=dims, max_dims=max_dims)
    found: dict[str, int] = {}
    for t in model.inputs:
        if t.name in inputs:
            shape = np.asarray(inputs[t.name]).shape
            for axis, d in enumerate(t.shape):
                lin = D.linear_in(d)
                if lin is not None and axis < len(shape):
                    found.setdefault(lin[1], int(shape[axis]) // lin[0])
    seq = found.pop(model.seq_symbol, None) if model.seq_symbol else None
    return seq, {k: max(v, 1) for k, v in found.items()}
