"""Named symbolic dimensions (hlfgen/dims.py) and the multi-dimension build.

Fast tier: the Dim type against Python integer arithmetic on random values.
Parity: models with several run-time dimensions, built once with --max-dim
and run at two different sizes, against onnxruntime.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from hlfgen import dims as D
from conftest import _compare, run_oracle
from test_models_e2e import INT64_MAX, G, I, save

B = 2


# ------------------------------------------------------------------ the Dim type
def _random_expr(rng, syms, depth=0):
    """A random expression as (Dim, python function of env)."""
    k = int(rng.integers(0, 6 if depth < 3 else 2))
    if k == 0:
        c = int(rng.integers(-7, 8))
        return c, lambda env: c
    if k == 1:
        s = syms[int(rng.integers(len(syms)))]
        return D.sym(s), lambda env: env[s]
    a, fa = _random_expr(rng, syms, depth + 1)
    if k == 5:
        q = int(rng.integers(1, 6))
        return D.floordiv(a, q), lambda env: fa(env) // q
    b, fb = _random_expr(rng, syms, depth + 1)
    if k == 2:
        return a + b, lambda env: fa(env) + fb(env)
    if k == 3:
        return a - b, lambda env: fa(env) - fb(env)
    return a * b, lambda env: fa(env) * fb(env)


def test_dim_matches_integer_arithmetic():
    rng = np.random.default_rng(0)
    syms = ["T", "B", "S"]
    for _ in range(400):
        d, f = _random_expr(rng, syms)
        for _ in range(5):
            env = {s: int(rng.integers(1, 50)) for s in syms}
            assert D.evaluate(d, env) == f(env), (d, env)
            # the C expression computes the same (floor division of negatives included)
            text = D.c_expr(d, lambda s: f"env['{s}']")
            text = text.replace("HLF_FLOORDIV", "_fd")
            assert eval(text.replace("/", "//"), {"env": env, "_fd": lambda a, b: a // b}) == f(env), text


def test_dim_simplification():
    T, S = D.sym("T"), D.sym("S")
    assert T - T == 0 and isinstance(T - T, int)
    assert (2 * T + 4) // 2 == T + 2
    assert (4 * T + 2) // 4 == T  # floor(T + 1/2)
    assert (T - 5) // 2 + 1 == (T + 1) // 2 - 2
    assert D.exact_div(T * S * 3, S) == 3 * T
    assert D.exact_div(T, 2) is None and D.exact_div(T * S, T + 1) is None
    assert hash((T - 5) // 2) == hash((T - 5) // 2)
    assert T != 1 and T == D.sym("T") and D.symbols(T * S + 1) == {"T", "S"}
    assert D.dmax((T - 5) // 2 + 1, {"T": 21}) == 9
    with pytest.raises(TypeError):
        T < 3  # noqa: B015  (no order between a symbol and a constant)


# ------------------------------------------------------------------ builds at two sizes
def _build(path, tmp_path, target="host", **kw):
    from hlfgen.build import compile_out, generate

    gen = generate(path, tmp_path / "out", target=target, **kw)
    return gen, compile_out(gen.out_dir, tmp_path / "build", target=target)


def _run_and_compare(exe, path, feeds, tmp_path, tag, target="host"):
    from hlfgen.build import run_runner

    outs, _ = run_runner(exe, feeds, work_dir=tmp_path / tag, target=target)
    _, expected = run_oracle(path, feeds)
    for name, exp in expected.items():
        _compare(name, outs[name.replace(":", "_")], exp, f"runner vs onnxruntime ({tag})")


def _two_symbol_model(work):
    """GRU over X [T, B, I]; a second input M [S, I] (the source length S) reduced by a Relu +
    Concat with itself along S: outputs of extents T and 2*S."""
    g = G(3)
    y, y_h = g.recurrent("X")
    r = g.op("Relu", ["M"])
    g.nodes.append(helper.make_node("Identity", [y], ["Y"]))
    g.nodes.append(helper.make_node("Concat", [r, "M"], ["MC"], axis=0))
    g.out("Y")
    g.out("MC")
    inputs = [
        helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", B, I]),
        helper.make_tensor_value_info("M", TensorProto.FLOAT, ["S", I]),
    ]
    return save(g.model(inputs), work, "two_syms")


def test_two_run_time_dimensions(tmp_path, target):
    work = (tmp_path, tmp_path)
    path = _two_symbol_model(work)
    gen, exe = _build(path, tmp_path, target, max_dims={"T": 9, "S": 6})
    m = gen.model
    assert [d.name for d in m.dims] == ["T", "S"] and m.max_dims == {"T": 9, "S": 6}
    header = (gen.out_dir / f"{m.name}.h").read_text()
    for macro in ("_NUM_DIMS 2", "_DIM_T 0", "_DIM_S 1", "_MAX_DIM_S 6", "_run_dims(const int dims[]"):
        assert macro in header, macro
    assert f"{m.name}_run(int seq_len" not in header  # two run-time dimensions: only run_dims
    rng = np.random.default_rng(5)
    for t, s in ((9, 2), (3, 6)):
        feeds = {
            "X": rng.standard_normal((t, B, I)).astype(np.float32),
            "M": rng.standard_normal((s, I)).astype(np.float32),
        }
        _run_and_compare(exe, path, feeds, tmp_path, f"t{t}s{s}", target)


def test_runner_refuses_a_dimension_above_its_max(tmp_path):
    from hlfgen.build import run_runner

    work = (tmp_path, tmp_path)
    path = _two_symbol_model(work)
    _, exe = _build(path, tmp_path, max_dims={"T": 4, "S": 3})
    feeds = {"X": np.zeros((2, B, I), np.float32), "M": np.zeros((5, I), np.float32)}
    with pytest.raises(RuntimeError, match="dimension S=5 out of range 1..3"):
        run_runner(exe, feeds, work_dir=tmp_path / "bad")


def test_strided_window_of_time(tmp_path, target):
    """y[::2] over T: ceil(T / 2) = (T + 1) // 2 steps, and y[1::3]: (T + 1) // 3; built once, run at two
    lengths (the output extent is an expression: the runner's extents())."""
    work = (tmp_path, tmp_path)
    g = G(6)
    y, _ = g.recurrent("X")
    for start, step in ((0, 2), (1, 3)):
        g.out(
            g.op(
                "Slice",
                [
                    y,
                    g.const([start], np.int64),
                    g.const([INT64_MAX], np.int64),
                    g.const([0], np.int64),
                    g.const([step], np.int64),
                ],
            )
        )
    path = save(g.model([helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", B, I])]), work, "strided")
    gen, exe = _build(path, tmp_path, target, max_seq_len=11)
    outs = gen.model.outputs
    assert [str(t.shape[0]) for t in outs] == ["(T + 1) // 2", "(T + 1) // 3"]
    rng = np.random.default_rng(2)
    for t in (11, 4):
        _run_and_compare(exe, path, {"X": rng.standard_normal((t, B, I)).astype(np.float32)}, tmp_path, f"t{t}", target)


def test_static_length_lstm(tmp_path):
    """A recurrent layer with a static sequence length (T = 1, a decoder step): compiles, no run-time
    dimension, NAME_run(1, ...) keeps working; parity with onnxruntime."""
    from conftest import assert_parity

    work = (tmp_path, tmp_path)
    g = G(4)
    y, y_h = g.recurrent("X", kind="LSTM")
    g.out(y)
    g.out(y_h)
    path = save(g.model([helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, B, I])]), work, "t1")
    feeds = {"X": np.random.default_rng(1).standard_normal((1, B, I)).astype(np.float32)}
    rep = assert_parity(path, feeds, work_dir=tmp_path / "p")
    assert rep.ok


def test_flatten2_glue(tmp_path):
    """flatten(2) as exporters write it: Reshape(y, Concat(Shape(y)[0:2], [-1])) over [T, 1, B, H]."""
    work = (tmp_path, tmp_path)
    g = G(7)
    gates, hidden = 3, 5
    w = g.hlf_weight(gates * hidden, I, 2, 2)
    r = g.hlf_weight(gates * hidden, hidden, 3, 2)
    y = g.op("GRU", ["X", w, r], hidden_size=hidden)
    shape = g.op("Shape", [y])
    head = g.op("Slice", [shape, g.const([0], np.int64), g.const([2], np.int64)])
    target = g.op("Concat", [head, g.const([-1], np.int64)], axis=0)
    g.out(g.op("Reshape", [y, target]))
    path = save(g.model([helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", B, I])]), work, "flat2")
    gen, exe = _build(path, tmp_path, max_seq_len=7)
    assert str(gen.model.outputs[0].shape) == "(T, 1, 10)"
    rng = np.random.default_rng(3)
    for t in (7, 2):
        _run_and_compare(exe, path, {"X": rng.standard_normal((t, B, I)).astype(np.float32)}, tmp_path, f"t{t}")


def test_unknown_dim_names_are_refused(tmp_path):
    from hlfgen.errors import HlfgenError
    from hlfgen.reader import read_model

    work = (tmp_path, tmp_path)
    path = _two_symbol_model(work)
    with pytest.raises(HlfgenError, match="no symbolic dimension 'Q'.*T, S"):
        read_model(path, dims={"Q": 3})
    m = read_model(path, dims={"S": 4})
    assert [d.name for d in m.dims] == ["T"] and m.fixed == {"S": 4}
    assert m.tensors["M"].shape == (4, I)
    assert any("dimension T" in n and "dynamic" in n for n in m.notes)


def test_unnamed_dims_get_input_axis_names(tmp_path):
    from hlfgen.reader import read_model

    work = (tmp_path, tmp_path)
    g = G(3)
    y, _ = g.recurrent("X")
    g.out(y)
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, None, I])
    m = read_model(save(g.model([x]), work, "unnamed"))
    # the sequence axis stays dynamic, the batch axis is fixed to 1, each named INPUT:AXIS
    assert [d.name for d in m.dims] == ["X:0"] and m.dims[0].c_name == "X_0"
    assert m.tensors["X"].shape == (D.sym("X:0"), 1, I)
    assert onnx.load(str(work[0] / "unnamed.onnx"))  # sanity


def test_cast_chain_to_sequence_lens(tmp_path):
    """int64 lens -> Cast(int64) (a view of the graph input) -> Cast(int32) -> sequence_lens: the view
    once got a buffer of its own that replaced the input's storage and shared the next buffer's
    C name (`static int64_t b_4[3]; static int32_t b_4[3];`)."""
    work = (tmp_path, tmp_path)
    g = G(8)
    gates, hidden = 4, 5
    w = g.hlf_weight(gates * hidden, I, 2, 2)
    r = g.hlf_weight(gates * hidden, hidden, 3, 2)
    l64 = g.op("Cast", ["lens"], to=TensorProto.INT64)
    l32 = g.op("Cast", [l64], to=TensorProto.INT32)
    y, y_h, _ = g.op("LSTM", ["X", w, r, "", l32], n_out=3, hidden_size=hidden)
    g.out(y)
    g.out(y_h)
    inputs = [
        helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", 3, I]),
        helper.make_tensor_value_info("lens", TensorProto.INT64, [3]),
    ]
    path = save(g.model(inputs), work, "cast_chain")
    gen, exe = _build(path, tmp_path, max_seq_len=6, batch=3)
    names = [c for c, _, _ in gen.program.buffers]
    assert len(names) == len(set(names)) == 1, names  # only the int32 cast has a buffer
    rng = np.random.default_rng(4)
    for t, lens in ((6, [6, 2, 4]), (3, [1, 3, 3])):
        feeds = {"X": rng.standard_normal((t, 3, I)).astype(np.float32), "lens": np.array(lens, np.int64)}
        _run_and_compare(exe, path, feeds, tmp_path, f"t{t}")


DIMS_API_PROGRAM = r"""
#include <stdio.h>
#include "two.h"

/* Buffers of the maximal sizes, from the header's macros. */
static const int max_dims[TWO_NUM_DIMS] = {TWO_MAX_DIM_T, TWO_MAX_DIM_S};
static float x[TWO_INPUT_X_MAX_SIZE], m[TWO_INPUT_M_MAX_SIZE];
static float y[TWO_OUTPUT_Y_MAX_SIZE], c[TWO_OUTPUT_MC_MAX_SIZE];

int main(void) {
    int dims[TWO_NUM_DIMS];
    const void *in[TWO_NUM_INPUTS] = {x, m};
    void *out[TWO_NUM_OUTPUTS] = {y, c};
    dims[TWO_DIM_T] = 3;
    dims[TWO_DIM_S] = 2;
    for (size_t i = 0; i < TWO_INPUT_M_SIZE(dims); i++) m[i] = (float)i - 2.5f;
    if (two_run_dims(dims, in, out) != 0) return 1;
    if (c[0] != 0.0f || c[TWO_INPUT_M_SIZE(dims)] != -2.5f) return 2;  /* Relu(M) then M, along S */
    dims[TWO_DIM_S] = TWO_MAX_DIM_S + 1;
    if (two_run_dims(dims, in, out) != -1) return 3;  /* above its max */
    dims[TWO_DIM_S] = 1;
    dims[TWO_DIM_T] = 0;
    if (two_run_dims(dims, in, out) != -1) return 4;
    if (TWO_OUTPUT_Y_SIZE(max_dims) != TWO_OUTPUT_Y_MAX_SIZE) return 5;
    printf("sizes %zu %zu\n", TWO_OUTPUT_Y_SIZE(max_dims), TWO_OUTPUT_MC_SIZE(max_dims));
    return 0;
}
"""


def test_c_api_with_two_dimensions(tmp_path):
    """NAME_run_dims, NAME_DIM_* / NAME_MAX_DIM_* and SIZE(dims) macros from an application."""
    import subprocess

    from hlfgen.build import compile_out, generate

    work = (tmp_path, tmp_path)
    path = _two_symbol_model(work)
    gen = generate(path, tmp_path / "out", name="two", max_dims={"T": 5, "S": 4})
    compile_out(gen.out_dir, tmp_path / "build")
    src = tmp_path / "app.c"
    src.write_text(DIMS_API_PROGRAM)
    exe = tmp_path / "app"
    subprocess.run(
        [
            "cc",
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            f"-I{gen.out_dir}",
            str(src),
            str(tmp_path / "build" / "libtwo.a"),
            "-lm",
            "-o",
            str(exe),
        ],
        check=True,
    )
    proc = subprocess.run([str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == f"sizes {5 * B * 5} {2 * 4 * I}"
