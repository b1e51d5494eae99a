"""hlfgen.hlf (paper §3.2, Eq. 4/5, Table 1) and hlfgen.example (canonical ONNX form)."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

from hlfgen import hlf
from hlfgen.errors import HlfgenError
from hlfgen.example import GATES, make_example_model, write_example

# ---------------------------------------------------------------- Table 1


@pytest.mark.parametrize(
    "cf, lmf, hlf_min, hlf_max",
    [
        ("1.25", 102, 103, 204),
        ("5/3", 76, 78, 153),
        (Fraction(5, 3), 76, 78, 153),
        (5 / 3, 76, 78, 153),  # a float 5/3 snaps to exactly 5/3
        ("2.5", 51, 52, 101),
        (2.5, 51, 52, 101),
        ("5", 25, 26, 50),
        (5, 25, 26, 50),
    ],
)
def test_table1(cf, lmf, hlf_min, hlf_max):
    p = hlf.plan(256, 256, cf)
    assert hlf.lmf_rank(256, 256, cf) == lmf
    assert p.lmf.rank == lmf and p.lmf.params == lmf * 512
    assert p.hlf[0].k == 1 and p.hlf[0].j == hlf_max - 1 and p.hlf[0].rank == hlf_max
    assert max(o.rank for o in p.hlf) == hlf_max  # "maximum rank is achieved when k=1"
    assert p.rank_range == (hlf_min, hlf_max)


def test_paper_167_means_5_3():
    # The printed "1.67" is 5/3: taken literally it loses one row.
    assert hlf.plan(256, 256, "1.67").hlf[0].rank == 152
    assert hlf.plan(256, 256, "5/3").hlf[0].rank == 153


def test_parse_cf():
    assert hlf.parse_cf("5/3") == Fraction(5, 3)
    assert hlf.parse_cf(" 2.5 ") == Fraction(5, 2)
    assert hlf.parse_cf("1.67") == Fraction(167, 100)
    assert hlf.parse_cf(1.25) == Fraction(5, 4)
    assert hlf.parse_cf(3) == 3
    for bad in ("abc", "0.5", "1/0", "", None, True):
        with pytest.raises(HlfgenError):
            hlf.parse_cf(bad)


# ---------------------------------------------------------------- Eq. 4 / Eq. 5


def _sizes(m, n, j, k):
    """Parameters and Algorithm 1 multiply-adds counted from the pieces' shapes."""
    a_top, b, c = np.zeros((j, n)), np.zeros((m - j, k)), np.zeros((k, n))
    params = a_top.size + b.size + c.size
    ops = a_top.size + c.size + b.size  # line 1: A'·I, line 2: C·I, line 3: B·Temp1
    return params, ops


@pytest.mark.parametrize(
    "m, n, j, k, params",
    [
        (10, 6, 3, 2, 18 + 14 + 12),
        (256, 256, 203, 1, 203 * 256 + 53 + 256),
        (8, 4, 0, 2, 16 + 8),  # j = 0: LMF
        (8, 4, 5, 0, 20),  # k = 0: dense rows only
        (512, 128, 201, 1, 201 * 128 + 311 + 128),
    ],
)
def test_eq4_eq5(m, n, j, k, params):
    p, ops = _sizes(m, n, j, k)
    assert p == params == hlf.hlf_params(m, n, j, k)
    assert hlf.compression(m, n, j, k) == Fraction(m * n, params)
    assert hlf.hlf_ops(m, n, j, k) == ops
    assert hlf.op_reduction(m, n, j, k) == Fraction(m * n, ops)


def test_eq4_small_literal():
    assert hlf.compression(10, 6, 3, 2) == Fraction(60, 44)
    assert hlf.op_reduction(10, 6, 3, 2) == Fraction(60, 18 + 12 + 14)
    assert hlf.compression(256, 256, 0, 64) == 2  # the paper's LMF example: factor 2, rank 64


@pytest.mark.parametrize("m, n, j, k", [(10, 6, 3, 2), (6, 10, 2, 1), (5, 5, 4, 3), (7, 3, 1, 1), (9, 9, 0, 4)])
def test_max_rank_matches_numpy(m, n, j, k):
    rng = np.random.default_rng(1)
    a = np.concatenate([rng.normal(size=(j, n)), rng.normal(size=(m - j, k)) @ rng.normal(size=(k, n))])
    assert hlf.max_rank(m, n, j, k) == np.linalg.matrix_rank(a) == min(j + k, m, n)


@pytest.mark.parametrize("m, n", [(16, 16), (24, 10), (10, 24), (7, 3)])
@pytest.mark.parametrize("cf", ["1", "1.25", "5/3", "2", "2.5", "3", "7/2", "10"])
def test_lmf_rank_and_j_for_brute_force(m, n, cf):
    f = Fraction(cf)
    assert hlf.lmf_rank(m, n, cf) == max(r for r in range(m * n + 1) if r * (m + n) * f <= m * n)
    for k in range(1, n + 3):
        ok = [j for j in range(m) if Fraction(m * n, j * n + (m - j) * k + k * n) >= f]
        assert hlf.hlf_j_for(m, n, k, cf) == (max(ok) if ok else None), (k, ok)


def test_hlf_j_for_unreachable():
    assert hlf.hlf_j_for(20, 12, 1, 7) == 0  # only LMF (j = 0) reaches it
    assert hlf.hlf_j_for(20, 12, 1, 8) is None
    for bad in (
        lambda: hlf.hlf_j_for(20, 12, 0, 2),
        lambda: hlf.compression(4, 4, 0, 0),
        lambda: hlf.hlf_params(4, 4, 5, 1),
        lambda: hlf.plan(0, 4, 2),
    ):
        with pytest.raises(HlfgenError):
            bad()


# ---------------------------------------------------------------- plan


@pytest.mark.parametrize("m, n, cf", [(512, 128, "2.5"), (128, 512, "2.5"), (512, 128, "5/3"), (96, 40, 4), (3, 3, 1)])
def test_plan_options(m, n, cf):
    p = hlf.plan(m, n, cf)
    f = hlf.parse_cf(cf)
    assert p.m == m and p.n == n and p.cf == f
    assert [o.k for o in p.hlf] == list(range(1, len(p.hlf) + 1))
    for o in p.hlf:
        assert 1 <= o.j < m
        assert o.compression == hlf.compression(m, n, o.j, o.k) >= f
        assert o.op_reduction == hlf.op_reduction(m, n, o.j, o.k)
        assert o.params == hlf.hlf_params(m, n, o.j, o.k)
        assert o.rank == min(o.j + o.k, m, n)
        # j is maximal: one more dense row misses the target (or there is none)
        assert o.j + 1 == m or hlf.compression(m, n, o.j + 1, o.k) < f
    # no larger k has any j >= 1 reaching the target
    k_next = len(p.hlf) + 1
    assert all(hlf.compression(m, n, j, k) < f for k in range(k_next, k_next + 5) for j in range(1, m))
    assert p.lmf.params == p.lmf.rank * (m + n) and Fraction(m * n, max(p.lmf.params, 1)) >= f


def test_plan_json_and_text():
    p = hlf.plan(256, 256, "5/3")
    d = json.loads(json.dumps(hlf.plan_to_json(p)))
    assert d["lmf"] == {"rank": 76, "params": 76 * 512}
    assert d["hlf"][0] == {
        "j": 152,
        "k": 1,
        "rank": 153,
        "params": 152 * 256 + 104 + 256,
        "compression": pytest.approx(65536 / 39272),
        "op_reduction": pytest.approx(65536 / 39272),
    }
    assert len(d["hlf"]) == len(p.hlf)
    text = hlf.format_plan(p, limit=3)
    assert "LMF  rank    76" in text and "78 - 153" in text and "73 more" in text
    assert "no option" in hlf.format_plan(hlf.plan(4, 4, 100))


# ---------------------------------------------------------------- factor_hlf / factor_lmf


def test_factor_hlf_exact_when_k_covers_rank():
    rng = np.random.default_rng(2)
    m, n, j, r = 30, 20, 12, 3
    a = np.concatenate([rng.normal(size=(j, n)), rng.normal(size=(m - j, r)) @ rng.normal(size=(r, n))])
    for k in (r, r + 2, 40):  # k past the available rank pads with zeros
        a_top, b, c = hlf.factor_hlf(a, j, k)
        assert a_top.shape == (j, n) and b.shape == (m - j, k) and c.shape == (k, n)
        assert np.array_equal(a_top, a[:j])
        np.testing.assert_allclose(hlf.hlf_expand(a_top, b, c), a, atol=1e-10)


@pytest.mark.parametrize("j, k", [(0, 1), (5, 2), (10, 4), (29, 1)])
def test_factor_hlf_error_is_svd_tail(j, k):
    rng = np.random.default_rng(3)
    a = rng.normal(size=(30, 20))
    a_top, b, c = hlf.factor_hlf(a, j, k)
    s = np.linalg.svd(a[j:], compute_uv=False)
    err = a - hlf.hlf_expand(a_top, b, c)
    assert np.array_equal(err[:j], np.zeros((j, 20)))
    assert np.linalg.norm(err) == pytest.approx(np.sqrt(np.sum(s[k:] ** 2)), rel=1e-9, abs=1e-12)
    assert np.linalg.norm(err, 2) == pytest.approx(s[k] if k < s.size else 0.0, rel=1e-9, abs=1e-12)


def test_factor_lmf_and_dtype():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(16, 12)).astype(np.float32)
    u, v = hlf.factor_lmf(a, 5)
    assert u.shape == (16, 5) and v.shape == (5, 12) and u.dtype == v.dtype == np.float32
    s = np.linalg.svd(a.astype(np.float64), compute_uv=False)
    assert np.linalg.norm(a - u @ v) == pytest.approx(np.sqrt(np.sum(s[5:] ** 2)), rel=1e-5)
    a_top, b, c = hlf.factor_hlf(a, 4, 5)
    assert a_top.dtype == np.float32 and np.array_equal(a_top, a[:4])


# ---------------------------------------------------------------- example models

IN, HID, CF = 12, 20, Fraction(5, 2)


def _inits(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _run_ort(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"X": x})


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
@pytest.mark.parametrize("per_gate", [True, False])
def test_example_model(tmp_path, kind, direction, per_gate):
    path = tmp_path / "m.onnx"
    write_example(
        path, kind=kind, input_size=IN, hidden_size=HID, compression=CF, direction=direction, per_gate=per_gate, seed=7
    )
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert {p.key: p.value for p in model.metadata_props} == {"hlf.version": "1"}
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["seq", 1, IN]
    ndir = 2 if direction == "bidirectional" else 1
    gates = GATES[kind]
    rnn = model.graph.node[-1]
    assert rnn.op_type == kind.upper() and rnn.name == kind
    assert list(rnn.output) == ["Y", "Y_h"] + (["Y_c"] if kind == "lstm" else [])

    # runs in onnxruntime, agrees with onnx.reference, gates not saturated
    x = np.random.default_rng(0).normal(size=(6, 1, IN)).astype(np.float32)
    got = _run_ort(model, x)
    ref = ReferenceEvaluator(model)
    want = ref.run(None, {"X": x})
    assert got[0].shape == (6, ndir, 1, HID)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-4)
    assert 0.05 < np.mean(np.abs(got[0])) < 0.8

    # W and R, evaluated, equal [A' ; B·C] built from the initializers; Eq. 4 holds
    inits = _inits(model)
    assert inits[f"{kind}.B"].shape == (ndir, 2 * len(gates) * HID)
    w_val, r_val = ref.run([f"{kind}.W", f"{kind}.R"], {"X": x})
    total = 0
    for wname, val, n in (("W", w_val, IN), ("R", r_val, HID)):
        assert val.shape == (ndir, len(gates) * HID, n)
        for d in range(ndir):
            blocks = (
                [(f"{kind}.{wname}.d{d}.{g}", HID) for g in gates]
                if per_gate
                else [(f"{kind}.{wname}.d{d}", len(gates) * HID)]
            )
            rows = []
            for base, m in blocks:
                j = hlf.hlf_j_for(m, n, 1, CF)
                b, c = inits[f"{base}.hlf_B"], inits[f"{base}.hlf_C"]
                a_top = inits.get(f"{base}.hlf_A", np.zeros((0, n), np.float32))
                assert a_top.shape == (j, n) and b.shape == (m - j, 1) and c.shape == (1, n)
                assert a_top.size + b.size + c.size == hlf.hlf_params(m, n, j, 1)
                assert hlf.compression(m, n, j, 1) >= CF
                total += a_top.size + b.size + c.size
                rows.append(np.concatenate([a_top, b @ c]))
            np.testing.assert_allclose(val[d], np.concatenate(rows), rtol=1e-6, atol=1e-6)
    # every float parameter other than the bias is a factor
    assert total == sum(v.size for k_, v in inits.items() if k_.split(".")[-1].startswith("hlf_"))
    dense = ndir * len(gates) * HID * (IN + HID)
    assert Fraction(dense, total) >= CF


@pytest.mark.parametrize("opset", [11, 13, 14, 21])
def test_example_opsets(opset):
    model = make_example_model("gru", IN, HID, "5/3", k=2, direction="bidirectional", opset=opset)
    onnx.checker.check_model(model, full_check=True)
    unsq = [n for n in model.graph.node if n.op_type == "Unsqueeze"]
    assert len(unsq) == 4
    for n in unsq:  # axes is an input from opset 13 on, an attribute before
        assert (len(n.input) == 2) == (opset >= 13) and (len(n.attribute) == 1) == (opset < 13)
    out = _run_ort(model, np.ones((3, 1, IN), np.float32))
    assert out[0].shape == (3, 2, 1, HID)


def test_example_structure_and_seed():
    m1 = make_example_model("lstm", IN, HID, CF, seed=3)
    m2 = make_example_model("lstm", IN, HID, CF, seed=3)
    m3 = make_example_model("lstm", IN, HID, CF, seed=4)
    assert m1.SerializeToString() == m2.SerializeToString() != m3.SerializeToString()
    by_out = {n.output[0]: n for n in m1.graph.node}
    assert by_out["lstm.W"].op_type == "Unsqueeze" and by_out["lstm.W"].input[0] == "lstm.W.d0"
    gate_cat = by_out["lstm.W.d0"]
    assert gate_cat.op_type == "Concat" and list(gate_cat.input) == [f"lstm.W.d0.{g}" for g in "iofc"]
    g = by_out["lstm.W.d0.i"]
    assert g.op_type == "Concat" and list(g.input) == ["lstm.W.d0.i.hlf_A", "lstm.W.d0.i.BC"]
    assert list(by_out["lstm.W.d0.i.BC"].input) == ["lstm.W.d0.i.hlf_B", "lstm.W.d0.i.hlf_C"]
    assert "lstm.B" in _inits(m1)


def test_example_lmf_gate_and_errors():
    # 20x12 at cf 7 with k=1 leaves j = 0: the gate is a bare MatMul (LMF)
    model = make_example_model("rnn", 12, 20, 7, per_gate=True)
    onnx.checker.check_model(model, full_check=True)
    inits = _inits(model)
    assert "rnn.W.d0.i.hlf_A" not in inits and inits["rnn.W.d0.i.hlf_B"].shape == (20, 1)
    _run_ort(model, np.ones((2, 1, 12), np.float32))
    with pytest.raises(HlfgenError, match="cannot reach"):
        make_example_model("rnn", 12, 20, 8)
    with pytest.raises(HlfgenError):
        make_example_model("conv")
    with pytest.raises(HlfgenError):
        make_example_model(direction="sideways")


def test_segment_counts_count_each_factor_once():
    """hlf.segment_counts against the sizes of the arrays Algorithm 1 touches: A' (j x n), each
    distinct C (k x n) once, each B block (rows x k); one block is Eq. 4 / 5's j·n + k·(m-j+n)."""
    rng = np.random.default_rng(5)
    for _ in range(50):
        n, j = int(rng.integers(1, 40)), int(rng.integers(0, 30))
        keys = [f"C{int(rng.integers(0, 3))}" for _ in range(int(rng.integers(1, 5)))]
        rank = {key: int(rng.integers(1, 6)) for key in set(keys)}
        blocks = [(int(rng.integers(1, 20)), key, rank[key]) for key in keys]
        arrays = (
            [np.zeros((j, n))]
            + [np.zeros((rank[key], n)) for key in sorted(set(keys))]
            + [np.zeros((rows, k)) for rows, _, k in blocks]
        )
        params, ops = hlf.segment_counts(n, j, blocks)
        assert params == ops == sum(a.size for a in arrays)
    assert hlf.segment_counts(20, 4, [(12, "C", 3)]) == (hlf.hlf_params(16, 20, 4, 3), hlf.hlf_ops(16, 20, 4, 3))
