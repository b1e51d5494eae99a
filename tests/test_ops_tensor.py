"""End-to-end parity of the tensor operators with onnxruntime (host and Cortex-A73 under qemu).

Each graph (tests/ops_graphs.py) runs an LSTM over X [T, B, I] and applies
the operators to its output with symbolic T and B (and S-like extents that
follow T); each is built once with --dim B=3 --max-dim T=9 and run at two run-time lengths
(same generated C, so the second build is a ccache hit).  Bool tensors are
uint8_t 0/1 inside and '|b1' .npy files at the runner.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from conftest import TARGETS, assert_parity
from ops_graphs import H, G, feeds

# Host builds run in the fast suite; the Cortex-A73 builds under qemu take ~80 s each: slow.
ON_TARGETS = pytest.mark.parametrize(
    "target", [pytest.param(t, marks=pytest.mark.slow) if t != "host" else t for t in TARGETS]
)
FIXED = {"B": 3}  # recurrent layers need a static batch (--dim B=3)
MAX = {"T": 9}  # --max-dim T=9
LENGTHS = ((7, 3), (3, 3))  # (T, B) of the two runs


def run_both(path, target, extra_fn, max_dims=MAX):
    for T, B in LENGTHS:
        assert_parity(path, feeds_for(T, B, extra_fn), target=target, dims=dict(FIXED), max_dims=dict(max_dims))


def feeds_for(T, B, extra_fn):
    rng = np.random.default_rng(100 + T)
    return feeds(None, T, B, extra_fn(rng, T, B) if extra_fn else None)


def sq(g: G, x, axes):
    if g.opset < 13:
        return g.op("Squeeze", x, axes=axes)
    return g.op("Squeeze", x, g.const("axes", np.array(axes, np.int64)))


def unsq(g: G, x, axes):
    if g.opset < 13:
        return g.op("Unsqueeze", x, axes=axes)
    return g.op("Unsqueeze", x, g.const("axes", np.array(axes, np.int64)))


def f32(rng, shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, shape).astype(np.float32)


# ----------------------------------------------------------------- attention


@ON_TARGETS
def test_attention_matmul_softmax(target, tmp_path):
    g = G(opset=18)
    g.input("q", "float32", ["B", 1, H])
    g.input("v", "float32", [H])
    g.input("m", "float32", [H, 3])
    g.input("p", "float32", [2, 1, H, 4])
    kT = g.op("Transpose", g.yb, perm=[0, 2, 1])  # [B, H, T]
    s1 = g.op("MatMul", g.yb, kT)  # [B, T, T] self-attention scores
    g.output(g.op("MatMul", g.op("Softmax", s1, axis=-1), g.yb))  # [B, T, H]
    g.output(g.op("Softmax", s1, axis=1))  # over the first T
    g.output(g.op("LogSoftmax", s1, axis=0))  # over the batch
    s2 = g.op("MatMul", "q", kT)  # [B, 1, T]: a decoder query against the memory
    g.output(g.op("MatMul", g.op("Softmax", s2, axis=2), g.yb))  # [B, 1, H]
    g.output(g.op("LogSoftmax", g.op("MatMul", g.yb, "v"), axis=1))  # [B, T]: 1-D right operand
    g.output(g.op("MatMul", "v", kT))  # [B, T]: 1-D left operand
    g.output(g.op("MatMul", g.yb, "m"))  # [B, T, 3]: 2-D runtime operand broadcast over B
    g.output(g.op("MatMul", unsq(g, g.yb, [0]), "p"))  # [2, B, T, 4]: two broadcast batch axes
    g.output(g.op("MatMul", g.op("Transpose", g.y, perm=[1, 2, 0]), g.op("Softmax", s1, axis=-1)))  # [B, H, T]
    path = g.save(tmp_path / "att.onnx")
    run_both(
        path,
        target,
        lambda r, T, B: {"q": f32(r, (B, 1, H)), "v": f32(r, (H,)), "m": f32(r, (H, 3)), "p": f32(r, (2, 1, H, 4))},
    )


@ON_TARGETS
def test_softmax_opset11_flattens(target, tmp_path):
    g = G(opset=11)
    g.output(g.op("Softmax", g.yb, axis=1))  # opset < 13: normalized over [T, H] of each batch entry
    g.output(g.op("LogSoftmax", g.y, axis=0))  # over everything
    g.output(g.op("Softmax", g.yb, axis=-1))
    g.output(g.op("ReduceSum", g.yb, axes=[1], keepdims=0))  # axes attribute before opset 13
    path = g.save(tmp_path / "sm11.onnx")
    run_both(path, target, None)


# ---------------------------------------------------- reductions, LayerNorm


@ON_TARGETS
def test_reduce_layernorm(target, tmp_path):
    g = G(opset=18)
    g.input("lengths", "int64", ["B"])
    g.input("counts", "int32", ["B", 3])
    ax = lambda *a: g.const("axes", np.array(a, np.int64))  # noqa: E731
    g.output(g.op("ReduceSum", g.y, ax(0), keepdims=0))  # over T: [B, H]
    g.output(g.op("ReduceMean", g.yb, ax(-1)))  # [B, T, 1]
    g.output(g.op("ReduceMax", g.yb, ax(1, 2)))  # [B, 1, 1]
    g.output(g.op("ReduceMin", g.yb))  # everything: [1, 1, 1]
    g.output(g.op("ReduceProd", g.op("Add", g.yb, g.const("one", np.float32(1.0))), ax(2)))
    g.output(g.op("ReduceL1", g.yb, ax(0, 2), keepdims=0))
    g.output(g.op("ReduceL2", g.yb, ax(1)))
    g.output(g.op("ReduceSumSquare", g.y, ax(1), keepdims=0))
    g.output(g.op("ReduceSum", g.yb, noop_with_empty_axes=1))  # no axes: identity
    g.output(g.op("ReduceSum", "lengths"))  # int64 total, [1]
    g.output(g.op("ReduceMax", "counts", ax(1)))  # int32
    g.output(g.op("ReduceMean", "counts", ax(0), keepdims=0))  # int32 mean truncates
    scale = g.const("scale", g.rng.normal(1, 0.3, H))
    bias = g.const("bias", g.rng.normal(0, 0.3, H))
    y, mean, inv = g.op("LayerNormalization", g.yb, scale, bias, n_out=3, axis=-1, epsilon=1e-3)
    g.output(y)
    g.output(mean)
    g.output(inv)
    g.output(g.op("LayerNormalization", g.y, g.const("s1", np.array([0.7], np.float32)), axis=2))  # no bias
    path = g.save(tmp_path / "red.onnx")
    run_both(
        path,
        target,
        lambda r, T, B: {
            "lengths": r.integers(1, T + 1, B).astype(np.int64),
            "counts": r.integers(-9, 10, (B, 3)).astype(np.int32),
        },
    )


# ----------------------------------------------------- masks, logic, Cast


@ON_TARGETS
def test_masks_logic_where_cast(target, tmp_path):
    g = G(opset=18)
    g.input("lengths", "int64", ["B"])
    g.input("pos", "int64", ["T"])  # arange(T)
    g.input("q", "float32", ["B", 1, H])
    g.input("k32", "int32", ["B"])
    g.input("pad", "bool", ["B", "T"])  # a bool graph input (a source mask)
    i64 = lambda v: g.const("c", np.array(v, np.int64))  # noqa: E731
    mask = g.op("Less", unsq(g, "pos", [0]), unsq(g, "lengths", [1]))  # [B, T] bool
    g.output(g.op("Where", unsq(g, mask, [2]), g.yb, g.const("neg", np.float32(-1.0))))
    g.output(g.op("Where", g.op("Greater", g.yb, "q"), "q", g.yb))  # three-way broadcast, runtime x and y
    nm = g.op("Not", mask)
    both = g.op("And", mask, g.op("Greater", unsq(g, "pos", [0]), i64(0)))
    either = g.op("Or", nm, g.op("Equal", unsq(g, "lengths", [1]), i64(3)))
    g.output(g.op("Cast", g.op("Xor", both, either), to=1))  # bool -> float
    g.output(g.op("And", "pad", mask))  # a bool graph output
    g.output(g.op("Where", unsq(g, "pad", [2]), g.const("big", np.float32(-1e4)), g.yb))
    g.output(g.op("Cast", mask, to=7))  # bool -> int64
    g.output(g.op("Cast", g.op("LessOrEqual", g.yb, g.const("z", np.float32(0.0))), to=6))  # -> int32
    g.output(g.op("Cast", g.op("GreaterOrEqual", g.yb, "q"), to=1))
    g.output(g.op("CastLike", mask, g.yb))  # bool -> float via CastLike
    g.output(g.op("Cast", g.op("Cast", g.yb, to=9), to=7))  # float -> bool (x != 0) -> int64
    g.output(g.op("CastLike", "lengths", g.yb))  # int64 -> float
    g.output(g.op("Sub", "lengths", i64(1)))
    g.output(g.op("Mul", "lengths", "lengths"))
    g.output(g.op("Div", "lengths", i64(2)))
    g.output(g.op("Max", "lengths", i64(4)))
    g.output(g.op("Add", "k32", g.const("c", np.array([5], np.int32))))
    path = g.save(tmp_path / "mask.onnx")
    run_both(
        path,
        target,
        lambda r, T, B: {
            "lengths": r.integers(1, T + 1, B).astype(np.int64),
            "pos": np.arange(T, dtype=np.int64),
            "q": f32(r, (B, 1, H)),
            "k32": r.integers(-5, 5, B).astype(np.int32),
            "pad": r.random((B, T)) < 0.5,
        },
    )


# ------------------------------------------- TopK, Scatter, Gather, Sequences


@ON_TARGETS
def test_topk_scatter_gather_sequence(target, tmp_path):
    g = G(opset=18)
    g.input("lengths", "int64", ["B"])
    g.input("iota", "int64", ["B"])  # arange(B)
    g.input("sidx", "int64", ["B", "T", 2])
    g.input("supd", "float32", ["B", "T", 2])
    g.input("gidx", "int32", [2, 3])
    k_b = g.op("Gather", g.op("Shape", "lengths"), g.const("zero", np.array([0], np.int64)))  # K = B
    vals, idx = g.op("TopK", "lengths", k_b, n_out=2, axis=-1, largest=1)  # sort lengths, descending
    g.output(vals)
    g.output(idx)
    g.output(g.op("Gather", g.yb, idx, axis=0))  # reorder the batch by runtime indices
    zeros = g.op("ConstantOfShape", g.op("Shape", idx), value=onnx.helper.make_tensor("v", 7, [1], [0]))
    g.output(g.op("ScatterElements", zeros, idx, "iota", axis=0))  # the inverse permutation
    g.output(g.op("ScatterElements", g.yb, "sidx", "supd", axis=2, reduction="add"))
    g.output(g.op("ScatterElements", g.yb, "sidx", "supd", axis=2))
    v3, i3 = g.op("TopK", g.yb, g.const("k", np.array([3], np.int64)), n_out=2, axis=-1)
    g.output(v3)
    g.output(i3)
    v2, i2 = g.op("TopK", g.yb, g.const("k", np.array([2], np.int64)), n_out=2, axis=1, largest=0)
    g.output(v2)
    g.output(i2)
    g.output(g.op("Gather", g.yb, "gidx", axis=2))  # [B, T, 2, 3]
    g.output(g.op("Gather", g.y, g.const("neg", np.array(-1, np.int64)), axis=0))  # the last step
    seq = g.op("SplitToSequence", g.yb, g.const("split", np.array([2, 5], np.int64)), axis=2)
    g.output(g.op("SequenceAt", seq, g.const("pos", np.array(-1, np.int64))))  # [B, T, 5]
    seq1 = g.op("SplitToSequence", g.yb, axis=2, keepdims=0)
    g.output(g.op("SequenceAt", seq1, g.const("pos", np.array(3, np.int64))))  # [B, T]
    path = g.save(tmp_path / "idx.onnx")

    def extra(r, T, B):
        return {
            "lengths": r.permutation(np.arange(1, B + 1)).astype(np.int64) * 2,  # distinct: a unique order
            "iota": np.arange(B, dtype=np.int64),
            "sidx": r.integers(-H, H, (B, T, 2)).astype(np.int64),
            "supd": f32(r, (B, T, 2)),
            "gidx": r.integers(-H, H, (2, 3)).astype(np.int32),
        }

    run_both(path, target, extra)


@ON_TARGETS
def test_range_of_symbolic_length(target, tmp_path):
    g = G(opset=18)
    g.input("lengths", "int64", ["B"])
    t = g.op("Gather", g.op("Shape", g.yb), g.const("one", np.array(1, np.int64)))  # T, a scalar
    r = g.op("Range", g.const("s", np.array(0, np.int64)), t, g.const("d", np.array(1, np.int64)))  # arange(T)
    mask = g.op("Less", unsq(g, r, [0]), unsq(g, "lengths", [1]))
    g.output(g.op("Cast", mask, to=1))
    g.output(g.op("Range", g.const("s", np.array(1, np.int64)), t, g.const("d", np.array(2, np.int64))))  # 1, 3, ..
    path = g.save(tmp_path / "range.onnx")
    run_both(path, target, lambda r, T, B: {"lengths": r.integers(1, T + 1, B).astype(np.int64)})


# ----------------------------------------- element-wise with broadcasting


@ON_TARGETS
def test_elementwise_broadcast(target, tmp_path):
    g = G(opset=18)
    g.input("q", "float32", ["B", 1, H])
    g.input("e", "float32", [H])
    pos = g.op("Add", g.op("Abs", g.yb), g.const("h", np.float32(0.5)))
    g.output(g.op("Sub", g.yb, "q"))
    g.output(g.op("Sub", g.const("c", np.float32(0.25)), g.yb))
    g.output(g.op("Div", g.yb, g.op("Add", g.op("Abs", "q"), g.const("one", np.float32(1.0)))))
    g.output(g.op("Div", g.const("c", np.float32(2.0)), pos))
    g.output(g.op("Neg", g.yb))
    g.output(g.op("Exp", g.yb))
    g.output(g.op("Log", pos))
    g.output(g.op("Sqrt", pos))
    g.output(g.op("Pow", pos, "e"))
    g.output(g.op("Pow", pos, g.const("c", np.float32(1.7))))
    g.output(g.op("Clip", g.yb, g.const("lo", np.float32(-0.3)), g.const("hi", np.float32(0.4))))
    g.output(g.op("Clip", g.yb, g.const("lo", np.float32(-0.1))))
    path = g.save(tmp_path / "ew.onnx")
    run_both(path, target, lambda r, T, B: {"q": f32(r, (B, 1, H)), "e": f32(r, (H,), -2, 2)})
