"""Parity of compiled models with an independent oracle (see conftest.py).

Every case builds a model with tests/models.py, compiles and runs it through
``hlfgen.check.check`` and compares every graph output with onnxruntime (or
its layout-0 rewrite for layout=1) at atol=1e-4, rtol=1e-3.

Default dimensions are odd on purpose (input 7, hidden 13, batch 3) so that
kernel tails (HLF_NR = 8 rows per panel) are exercised.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import models as M
from conftest import assert_parity, run_oracle

I, H, B, T = 7, 13, 3, 5


@dataclass
class Case:
    id: str
    model: dict = field(default_factory=dict)  # rnn_model / stacked_model kwargs
    T: int = T  # sequence length of the inputs
    seq_lens: list | None = None  # sequence_lens values (needs with_seq_lens)
    check_seq_len: int | None | str = "T"  # seq_len= passed to check ("T": = T)
    random_inputs: bool = False  # inputs=None: check() draws them
    batch: int | None = None  # binds a symbolic batch dim (passed to check too)
    stacked: bool = False

    @property
    def seed(self) -> int:
        return zlib.crc32(self.id.encode()) & 0xFFFF


def lstm(**kw):
    return dict(kind="lstm", input_size=I, hidden=H, batch=B, **kw)


def gru(**kw):
    return dict(kind="gru", input_size=I, hidden=H, batch=B, **kw)


def rnn(**kw):
    return dict(kind="rnn", input_size=I, hidden=H, batch=B, **kw)


KINDS = {"lstm": lstm, "gru": gru, "rnn": rnn}
DIRS = ("forward", "reverse", "bidirectional")
CASES: list[Case] = []


def case(id, model=None, **kw):
    CASES.append(Case(id, model or {}, **kw))


# -- kind x direction --------------------------------------------------------
for k, f in KINDS.items():
    for d in DIRS:
        case(f"{k}-{d}", f(direction=d))

# -- sequence_lens per batch entry (0 length: ORT gives zeros in Y, Y_h, Y_c) --
case("seqlens-lstm-forward", lstm(with_seq_lens=True), T=6, seq_lens=[6, 1, 4])
case("seqlens-lstm-bidirectional", lstm(direction="bidirectional", with_seq_lens=True), T=6, seq_lens=[6, 1, 4])
case("seqlens-gru-reverse", gru(direction="reverse", with_seq_lens=True), T=6, seq_lens=[6, 1, 4])
case("seqlens-rnn-bidirectional", rnn(direction="bidirectional", with_seq_lens=True), T=6, seq_lens=[2, 6, 5])
case(
    "seqlens-zero-lstm-bidirectional-initial-states",
    lstm(direction="bidirectional", with_seq_lens=True, with_initial_h=True, with_initial_c=True),
    T=6,
    seq_lens=[6, 0, 4],
)
case("seqlens-zero-gru-forward", gru(with_seq_lens=True, with_initial_h=True), T=6, seq_lens=[0, 6, 2])
case(
    "seqlens-zero-rnn-reverse",
    rnn(direction="reverse", with_seq_lens=True, with_initial_h=True),
    T=6,
    seq_lens=[6, 0, 1],
)
case(
    "seqlens-reverse-initial-states-lstm",
    lstm(direction="reverse", with_seq_lens=True, with_initial_h=True, with_initial_c=True),
    T=6,
    seq_lens=[3, 6, 1],
)

# -- initial states -----------------------------------------------------------
case("initial-h-lstm", lstm(with_initial_h=True))
case("initial-h-c-lstm-bidirectional", lstm(direction="bidirectional", with_initial_h=True, with_initial_c=True))
case("initial-c-only-lstm-reverse", lstm(direction="reverse", with_initial_c=True))
case("initial-h-gru-bidirectional", gru(direction="bidirectional", with_initial_h=True))
case("initial-h-rnn-reverse", rnn(direction="reverse", with_initial_h=True))

# -- bias absent ----------------------------------------------------------------
case("no-bias-lstm-bidirectional", lstm(direction="bidirectional", with_bias=False, with_initial_h=True))
case("no-bias-gru", gru(with_bias=False))
case("no-bias-gru-lbr1", gru(with_bias=False, linear_before_reset=1))
case("no-bias-rnn", rnn(with_bias=False))

# -- peepholes, clip, input_forget ----------------------------------------------
case("peepholes-lstm", lstm(with_peepholes=True, with_initial_c=True))
case(
    "peepholes-lstm-bidirectional",
    lstm(direction="bidirectional", with_peepholes=True, with_initial_h=True, with_initial_c=True),
)
case("peepholes-no-bias-lstm", lstm(with_peepholes=True, with_bias=False))
case("clip-lstm-bidirectional", lstm(direction="bidirectional", clip=0.5))
case("clip-gru", gru(clip=0.4))
case("clip-gru-lbr1-reverse", gru(direction="reverse", clip=0.4, linear_before_reset=1))
case("clip-rnn", rnn(clip=0.3, with_initial_h=True))
case("input-forget-lstm", lstm(input_forget=1, with_initial_c=True))
case(
    "input-forget-peepholes-lstm-bidirectional",
    lstm(direction="bidirectional", input_forget=1, with_peepholes=True, with_initial_c=True),
)
case("input-forget-clip-lstm", lstm(input_forget=1, clip=0.6))

# -- activations (ORT: alphas/betas are consumed in order only by the
#    activations that take them; defaults LeakyRelu 0.01, HardSigmoid
#    0.2/0.5, Elu 1.0, others 0) ---------------------------------------------
RNN_ACTS = {
    "Relu": ([], []),
    "Tanh": ([], []),
    "Sigmoid": ([], []),
    "Affine": ([0.7], [0.15]),
    "LeakyRelu": ([0.07], []),
    "ThresholdedRelu": ([0.15], []),
    "ScaledTanh": ([1.3], [0.6]),
    "HardSigmoid": ([0.3], [0.45]),
    "Elu": ([0.8], []),
    "Softsign": ([], []),
    "Softplus": ([], []),
}
for act, (al, be) in RNN_ACTS.items():
    case(f"act-rnn-{act}", rnn(activations=[act], activation_alpha=al or None, activation_beta=be or None))
case("act-rnn-defaults-LeakyRelu", rnn(activations=["LeakyRelu"]))
case(
    "act-rnn-defaults-bidirectional-HardSigmoid-Elu", rnn(direction="bidirectional", activations=["HardSigmoid", "Elu"])
)
case(
    "act-rnn-bidirectional-ThresholdedRelu-Affine",
    rnn(
        direction="bidirectional",
        activations=["ThresholdedRelu", "Affine"],
        activation_alpha=[0.2, 0.5],
        activation_beta=[0.1],
    ),
)
case("act-rnn-bidirectional-Relu-Softsign", rnn(direction="bidirectional", activations=["Relu", "Softsign"]))
case(
    "act-lstm-HardSigmoid-Softsign-ScaledTanh",
    lstm(
        activations=["HardSigmoid", "Softsign", "ScaledTanh"], activation_alpha=[0.3, 0.8], activation_beta=[0.55, 1.2]
    ),
)
case(
    "act-lstm-bidirectional-per-direction",
    lstm(
        direction="bidirectional",
        activations=["Sigmoid", "Tanh", "Tanh", "HardSigmoid", "Elu", "Softsign"],
        activation_alpha=[0.25, 0.9],
        activation_beta=[0.45],
    ),
)
case(
    "act-lstm-bidirectional-Affine-LeakyRelu-Softplus-ThresholdedRelu",
    lstm(
        direction="bidirectional",
        activations=["Sigmoid", "Affine", "LeakyRelu", "HardSigmoid", "Softplus", "ThresholdedRelu"],
        activation_alpha=[0.6, 0.05, 0.2, 0.1],
        activation_beta=[0.1, 0.5],
    ),
)
case(
    "act-lstm-peepholes-Relu",
    lstm(activations=["Sigmoid", "Relu", "Softsign"], with_peepholes=True),
)
case(
    "act-gru-HardSigmoid-Softsign",
    gru(activations=["HardSigmoid", "Softsign"], activation_alpha=[0.3], activation_beta=[0.6]),
)
case(
    "act-gru-bidirectional-per-direction",
    gru(
        direction="bidirectional",
        activations=["Sigmoid", "ScaledTanh", "HardSigmoid", "Elu"],
        activation_alpha=[0.9, 0.25, 0.8],
        activation_beta=[1.1, 0.45],
    ),
)
case("act-gru-lbr1-Softplus", gru(activations=["Sigmoid", "Softplus"], linear_before_reset=1))

# -- GRU linear_before_reset ------------------------------------------------------
for lbr in (0, 1):
    case(f"gru-lbr{lbr}-forward-initial-h", gru(linear_before_reset=lbr, with_initial_h=True))
    case(f"gru-lbr{lbr}-bidirectional", gru(direction="bidirectional", linear_before_reset=lbr))
case("gru-lbr1-stacked-R", gru(linear_before_reset=1, r_weights=M.hlf_stacked(16, 3)))

# -- layout 1 (batch-major) ----------------------------------------------------------
case("layout1-lstm-forward", lstm(layout=1))
case(
    "layout1-gru-bidirectional-lbr1-initial-h",
    gru(layout=1, direction="bidirectional", linear_before_reset=1, with_initial_h=True),
)
case("layout1-rnn-reverse", rnn(layout=1, direction="reverse"))
case(
    "layout1-lstm-bidirectional-seqlens-states-peepholes",
    lstm(
        layout=1,
        direction="bidirectional",
        with_seq_lens=True,
        with_initial_h=True,
        with_initial_c=True,
        with_peepholes=True,
    ),
    T=6,
    seq_lens=[6, 2, 0],
)

# -- subsets of outputs ('' placeholders) ----------------------------------------------
for outs in (("Y_h",), ("Y",), ("Y_c",), ("Y", "Y_c"), ("Y_h", "Y_c")):
    case("outputs-lstm-" + "+".join(outs), lstm(direction="bidirectional", outputs=outs))
case("outputs-gru-Y_h", gru(outputs=("Y_h",)))
case("outputs-gru-Y", gru(direction="reverse", outputs=("Y",)))
case("outputs-rnn-Y_h", rnn(direction="bidirectional", outputs=("Y_h",)))
case("explicit-default-attributes-lstm", lstm(explicit_defaults=True))
case("explicit-default-attributes-gru", gru(explicit_defaults=True, direction="bidirectional"))

# -- weight structures --------------------------------------------------------------
WEIGHTS = {
    "dense": dict(weights=M.dense()),
    "hlf_per_gate": dict(weights=M.hlf_per_gate(3, 3)),
    "hlf_per_gate-lmf": dict(weights=M.hlf_per_gate(0, 4)),
    "hlf_stacked-j-in-gate0": dict(weights=M.hlf_stacked(7, 5)),
    "hlf_stacked-j-in-gate1": dict(weights=M.hlf_stacked(20, 4)),
    "lmf": dict(weights=M.lmf(6)),
    "mixed": dict(weights=M.mixed([None, (3, 2), (0, 5), None])),
    "mixed-edges-rank1": dict(weights=M.mixed([(12, 2), (1, 3), None, (0, 1)])),
    "W-hlf-R-dense": dict(weights=M.hlf_per_gate(4, 2), r_weights=M.dense()),
    "W-dense-R-hlf_stacked": dict(weights=M.dense(), r_weights=M.hlf_stacked(30, 3)),
    "torch_reorder-j-inside-gate": dict(weights=M.torch_reorder(19, 3)),
    "torch_reorder-lmf": dict(weights=M.torch_reorder(0, 5)),
    "torch_reorder-per-gate": dict(weights=M.torch_reorder(5, 3, per_gate=True)),
    "torch_reorder-torch-bias": dict(weights=M.torch_reorder(19, 3), bias_torch=True),
    "split": dict(weights=M.split_factors(3, 2)),
    "split-lmf": dict(weights=M.split_factors(0, 4)),
    "route-transposed-C": dict(weights=M.hlf_per_gate(3, 3, route=("transpose",), route_on="C")),
    "route-identity": dict(weights=M.hlf_per_gate(3, 3, route=("identity",))),
    "route-reshape": dict(weights=M.hlf_per_gate(3, 3, route=("reshape",))),
    "route-squeeze": dict(weights=M.hlf_per_gate(3, 3, route=("squeeze",))),
    "route-constant": dict(weights=M.hlf_per_gate(3, 3, route=("constant",))),
    "route-identity-transpose-constant": dict(weights=M.hlf_stacked(9, 4, route=("identity", "transpose", "constant"))),
    "route-squeeze-reshape-B": dict(weights=M.hlf_per_gate(3, 3, route=("squeeze", "reshape"), route_on="B")),
    "dense-constant": dict(weights=M.dense(route=("constant",))),
    "dense-identity": dict(weights=M.dense(route=("identity",))),
    "dense-transposed": dict(weights=M.dense(route=("transpose",))),
    "lowrank-not-cheaper": dict(weights=M.hlf_per_gate(2, 12)),
}
for wid, wkw in WEIGHTS.items():
    case(
        f"weights-lstm-{wid}", dict(kind="lstm", input_size=I, hidden=H, batch=2, direction="bidirectional", **wkw), T=4
    )
case("weights-gru-hlf_stacked", gru(weights=M.hlf_stacked(16, 3)))
case("weights-gru-torch_reorder", gru(direction="bidirectional", weights=M.torch_reorder(19, 3), bias_torch=True))
case("weights-gru-mixed", gru(weights=M.mixed([None, (4, 2), (0, 3)])))
case(
    "weights-gru-split-routes",
    gru(weights=M.split_factors(5, 3), r_weights=M.hlf_per_gate(2, 2, route=("transpose", "identity"))),
)
case("weights-rnn-hlf_stacked", rnn(weights=M.hlf_stacked(5, 3)))
case("weights-rnn-lmf", rnn(direction="bidirectional", weights=M.lmf(2)))
case("weights-rnn-slices", rnn(weights=M.torch_reorder(4, 3)))

# -- stacked layers --------------------------------------------------------------------
LSTM2_BIDI = [
    dict(hidden=12, direction="bidirectional", weights=M.torch_reorder(17, 3), bias_torch=True),
    dict(hidden=12, direction="bidirectional", weights=M.hlf_stacked(5, 4)),
]
STACKED = {
    # Final states as separate outputs (Identity of each layer's Y_h).
    "lstm2-forward": dict(layers=[dict(hidden=13), dict(hidden=13)], concat_states=False),
    # Bidirectional: Transpose(perm [0,2,1,3]) -> Reshape([0,0,-1]) as torch writes ...
    "lstm2-bidirectional": dict(layers=LSTM2_BIDI, concat_states=False),
    # ... and with the explicit target [-1, batch, 2H] (no copied 0 dims).
    "lstm2-bidirectional-explicit-reshape": dict(layers=LSTM2_BIDI, concat_states=False, reshape_shape=[-1, 2, "2H"]),
    "gru3-mixed-directions": dict(
        layers=[
            dict(kind="gru", hidden=11),
            dict(kind="gru", hidden=11, direction="bidirectional", linear_before_reset=1),
            dict(kind="gru", hidden=11, direction="reverse", weights=M.lmf(4)),
        ],
        concat_states=False,
    ),
    # h_n / c_n = Concat(axis 0) of the layers' Y_h / Y_c, as torch writes.
    "lstm2-forward-concat-states": dict(layers=[dict(hidden=13), dict(hidden=13)], concat_states=True),
    "lstm-gru-separate-states": dict(
        layers=[
            dict(kind="lstm", hidden=10, direction="bidirectional", weights=M.hlf_stacked(13, 3)),
            dict(kind="gru", hidden=17, weights=M.torch_reorder(20, 4)),
        ],
        concat_states=False,
    ),
}
for sid, skw in STACKED.items():
    case(f"stacked-{sid}", dict(input_size=I, batch=2, **skw), stacked=True, T=6)

# -- batch and sequence length ----------------------------------------------------------
case("batch1-lstm-bidirectional", dict(kind="lstm", input_size=I, hidden=H, batch=1, direction="bidirectional"))
case(
    "batch5-gru-seqlens",
    dict(kind="gru", input_size=I, hidden=H, batch=5, with_seq_lens=True),
    T=7,
    seq_lens=[7, 3, 1, 6, 7],
)
case("seq1-lstm-bidirectional", lstm(direction="bidirectional", with_initial_h=True, with_initial_c=True), T=1)
case("seq1-gru", gru(direction="reverse"), T=1)
case("long-lstm-hidden48", dict(kind="lstm", input_size=20, hidden=48, batch=2, weights=M.hlf_per_gate(16, 8)), T=24)
case("hidden8-gru-exact-panel", dict(kind="gru", input_size=8, hidden=8, batch=2, weights=M.hlf_per_gate(2, 2)))
case("static-seq-dim-lstm", lstm(seq=5), T=5)
case(
    "symbolic-batch-lstm-bidirectional",
    dict(kind="lstm", input_size=I, hidden=H, batch="N", direction="bidirectional", with_initial_h=True),
    batch=4,
)
case("shorter-than-max-seq-lstm", lstm(direction="bidirectional"), T=3, check_seq_len=8)
case("shorter-than-max-seq-gru-seqlens", gru(with_seq_lens=True), T=3, seq_lens=[3, 1, 2], check_seq_len=8)
case("inputs-only-no-seq-len-rnn", rnn(), T=4, check_seq_len=None)
case("random-inputs-lstm", lstm(with_initial_h=True), T=6, random_inputs=True)
case("random-inputs-gru-seqlens", gru(with_seq_lens=True, direction="bidirectional"), T=6, random_inputs=True)

# -- opset 7 ------------------------------------------------------------------------------
case(
    "opset7-lstm-bidirectional-torch_reorder", lstm(opset=7, direction="bidirectional", weights=M.torch_reorder(19, 3))
)
case(
    "opset7-gru-split-lbr1",
    gru(opset=7, weights=M.split_factors(3, 2), linear_before_reset=1, with_seq_lens=True),
    seq_lens=[5, 2, 4],
)
case(
    "opset7-rnn-bidirectional-squeeze",
    rnn(opset=7, direction="bidirectional", weights=M.hlf_per_gate(3, 3, route=("squeeze",))),
)
case("opset7-lstm-peepholes-states", lstm(opset=7, with_peepholes=True, with_initial_h=True, with_initial_c=True))
case("opset14-lstm-peepholes-states", lstm(opset=14, with_peepholes=True, with_initial_h=True, with_initial_c=True))

_ids = [c.id for c in CASES]
assert len(_ids) == len(set(_ids)), "duplicate case ids"


def build(c: Case):
    if c.stacked:
        return M.stacked_model(seed=c.seed, **c.model)
    return M.rnn_model(seed=c.seed, **c.model)


@pytest.mark.parametrize("c", CASES, ids=_ids)
def test_parity(c: Case, work, target):
    mdir, wdir = work
    model = build(c)
    path = M.save(model, mdir / "model.onnx")
    kw = {"work_dir": str(wdir), "target": target}
    if c.check_seq_len == "T":
        kw["seq_len"] = c.T
    elif c.check_seq_len is not None:
        kw["seq_len"] = c.check_seq_len
    if c.batch is not None:
        kw["batch"] = c.batch
    if c.random_inputs:
        report = assert_parity(path, None, **kw)
        x = report.inputs["X"]
        assert x.shape[0] == c.T, f"check(seq_len={c.T}) drew X of shape {x.shape}"
        return
    inputs = M.make_inputs(model, c.T, batch=c.batch, seed=c.seed + 1, seq_lens=c.seq_lens)
    report = assert_parity(path, inputs, **kw)
    layout0 = c.model.get("layout", 0) == 0
    for name, arr in report.outputs.items():
        # Y's sequence axis follows the inputs, not the build's max_seq_len.
        if name == "Y" and layout0:
            assert arr.shape[0] == c.T
    if c.seq_lens is not None and layout0:
        # What onnxruntime does, spelled out: steps past an entry's length
        # are zero in Y, and an entry of length 0 has zero final states
        # (not its initial_h / initial_c).
        y = report.outputs.get("Y")
        for b, n in enumerate(c.seq_lens):
            if y is not None:
                assert not y[n:, :, b].any(), f"Y[{n}:, :, {b}] not zero past sequence_lens"
            if n == 0:
                for name in ("Y_h", "Y_c"):
                    if name in report.outputs:
                        assert not report.outputs[name][:, b].any(), f"{name}[:, {b}] not zero for length 0"


# --------------------------------------------------------------------------
# Builder sanity (no compiler): the structures really are what they claim.
# --------------------------------------------------------------------------


def _eval_tensor(model: onnx.ModelProto, name: str, seq_len: int = 2) -> np.ndarray:
    import onnxruntime as ort

    m = onnx.ModelProto()
    m.CopyFrom(model)
    m.graph.output.append(helper.make_value_info(name, onnx.TypeProto()))
    m.graph.output[-1].type.tensor_type.elem_type = TensorProto.FLOAT
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run([name], M.make_inputs(model, seq_len))[0]


def _const_value(model: onnx.ModelProto, name: str) -> np.ndarray:
    for t in model.graph.initializer:
        if t.name == name:
            return onnx.numpy_helper.to_array(t)
    raise KeyError(name)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_builder_torch_reorder_is_onnx_gate_order(kind):
    """torch_reorder: the W the graph computes equals the PyTorch-ordered
    A'/B·C matrix with its gate blocks permuted to ONNX order."""
    hid, n = 6, 5
    model = M.rnn_model(kind, n, hid, weights=M.torch_reorder(8, 2), with_bias=False)
    rnn_node = [nd for nd in model.graph.node if nd.op_type in ("LSTM", "GRU")][0]
    w = _eval_tensor(model, rnn_node.input[1])[0]
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    a = next(v for k, v in inits.items() if k.startswith("lstm0.W.d0.hlf_A") or k.startswith("gru0.W.d0.hlf_A"))
    b = next(v for k, v in inits.items() if ".W.d0.hlf_B" in k)
    cc = next(v for k, v in inits.items() if ".W.d0.hlf_C" in k)
    torch_w = np.concatenate([a, b @ cc])
    blocks = [torch_w[i * hid : (i + 1) * hid] for i in range(M.NUM_GATES[kind])]
    order = [0, 3, 1, 2] if kind == "lstm" else [1, 0, 2]
    np.testing.assert_allclose(w, np.concatenate([blocks[i] for i in order]), rtol=1e-6, atol=1e-6)
    assert any(nd.op_type == "Slice" for nd in model.graph.node)


@pytest.mark.parametrize(
    "spec",
    [
        M.hlf_per_gate(3, 2),
        M.hlf_stacked(5, 3),
        M.lmf(3),
        M.mixed([None, (2, 2), (0, 3), None]),
        M.torch_reorder(10, 3),
        M.split_factors(2, 2),
        M.hlf_per_gate(2, 2, route=("identity", "transpose", "constant")),
        M.hlf_per_gate(2, 2, route=("reshape",)),
        M.hlf_per_gate(2, 2, route=("squeeze",)),
    ],
    ids=lambda s: s.label(),
)
def test_builder_keeps_factors(spec):
    """Factored structures reach the LSTM through MatMul nodes (no folded
    weight initializer of the full W shape), and the model runs in ORT."""
    model = M.rnn_model("lstm", 5, 7, direction="bidirectional", weights=spec, opset=14)
    full_shapes = {(2, 28, 5), (1, 28, 5), (28, 5)}
    assert not any(tuple(t.dims) in full_shapes for t in model.graph.initializer)
    assert sum(nd.op_type == "MatMul" for nd in model.graph.node) >= 2 * 2  # W and R, 2 directions
    name, out = run_oracle_model(model)
    assert out["Y"].shape == (2, 2, 1, 7) and np.isfinite(out["Y"]).all()


def run_oracle_model(model, T_=2):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p = M.save(model, Path(d) / "m.onnx")
        return run_oracle(p, M.make_inputs(model, T_))


# --------------------------------------------------------------------------
# Bad models: a one-line HlfgenError, not a crash
# --------------------------------------------------------------------------


def _weights_as_inputs_model():
    model = M.rnn_model("lstm", I, H, weights=M.dense())
    g = model.graph
    w_name = g.node[-1].input[1]
    w = next(t for t in g.initializer if t.name == w_name)
    g.input.append(helper.make_tensor_value_info(w_name, TensorProto.FLOAT, list(w.dims)))
    g.initializer.remove(w)
    return model


def _non_constant_factor_model():
    """A factor B that depends on X: W is not constant."""
    model = M.rnn_model("gru", I, H, weights=M.hlf_stacked(0, 3), with_bias=False)
    g = model.graph
    b_name = next(t.name for t in g.initializer if ".W.d0.hlf_B" in t.name)
    # B' = B + ReduceSum(X) * 0   (a data dependency, value unchanged)
    g.node.insert(0, helper.make_node("ReduceSum", ["X"], ["xsum"], keepdims=0))
    g.node.insert(1, helper.make_node("Mul", ["xsum", "zero"], ["xzero"]))
    g.node.insert(2, helper.make_node("Add", [b_name, "xzero"], ["B_dyn"]))
    g.initializer.append(onnx.numpy_helper.from_array(np.zeros((), np.float32), "zero"))
    for nd in g.node:
        if nd.op_type == "MatMul" and nd.input[0] == b_name:
            nd.input[0] = "B_dyn"
    onnx.checker.check_model(model)
    return model


@pytest.mark.parametrize(
    "make", [_weights_as_inputs_model, _non_constant_factor_model], ids=["W-graph-input", "B-depends-on-X"]
)
def test_non_constant_weights_rejected(make, work):
    from hlfgen.check import check
    from hlfgen.errors import HlfgenError

    mdir, wdir = work
    path = M.save(make(), mdir / "bad.onnx")
    with pytest.raises(HlfgenError) as ei:
        check(str(path), seq_len=3, work_dir=str(wdir))
    msg = str(ei.value)
    assert msg and "\n" not in msg.strip(), f"message not one line: {msg!r}"
