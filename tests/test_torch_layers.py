"""hlfgen.torch: HLFLSTM / HLFGRU layers, from_dense, export keeping the factors.

* the layers equal nn.LSTM / nn.GRU holding the expanded weights [A' ; B·C]
  (copied by hand here, not through the layers' own to_dense);
* from_dense keeps A' exactly and its error is the SVD tail of the lower rows
  (numpy's SVD); parameter counts are Eq. 4's denominator, j from Eq. 4;
* export keeps MatMul(B, C) (inspect: HLF / LMF, not folded-dense), refuses a
  folded export naming the matrix, and single-layer models compile and match
  onnxruntime (hlfgen.check.check) and PyTorch at another sequence length.
  Whole exports with glue operators (Reshape, batch_first Transposes, Concat
  of h_n, Slice of h0, an embedding) compile and match too.
"""

from __future__ import annotations

from fractions import Fraction

from pathlib import Path

import warnings

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from hlfgen import hlf  # noqa: E402
from hlfgen.check import check  # noqa: E402
from hlfgen.errors import HlfgenError  # noqa: E402
from hlfgen.inspect import inspect_model  # noqa: E402
from hlfgen.torch import HLFGRU, HLFLSTM, HLFWeight, export, from_dense  # noqa: E402

CLS = {"LSTM": (HLFLSTM, nn.LSTM), "GRU": (HLFGRU, nn.GRU)}


def dense_copy(m) -> nn.Module:
    """nn.LSTM / nn.GRU with m's weights expanded as [A' ; B·C], block by block."""
    cls = CLS[m.mode][1]
    p = next(m.parameters())
    d = cls(m.input_size, m.hidden_size, m.num_layers, m.bias, m.batch_first, 0.0, m.bidirectional, dtype=p.dtype)
    with torch.no_grad():
        for name, param in d.named_parameters():
            src = getattr(m, name)
            if isinstance(src, HLFWeight):
                blocks = [torch.cat([b.A, b.B @ b.C]) for b in src.gates.values()]
                param.copy_(torch.cat(blocks))
            else:
                param.copy_(src)
    return d.eval()


def _out_tensors(out):
    y, h = out
    return [y] + (list(h) if isinstance(h, tuple) else [h])


CONFIGS = [  # num_layers, bidirectional, batch_first, per_gate, (compression | j), k
    dict(num_layers=1, bidirectional=False, batch_first=False, per_gate=True, compression=2, k=1),
    dict(num_layers=2, bidirectional=False, batch_first=False, per_gate=False, compression="5/3", k=2),
    dict(num_layers=1, bidirectional=True, batch_first=True, per_gate=True, compression=2.5, k=1),
    dict(num_layers=2, bidirectional=True, batch_first=False, per_gate=True, j=3, k=2),
    dict(num_layers=2, bidirectional=False, batch_first=True, per_gate=False, j=0, k=4),  # LMF
]


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("cfg", range(len(CONFIGS)))
@pytest.mark.parametrize("with_hx", [False, True])
def test_layer_matches_dense(mode, cfg, with_hx):
    torch.manual_seed(cfg)
    kw = dict(CONFIGS[cfg])
    m = CLS[mode][0](5, 12, **kw).eval()
    d = dense_copy(m)
    B, T = 3, 7
    x = torch.randn((B, T, 5) if kw["batch_first"] else (T, B, 5))
    nstate = kw["num_layers"] * (2 if kw["bidirectional"] else 1)
    hx = None
    if with_hx:
        h0 = torch.randn(nstate, B, 12)
        hx = (h0, torch.randn(nstate, B, 12)) if mode == "LSTM" else h0
    with torch.no_grad():
        got, want = _out_tensors(m(x, hx)), _out_tensors(d(x, hx))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        torch.testing.assert_close(g, w, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_unbatched_input_and_gradients(mode):
    torch.manual_seed(1)
    m = CLS[mode][0](4, 8, compression=2, k=1)
    d = dense_copy(m)
    x = torch.randn(6, 4)  # unbatched (T, input_size), as nn.LSTM accepts
    h0 = torch.randn(1, 8)
    hx = (h0, torch.randn(1, 8)) if mode == "LSTM" else h0
    got, want = _out_tensors(m(x, hx)), _out_tensors(d(x, hx))
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-6, rtol=1e-5)
    got[0].sum().backward()  # trains: gradients reach every factor
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert m.weight_ih_l0.gates["i" if mode == "LSTM" else "r"].C.grad.abs().sum() > 0


def test_gate_order_and_names():
    m = HLFLSTM(4, 6, compression=2, num_layers=1, bidirectional=True)
    assert list(m.weight_ih_l0.gates) == ["i", "f", "g", "o"]  # PyTorch order
    assert list(HLFGRU(4, 6, compression=2).weight_hh_l0.gates) == ["r", "z", "n"]
    assert list(HLFGRU(4, 6, compression=2, per_gate=False).weight_hh_l0.gates) == ["rzn"]
    assert set(m.expanded_state_dict()) == set(nn.LSTM(4, 6, bidirectional=True).state_dict())
    names = {n for n, _ in m.named_parameters()}
    assert "weight_hh_l0_reverse.gates.g.B" in names and "bias_ih_l0_reverse" in names
    assert m.weight_ih_l0.shape == (24, 4)


def test_to_dense_round_trip():
    torch.manual_seed(2)
    m = HLFGRU(5, 9, num_layers=2, compression=2).eval()
    x = torch.randn(4, 2, 5)
    with torch.no_grad():
        for g, w in zip(_out_tensors(m(x)), _out_tensors(m.to_dense()(x))):
            torch.testing.assert_close(g, w, atol=1e-6, rtol=1e-5)


def test_layer_errors():
    x = torch.randn(5, 2, 4)
    m = HLFLSTM(4, 6, compression=2)
    packed = nn.utils.rnn.pack_padded_sequence(x, [5, 3])
    with pytest.raises(HlfgenError, match="PackedSequence"):
        m(packed)
    with pytest.raises(HlfgenError, match="proj_size"):
        HLFLSTM(4, 6, proj_size=3, compression=2)
    with pytest.raises(HlfgenError, match="exactly one of compression"):
        HLFLSTM(4, 6)
    with pytest.raises(HlfgenError, match="exactly one of compression"):
        HLFLSTM(4, 6, compression=2, j=1)
    with pytest.raises(HlfgenError, match=r"weight_ih_l0: a 6x4 block with k=3 cannot reach compression 2"):
        HLFLSTM(4, 6, compression=2, k=3)
    with pytest.raises(HlfgenError, match="j=9 is outside"):
        HLFGRU(4, 6, j=9)
    with pytest.raises(RuntimeError, match="input_size"):
        m(torch.randn(5, 2, 3))
    with pytest.raises(RuntimeError, match="Expected hidden"):
        m(x, (torch.zeros(2, 2, 6), torch.zeros(1, 2, 6)))
    with pytest.raises(HlfgenError, match="nn.LSTM or nn.GRU"):
        from_dense(nn.RNN(4, 6), compression=2)


# ---------------------------------------------------------------- from_dense, Eq. 4


def _svd_tail(block: np.ndarray, j: int, k: int) -> float:
    s = np.linalg.svd(block[j:], compute_uv=False)
    return float(np.sqrt(np.sum(s[k:] ** 2)))


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("per_gate, cf, k", [(True, 2, 1), (True, "5/3", 2), (False, 2, 2)])
def test_from_dense_error_is_svd_tail(mode, per_gate, cf, k):
    torch.manual_seed(3)
    dense = CLS[mode][1](7, 12, num_layers=2, bidirectional=True, dtype=torch.float64).eval()
    m = from_dense(dense, cf, k=k, per_gate=per_gate)
    assert isinstance(m, CLS[mode][0]) and not m.training
    expanded = m.expanded_state_dict()
    for name, w in m.hlf_weights().items():
        W = getattr(dense, name).detach().numpy()
        E = expanded[name].numpy()
        row, tails = 0, []
        for blk in w.gates.values():
            Wb = W[row : row + blk.m]
            assert blk.j == hlf.hlf_j_for(blk.m, blk.n, k, cf)
            np.testing.assert_array_equal(E[row : row + blk.j], Wb[: blk.j])  # A' kept exactly
            err = np.linalg.norm(E[row : row + blk.m] - Wb)
            tail = _svd_tail(Wb, blk.j, k)
            assert err == pytest.approx(tail, rel=1e-9, abs=1e-12), f"{name} block {blk}"
            tails.append(tail)
            row += blk.m
        assert np.linalg.norm(E - W) == pytest.approx(np.sqrt(np.sum(np.square(tails))), rel=1e-9)
    for name, p in dense.named_parameters():
        if name.startswith("bias"):
            torch.testing.assert_close(getattr(m, name), p, atol=0, rtol=0)


def test_from_dense_low_rank_is_exact():
    """A matrix of rank <= k below row j is reproduced exactly (float32)."""
    torch.manual_seed(4)
    dense = nn.LSTM(6, 10).eval()
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0"):
            w = getattr(dense, name)
            w.copy_(torch.randn(40, 2) @ torch.randn(2, w.shape[1]) * 0.3)
    m = from_dense(dense, 1.5, k=2, per_gate=False)
    x = torch.randn(5, 2, 6)
    with torch.no_grad():
        for g, w in zip(_out_tensors(m(x)), _out_tensors(dense(x))):
            torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("per_gate", [True, False])
def test_parameter_counts_match_eq4(mode, per_gate):
    cf, k = "5/3", 2
    m = CLS[mode][0](64, 128, num_layers=2, bidirectional=True, compression=cf, k=k, per_gate=per_gate)
    g = 4 if mode == "LSTM" else 3
    total = 0
    for info in m.hlf_info():
        w = getattr(m, info["name"])
        rows, n = info["shape"]
        block_m = rows // g if per_gate else rows
        j = hlf.hlf_j_for(block_m, n, k, cf)
        assert all(b == (nm, j, k) for b, nm in zip(info["blocks"], w.gates))
        params = sum(p.numel() for p in w.parameters())
        nblocks = g if per_gate else 1
        assert params == info["params"] == nblocks * hlf.hlf_params(block_m, n, j, k)
        assert info["compression"] == hlf.compression(block_m, n, j, k)  # equal blocks: same Eq. 4
        assert info["compression"] >= hlf.parse_cf(cf)  # Eq. 4 reaches the target
        assert hlf.compression(block_m, n, j + 1, k) < hlf.parse_cf(cf)  # and j is the largest that does
        total += params
    biases = sum(p.numel() for n_, p in m.named_parameters() if n_.startswith("bias"))
    assert sum(p.numel() for p in m.parameters()) == total + biases


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_lmf_rank_per_matrix(mode):
    """lmf=True: j = 0 and, per matrix, the largest rank r with r·(m+n) <= m·n/cf (counted here),
    which differs between the 64-input and the 128-hidden matrices; outputs equal nn.* with B·C."""
    cf = Fraction(5, 2)
    m = CLS[mode][0](64, 128, compression=cf, lmf=True).eval()
    for name, n in (("weight_ih_l0", 64), ("weight_hh_l0", 128)):
        r = max(rr for rr in range(1, 129) if rr * (128 + n) <= Fraction(128 * n) / cf)
        for blk in getattr(m, name).gates.values():
            assert (blk.j, blk.k) == (0, r), (name, blk.j, blk.k, r)
            assert blk.A.numel() == 0 and tuple(blk.B.shape) == (128, r) and tuple(blk.C.shape) == (r, n)
    torch.manual_seed(5)
    x = torch.randn(6, 2, 64)
    with torch.no_grad():
        for g, w in zip(_out_tensors(m(x)), _out_tensors(dense_copy(m)(x))):
            torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4)
    with pytest.raises(HlfgenError, match="lmf=True needs compression"):
        CLS[mode][0](64, 128, j=0, k=4, lmf=True)


# ---------------------------------------------------------------- export


def _structures(info) -> list[str]:
    return [m["structure"] for layer in info["layers"] for m in layer["matrices"]]


def _torch_outputs(model, feeds: dict, names: list[str]) -> dict:
    """PyTorch's outputs of a bare HLF layer for the graph inputs X[, h0[, c0]]."""
    x = torch.from_numpy(feeds[names[0]])
    states = [torch.from_numpy(feeds[n]) for n in names[1:]]
    hx = None if not states else (tuple(states) if model.mode == "LSTM" else states[0])
    with torch.no_grad():
        flat = _out_tensors(model(x, hx))
    return {k: v.numpy() for k, v in zip(["Y", "Y_h", "Y_c"], flat)}


EXPORTS = {
    # name: (factory, batch, with hx)
    "lstm_hx_none": (lambda: HLFLSTM(6, 10, compression=2, k=1), 2, False),
    "gru_h0_stacked": (lambda: HLFGRU(6, 11, compression=2, k=2, per_gate=False), 3, True),
    "lstm_lmf_h0_c0": (lambda: HLFLSTM(5, 9, j=0, k=3), 2, True),
    "gru_hx_none": (lambda: HLFGRU(7, 8, compression="5/3", k=1), 1, False),
}


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_export_keeps_factors_and_compiles(name, work, tmp_path):
    factory, batch, with_hx = EXPORTS[name]
    torch.manual_seed(5)
    m = factory().eval()
    x = torch.randn(5, batch, m.input_size)
    args = (x,)
    if with_hx:
        h0 = torch.randn(1, batch, m.hidden_size) * 0.5
        args = (x, (h0, torch.randn(1, batch, m.hidden_size) * 0.5) if m.mode == "LSTM" else h0)
    path = tmp_path / f"{name}.onnx"
    info = export(m, args, path)
    structures = _structures(info)
    assert len(structures) == 2
    assert all(s.startswith("LMF" if name.startswith("lstm_lmf") else "HLF") for s in structures), structures
    assert _structures(inspect_model(path)) == structures  # the compiler reads the whole file
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    model = onnx.load(str(path))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "T"
    # zero initial states leave no shape arithmetic on runtime data (drop_zero_initial_states)
    assert not [n.op_type for n in model.graph.node if n.op_type in ("Shape", "Expand", "ConstantOfShape")]
    in_names = [i.name for i in model.graph.input]
    assert in_names == (["X", "h0", "c0"][: 1 + (2 if m.mode == "LSTM" else 1)] if with_hx else ["X"])
    _, wdir = work
    for seq_len in (5, 9):  # the sequence axis is dynamic
        report = check(path, seq_len=seq_len, work_dir=wdir / f"T{seq_len}")
        assert report.ok, report.format()
        expected = _torch_outputs(m, report.inputs, in_names)
        for key, want in expected.items():
            np.testing.assert_allclose(report.outputs[key], want, atol=1e-4, rtol=1e-3, err_msg=key)


def test_export_detects_folded_factors(tmp_path):
    """A file whose MatMul(B, C) was folded (here by onnxruntime's saved optimized
    model, as onnxsim would) fails verification naming each matrix."""
    import onnxruntime as ort

    from hlfgen.torch import verify_factored

    m = HLFLSTM(6, 10, compression=2, k=1).eval()
    path = tmp_path / "lstm.onnx"
    export(m, (torch.randn(5, 2, 6),), path)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.optimized_model_filepath = str(tmp_path / "folded.onnx")
    ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    with pytest.raises(HlfgenError, match=r"W\[0\] \(40x6\) is folded-dense.*R\[0\] \(40x10\) is folded-dense"):
        verify_factored(tmp_path / "folded.onnx")
    # torch's own constant folding does not fold MatMul: the factors survive it
    info = export(m, (torch.randn(5, 2, 6),), tmp_path / "cf.onnx", do_constant_folding=True)
    assert all(s.startswith("HLF") for s in _structures(info))


def test_export_dynamo_keeps_factors_unless_optimized(tmp_path):
    pytest.importorskip("onnxscript")
    m = HLFGRU(6, 10, compression=2, k=1).eval()
    x = torch.randn(5, 2, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = export(m, (x,), tmp_path / "dynamo.onnx", dynamo=True)  # optimize=False by default
        assert info is not None and all(s.startswith("HLF") for s in _structures(info)), _structures(info)
        with pytest.raises(HlfgenError, match=r"W\[0\] \(30x6\) is folded-dense"):
            export(m, (x,), tmp_path / "dynamo_opt.onnx", dynamo=True, optimize=True)


# Exports with the glue operators around the recurrent nodes (Reshape after a
# bidirectional layer, batch_first Transposes, Concat of h_n, Slice of h0 per
# layer): the factors survive export and the whole graph compiles.
GLUE = {
    "lstm_bidirectional": (lambda: HLFLSTM(6, 10, compression=2, bidirectional=True), (5, 2, 6), None),
    "gru_batch_first": (lambda: HLFGRU(6, 10, compression=2, batch_first=True), (2, 5, 6), None),
    "lstm_2_layers": (lambda: HLFLSTM(6, 10, compression=2, num_layers=2), (5, 2, 6), None),
    "gru_2_layers_h0": (lambda: HLFGRU(6, 10, compression=2, num_layers=2), (5, 2, 6), (2, 2, 10)),
}


@pytest.mark.parametrize("name", sorted(GLUE))
def test_export_glue_models(name, work, tmp_path):
    factory, xshape, h0shape = GLUE[name]
    torch.manual_seed(6)
    m = factory().eval()
    args = (torch.randn(xshape),) + ((torch.randn(h0shape),) if h0shape else ())
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        info = export(m, args, path)  # verification itself must pass: the factors survive
    structures = _structures(info)
    assert len(structures) == 2 * m.num_layers * (2 if m.bidirectional else 1)
    assert all(s.startswith("HLF") for s in structures), structures
    _, wdir = work
    report = check(path, seq_len=6, work_dir=wdir)
    assert report.ok, report.format()


def test_embedding_model_export(tmp_path, work):
    """Embedding -> HLFLSTM -> Linear: the factors survive export and the whole model compiles."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 6)
            self.rnn = HLFLSTM(6, 10, compression=2)
            self.out = nn.Linear(10, 4)

        def forward(self, tokens):
            y, _ = self.rnn(self.emb(tokens))
            return self.out(y)

    torch.manual_seed(7)
    net = Net().eval()
    path = tmp_path / "emb.onnx"
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        info = export(net, (torch.randint(0, 20, (5, 2)),), path)
    assert all(s.startswith("HLF") for s in _structures(info))
    _, wdir = work
    report = check(path, seq_len=6, work_dir=wdir)
    assert report.ok, report.format()


def test_import_hlfgen_torch_needs_no_onnxscript():
    """hlfgen.torch imports with torch alone (onnxscript only for dynamo=True)."""
    import subprocess
    import sys

    code = "import sys; import hlfgen.torch; assert 'onnxscript' not in sys.modules, 'onnxscript imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
