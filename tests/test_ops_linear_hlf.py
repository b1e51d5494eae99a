"""Algorithm 1 for the constant matrix of a MatMul/Gemm (issue 8, item 3).

A classifier, an attention projection or an LSTMCell's Gemm whose weight is
HLF- or LMF-factored (``Concat(A', MatMul(B, C))``, ``MatMul(B, C)``, seen
through the ``Transpose`` PyTorch writes for nn.Linear) must compile to the
kernels of Algorithm 1 (A'·x, t = C·x, B·t; B·C never formed), be reported
by ``inspect`` as HLF/LMF with the paper's counts (hlf.py, Eq. 4 / 5), and
match onnxruntime.  Shapes are not multiples of the vector widths; rows of
the linear nodes exceed the lowering's row chunk so the chunk loop runs.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import assert_parity
from hlfgen import hlf
from hlfgen.inspect import inspect_model
from hlfgen.lower import LINEAR_CHUNK_ROWS, lower
from hlfgen.reader import read_model

B, I, H = 2, 6, 11


class _G:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.outputs, self.n = [], [], [], 0

    def const(self, value, dtype=np.float32, base="c"):
        self.n += 1
        name = f"{base}{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def rand(self, *shape, scale=0.5, base="w"):
        return self.const(self.rng.standard_normal(shape) * scale, base=base)

    def op(self, op_type, inputs, n_out=1, **attrs):
        self.n += 1
        outs = [f"{op_type.lower()}{self.n}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=f"{op_type}{self.n}", **attrs))
        return outs[0] if n_out == 1 else outs

    def out(self, name):
        self.outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))

    def lowrank(self, m, n, k, c=None):
        """MatMul(B, C) (m x n, rank k); C shared when given."""
        c = c or self.rand(k, n, scale=1 / np.sqrt(n), base="C")
        return self.op("MatMul", [self.rand(m, k, scale=1 / np.sqrt(k), base="B"), c]), c

    def hlf(self, m, n, j, k):
        """Concat(A', MatMul(B, C)): the canonical HLF matrix (hlf-onnx.md), m x n."""
        bc, _ = self.lowrank(m - j, n, k)
        return self.op("Concat", [self.rand(j, n, base="A"), bc], axis=0)

    def model(self):
        x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", B, I])
        g = helper.make_graph(self.nodes, "hlf_linear", [x], self.outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        return m


def _lstm(g: _G):
    w = g.rand(1, 4 * H, I)
    r = g.rand(1, 4 * H, H)
    y, y_h = g.op("LSTM", ["X", w, r, g.rand(1, 8 * H, scale=0.2)], n_out=2, hidden_size=H)
    y = g.op("Squeeze", [y, g.const([1], np.int64)])  # [T, B, H]
    last = g.op("Squeeze", [y_h, g.const([0], np.int64)])  # [B, H]
    return y, last


# (output, structure inspect reports, dense rows j, rank k) per linear node, in graph order
CASES = [
    ("matmul_hlf_T", "HLF j=5 k=3", 5, 3),  # MatMul(y, Transpose(Concat(A', B·C))): nn.Linear on [T, B, H]
    ("gemm_hlf", "HLF j=4 k=2", 4, 2),  # Gemm(transB=1, alpha, beta, C)
    ("gemm_lmf", "LMF rank 3", 0, 3),  # Gemm(transB=0, B = MatMul(P, Q))
    ("matmul_lmf", "LMF rank 2", 0, 2),  # MatMul(y, MatMul(P, Q))
    ("gemm_shared_c", "LMF 2 blocks", 0, None),  # two low-rank blocks, one shared C + a second C
]


@pytest.fixture(scope="module")
def hlf_linear_model(tmp_path_factory):
    g = _G(7)
    y, last = _lstm(g)
    n1 = 13
    w1 = g.op("Transpose", [g.hlf(n1, H, 5, 3)], perm=[1, 0])  # (H, 13)
    g.out(g.op("Add", [g.op("MatMul", [y, w1]), g.rand(n1)]))
    g.out(g.op("Gemm", [last, g.hlf(9, H, 4, 2), g.rand(9)], transB=1, alpha=0.7, beta=0.5))
    g.out(g.op("Gemm", [last, g.lowrank(H, 10, 3)[0], g.rand(1, 10)]))
    g.out(g.op("MatMul", [y, g.lowrank(H, 17, 2)[0]]))
    b1, c1 = g.lowrank(5, H, 2)
    b2, _ = g.lowrank(4, H, 2, c=c1)
    b3, _ = g.lowrank(6, H, 3)
    g.out(g.op("Gemm", [last, g.op("Concat", [b1, b3, b2], axis=0)], transB=1))
    path = tmp_path_factory.mktemp("hlf_linear") / "hlf_linear.onnx"
    onnx.save(g.model(), str(path))
    return path


def _linear_nodes(model):
    return [op for op in model.ops if getattr(op, "op", None) == "linear"]


def test_lowered_by_algorithm1(hlf_linear_model):
    """Every factored matrix becomes A'·x, t = C·x, B·t calls; no weight array holds B·C."""
    model = read_model(hlf_linear_model, max_seq_len=40)
    nodes = _linear_nodes(model)
    assert len(nodes) == len(CASES)
    prog = lower(model)
    sizes = {w.symbol: w.data.size for w in prog.weights}
    for node, (_, _, j, k) in zip(nodes, CASES):
        plan = node.attrs["plan"]["w"]
        n, kk = node.attrs["n"], node.attrs["k"]
        comments = " ".join(c.comment for c in plan.calls)
        assert "line 2: t = C·x" in comments and "line 3" in comments
        assert ("line 1" in comments) == (j > 0)
        if k is not None:
            assert plan.ops == hlf.hlf_ops(n, kk, j, k) < n * kk  # Eq. 5's denominator
        # no packed array as large as the dense matrix (B·C never formed)
        assert all(sizes[c.weight] < n * kk for c in plan.calls if c.weight)
    shared = nodes[-1].attrs["plan"]["w"]
    c_calls = [c for c in shared.calls if "line 2" in c.comment]
    assert len(c_calls) == 1 and c_calls[0].m == 2 + 3  # the shared C once, stacked with the other
    assert prog.scratch_floats >= LINEAR_CHUNK_ROWS * 5


def test_inspect_reports_factored_linears(hlf_linear_model):
    info = inspect_model(hlf_linear_model)
    lins = info["linears"]
    assert [lin["matrices"][0]["structure"] for lin in lins][:4] == [c[1] for c in CASES[:4]]
    assert lins[4]["matrices"][0]["structure"].startswith("LMF 2 blocks")
    for lin, (_, _, j, k) in zip(lins, CASES):
        m = lin["matrices"][0]
        rows, cols = m["shape"]
        if k is not None:
            assert m["params"] == hlf.hlf_params(rows, cols, j, k)  # Eq. 4's denominator
            assert m["compression"] == pytest.approx(float(hlf.compression(rows, cols, j, k)))
            assert m["max_rank"] == hlf.max_rank(rows, cols, j, k)
    assert lins[4]["matrices"][0]["params"] == 2 * H + 3 * H + 9 * 2 + 6 * 3


@pytest.mark.parametrize("seq_len", [3, 37])  # 37 * B = 74 rows > LINEAR_CHUNK_ROWS: two chunks
def test_parity_factored_linears(hlf_linear_model, tmp_path, seq_len):
    x = np.random.default_rng(seq_len).standard_normal((seq_len, B, I)).astype(np.float32)
    assert_parity(hlf_linear_model, {"X": x}, work_dir=tmp_path / "w")


@pytest.mark.parametrize("mode", ["fp16", "int8"])
def test_quantized_factored_linears(hlf_linear_model, tmp_path, mode):
    """--quantize stores A', B and C in fp16/int8 (int8 quantizes x and t per row, in the scratch)."""
    from hlfgen.check import check

    x = np.random.default_rng(11).standard_normal((37, B, I)).astype(np.float32)
    rep = check(str(hlf_linear_model), inputs={"X": x}, work_dir=tmp_path / "w", quantize=mode)
    assert rep.ok, rep.rows
    assert 0 < max(rep.quant_atol.values()) < (2e-2 if mode == "fp16" else 0.2)
