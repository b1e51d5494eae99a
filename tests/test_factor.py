"""hlfgen.factor: a dense ONNX LSTM/GRU/RNN model rewritten into HLF canonical form.

Checked against numpy's SVD, independently of hlf.factor_hlf: the file passes
onnx.checker, hlfgen inspect reads HLF, the W/R the factored graph computes
(evaluated by onnx.reference) equal [A' ; B·C] per gate block, the reported
relative error is the SVD tail, the rest of the graph is untouched, and a
dense model whose matrices have rank <= k comes out exact (onnxruntime 1e-4).
"""

from __future__ import annotations

from pathlib import Path

import subprocess
import sys
from fractions import Fraction

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from hlfgen import hlf
from hlfgen.errors import HlfgenError
from hlfgen.example import write_example
from hlfgen.factor import FINE_TUNE_WARNING, factor_model, format_factor_report
from hlfgen.inspect import inspect_model

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
F32 = TensorProto.FLOAT


def dense_model(
    op="LSTM",
    input_size=8,
    hidden=16,
    direction="forward",
    seed=0,
    rank=None,
    opset=14,
    inits_as_inputs=False,
    glue=True,
) -> onnx.ModelProto:
    """One dense recurrent node (W, R, B initializers) with sequence_lens, initial_h and a Transpose after it."""
    rng = np.random.default_rng(seed)
    nd = 2 if direction == "bidirectional" else 1
    g = GATES[op]

    def mat(m, n):
        if rank is None:
            return rng.normal(0, 1 / np.sqrt(n), (m, n))
        return rng.normal(0, 1, (m, rank)) @ rng.normal(0, 1 / np.sqrt(n * rank), (rank, n))

    W = np.stack([mat(g * hidden, input_size) for _ in range(nd)]).astype(np.float32)
    R = np.stack([mat(g * hidden, hidden) for _ in range(nd)]).astype(np.float32)
    B = rng.normal(0, 0.1, (nd, 2 * g * hidden)).astype(np.float32)
    inits = [numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R"), numpy_helper.from_array(B, "B")]
    outs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    ins = ["X", "W", "R", "B", "seq_lens", "h0"]
    nodes = [helper.make_node(op, ins, outs, name="rnn", hidden_size=hidden, direction=direction)]
    graph_outs = [helper.make_tensor_value_info("Y_h", F32, [nd, 1, hidden])]
    if op == "LSTM":
        graph_outs.append(helper.make_tensor_value_info("Y_c", F32, [nd, 1, hidden]))
    if glue:
        nodes.append(helper.make_node("Transpose", ["Y"], ["Yt"], name="after", perm=[0, 2, 1, 3]))
        graph_outs.insert(0, helper.make_tensor_value_info("Yt", F32, ["T", 1, nd, hidden]))
    else:
        graph_outs.insert(0, helper.make_tensor_value_info("Y", F32, ["T", nd, 1, hidden]))
    inputs = [
        helper.make_tensor_value_info("X", F32, ["T", 1, input_size]),
        helper.make_tensor_value_info("seq_lens", TensorProto.INT32, [1]),
        helper.make_tensor_value_info("h0", F32, [nd, 1, hidden]),
    ]
    if inits_as_inputs:
        inputs += [helper.make_tensor_value_info(t.name, F32, list(t.dims)) for t in inits]
    graph = helper.make_graph(nodes, "dense", inputs, graph_outs, initializer=inits)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        graph, opset_imports=opsets, ir_version=3 if inits_as_inputs else max(4, helper.find_min_ir_version_for(opsets))
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def _save(model, path):
    onnx.save(model, str(path))
    return path


def _weights(path) -> dict[str, np.ndarray]:
    """W and R as the factored graph computes them (onnx.reference on its constant part)."""
    model = onnx.load(str(path))
    rnn = next(n for n in model.graph.node if n.op_type in GATES)
    names = [rnn.input[1], rnn.input[2]]
    consts = [n for n in model.graph.node if n.op_type not in GATES and n.name != "after"]
    g = helper.make_graph(
        consts,
        "w",
        [],
        [helper.make_value_info(nm, onnx.TypeProto()) for nm in names],
        initializer=list(model.graph.initializer),
    )
    m = helper.make_model(g, opset_imports=list(model.opset_import))
    w, r = ReferenceEvaluator(m).run(names, {})
    return {"W": np.asarray(w), "R": np.asarray(r)}


def _svd_expected(M: np.ndarray, j: int, k: int) -> tuple[np.ndarray, float]:
    """[A' ; U_k S_k V_k^T] of one block with numpy's SVD, and its tail ||·||_F^2."""
    M = M.astype(np.float64)
    U, S, Vt = np.linalg.svd(M[j:], full_matrices=False)
    low = (U[:, :k] * S[:k]) @ Vt[:k]
    return np.concatenate([M[:j], low]), float(np.sum(S[k:] ** 2))


@pytest.mark.parametrize(
    "op, direction, per_gate, cf, k, opset",
    [
        ("LSTM", "forward", True, 2, 1, 14),
        ("LSTM", "bidirectional", False, "5/3", 2, 14),
        ("GRU", "reverse", True, 2.5, 1, 14),
        ("GRU", "bidirectional", True, 2, 2, 11),  # Unsqueeze axes as an attribute
        ("RNN", "forward", True, 2, 1, 14),
    ],
)
def test_factor_model(tmp_path, op, direction, per_gate, cf, k, opset):
    src = dense_model(op, direction=direction, opset=opset)
    inp = _save(src, tmp_path / "dense.onnx")
    out = tmp_path / "hlf.onnx"
    rows = factor_model(inp, out, cf, k=k, per_gate=per_gate)
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert {p.key: p.value for p in model.metadata_props}.get("hlf.version") == "1"

    # inspect reads HLF for every matrix, with the reported j and k
    g, h, nd = GATES[op], 16, 2 if direction == "bidirectional" else 1
    info = inspect_model(out)
    mats = info["layers"][0]["matrices"]
    assert [m["name"] for m in mats] == [r["matrix"] for r in rows] == [f"{w}[{d}]" for d in range(nd) for w in "WR"]
    for m, r in zip(mats, rows):
        assert m["structure"].startswith("HLF"), m["structure"]
        nblocks = g if per_gate else 1
        assert r["node"] == "rnn" and r["k"] == k and r["blocks"] == nblocks
        assert m["structure"].endswith(
            f"j={r['j'] * nblocks} k={'+'.join([str(k)] * nblocks)}" if nblocks > 1 else f"j={r['j']} k={k}"
        )
        bm, n = (h if per_gate else g * h), r["shape"][1]
        assert r["j"] == hlf.hlf_j_for(bm, n, k, cf)
        assert m["params"] == r["params"] == nblocks * hlf.hlf_params(bm, n, r["j"], k)
        assert r["compression"] >= float(Fraction(hlf.parse_cf(cf)))

    # W/R the graph computes == [A' ; B·C] from numpy's SVD; rel_error is the SVD tail
    dense = {t.name: numpy_helper.to_array(t) for t in src.graph.initializer}
    got = _weights(out)
    for r in rows:
        what, d = r["matrix"][0], int(r["matrix"][2])
        Wd = dense[what][d]
        bm = Wd.shape[0] // r["blocks"]
        parts, tail = [], 0.0
        for b in range(r["blocks"]):
            e, t = _svd_expected(Wd[b * bm : (b + 1) * bm], r["j"], k)
            parts.append(e)
            tail += t
        np.testing.assert_allclose(got[what][d], np.concatenate(parts), atol=2e-5, err_msg=r["matrix"])
        want = np.sqrt(tail) / np.linalg.norm(Wd.astype(np.float64))
        assert r["rel_error"] == pytest.approx(want, rel=1e-4), r["matrix"]
        assert 0 < r["rel_error"] < 1

    # everything else is unchanged: inputs, outputs, bias, the other nodes and attributes
    assert model.graph.input == src.graph.input and model.graph.output == src.graph.output
    inits = {t.name: t for t in model.graph.initializer}
    assert (
        "W" not in inits and "R" not in inits and inits["B"] == next(t for t in src.graph.initializer if t.name == "B")
    )
    rnn = next(n for n in model.graph.node if n.op_type == op)
    src_rnn = next(n for n in src.graph.node if n.op_type == op)
    assert [rnn.input[i] for i in (0, 3, 4, 5)] == [src_rnn.input[i] for i in (0, 3, 4, 5)]
    assert rnn.output == src_rnn.output and rnn.attribute == src_rnn.attribute and rnn.name == src_rnn.name
    assert next(n for n in model.graph.node if n.name == "after") == src.graph.node[1]

    text = format_factor_report(rows)
    assert FINE_TUNE_WARNING in text and "accuracy needs fine-tuning: HLF is training-aware (paper §3)" in text
    assert all(r["matrix"] in text for r in rows)


@pytest.mark.parametrize(
    "op, direction, per_gate", [("LSTM", "bidirectional", True), ("GRU", "forward", False), ("RNN", "reverse", True)]
)
def test_low_rank_model_is_exact(tmp_path, op, direction, per_gate):
    """Every matrix of rank <= k: [A' ; B·C] is exact, outputs equal the dense model's."""
    src = dense_model(op, direction=direction, rank=2, glue=False)
    inp = _save(src, tmp_path / "dense.onnx")
    out = tmp_path / "hlf.onnx"
    rows = factor_model(inp, out, 1.5, k=2, per_gate=per_gate)
    assert all(r["rel_error"] < 1e-6 for r in rows), rows
    rng = np.random.default_rng(1)
    nd = 2 if direction == "bidirectional" else 1
    feeds = {
        "X": rng.standard_normal((9, 1, 8)).astype(np.float32),
        "seq_lens": np.array([9], np.int32),
        "h0": (rng.standard_normal((nd, 1, 16)) * 0.5).astype(np.float32),
    }
    run = lambda p: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, feeds)  # noqa: E731
    for a, b in zip(run(inp), run(out)):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)


def test_initializers_listed_as_inputs(tmp_path):
    """IR 3 style (initializers also graph inputs): the dense W/R leave both lists."""
    src = dense_model("GRU", opset=11, inits_as_inputs=True)
    out = tmp_path / "hlf.onnx"
    factor_model(_save(src, tmp_path / "dense.onnx"), out, 2)
    model = onnx.load(str(out))
    names = [i.name for i in model.graph.input]
    assert "W" not in names and "R" not in names and "B" in names
    assert all(m["structure"].startswith("HLF") for m in inspect_model(out)["layers"][0]["matrices"])


def test_factor_errors(tmp_path):
    # already factored: W computed by a node
    write_example(tmp_path / "ex.onnx", "lstm", 8, 16, compression=2)
    with pytest.raises(
        HlfgenError, match=r"node 'lstm' \(LSTM\): not a dense model: input W \('lstm.W'\) is computed by Unsqueeze"
    ) as e:
        factor_model(tmp_path / "ex.onnx", tmp_path / "o.onnx", 2)
    assert "\n" not in str(e.value)
    # W as a runtime graph input
    src = dense_model("LSTM")
    src.graph.initializer.remove(next(t for t in src.graph.initializer if t.name == "W"))
    src.graph.input.append(helper.make_tensor_value_info("W", F32, [1, 64, 8]))
    with pytest.raises(HlfgenError, match=r"node 'rnn' \(LSTM\): not a dense model: input W \('W'\) is a graph input"):
        factor_model(_save(src, tmp_path / "w_input.onnx"), tmp_path / "o.onnx", 2)
    # unreachable compression
    with pytest.raises(
        HlfgenError, match=r"node 'rnn' \(GRU\): W: a 16x8 gate block with k=4 cannot reach compression 3"
    ):
        factor_model(_save(dense_model("GRU"), tmp_path / "g.onnx"), tmp_path / "o.onnx", 3, k=4)
    with pytest.raises(HlfgenError, match="compression factor must be >= 1"):
        factor_model(tmp_path / "g.onnx", tmp_path / "o.onnx", "0.5")
    with pytest.raises(HlfgenError, match="no such file"):
        factor_model(tmp_path / "missing.onnx", tmp_path / "o.onnx", 2)
    assert not (tmp_path / "o.onnx").exists()


def test_import_hlfgen_does_not_import_torch():
    code = (
        "import sys; import hlfgen, hlfgen.factor, hlfgen.hlf, hlfgen.inspect, hlfgen.check, hlfgen.cli; "
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith('torch.')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
