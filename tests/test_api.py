"""hlfgen.compile: the generated C loaded into Python (ctypes), against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

import hlfgen
import models
from conftest import run_oracle
from hlfgen.errors import HlfgenError

T = 9


@pytest.fixture(scope="module")
def gru(tmp_path_factory):
    """A bidirectional-free GRU (it streams) with initial_h and odd sizes."""
    path = models.save(
        models.rnn_model("gru", 6, 11, with_initial_h=True, seed=5), tmp_path_factory.mktemp("api") / "g.onnx"
    )
    return path, hlfgen.compile(path, max_seq_len=T)


def test_run_matches_onnxruntime(gru):
    path, m = gru
    feeds = models.make_inputs(__import__("onnx").load(str(path)), T, seed=3)
    _, expected = run_oracle(path, feeds)
    out = m.run(**feeds)
    assert list(out) == ["Y", "Y_h"] and m.input_names == ["X", "initial_h"]
    for k, v in expected.items():
        np.testing.assert_allclose(out[k], v, atol=1e-4, rtol=1e-3, err_msg=k)
    short = {"X": feeds["X"][:4], "initial_h": feeds["initial_h"]}  # another T, the same object
    _, exp_short = run_oracle(path, short)
    np.testing.assert_allclose(m.run(**short)["Y"], exp_short["Y"], atol=1e-4, rtol=1e-3)


def test_step_reset_and_independent_objects(gru):
    path, m = gru
    other = hlfgen.compile(path, max_seq_len=T)
    proto = __import__("onnx").load(str(path))
    f1, f2 = models.make_inputs(proto, T, seed=8), models.make_inputs(proto, T, seed=9)
    _, e1 = run_oracle(path, f1)
    _, e2 = run_oracle(path, f2)
    m.reset(initial_h=f1["initial_h"])
    other.reset(initial_h=f2["initial_h"])
    y1, y2 = [], []
    for t in range(T):  # two instances, interleaved
        y1.append(m.step(X=f1["X"][t : t + 1])["Y"])
        y2.append(other.step(X=f2["X"][t : t + 1])["Y"])
    np.testing.assert_allclose(np.concatenate(y1), e1["Y"], atol=1e-4, rtol=1e-3)
    np.testing.assert_allclose(np.concatenate(y2), e2["Y"], atol=1e-4, rtol=1e-3)
    streamed = m.stream(**f2)
    np.testing.assert_allclose(streamed["Y"], e2["Y"], atol=1e-4, rtol=1e-3)
    np.testing.assert_allclose(streamed["Y_h"], e2["Y_h"], atol=1e-4, rtol=1e-3)


def test_bad_calls_are_one_line_errors(gru):
    path, m = gru
    with pytest.raises(HlfgenError, match="shape"):
        m.run(X=np.zeros((T, 1, 5), np.float32))
    with pytest.raises(HlfgenError, match="outside 1..9"):
        m.run(X=np.zeros((T + 1, 1, 6), np.float32))
    with pytest.raises(HlfgenError, match="unknown input"):
        m.run(X=np.zeros((T, 1, 6), np.float32), Z=1)
    with pytest.raises(HlfgenError, match="host"):
        hlfgen.compile(path, target="cortex-a73")


@pytest.mark.parametrize(
    "spec",
    [
        dict(kind="lstm", direction="bidirectional", batch=3, with_seq_lens=True, with_peepholes=True),
        dict(kind="gru", direction="reverse", layout=1, batch=3, with_seq_lens=True, with_initial_h=True),
        dict(kind="rnn", direction="forward", layout=1, batch=2),
    ],
    ids=["lstm-bidir-seqlens", "gru-reverse-layout1-seqlens", "rnn-layout1"],
)
def test_chunked_input_projection(spec, tmp_path):
    """Sequences of several input-projection chunks (lower.PROJ_CHUNK steps,
    the last one partial), per-entry lengths that end inside chunks."""
    from hlfgen.lower import PROJ_CHUNK

    TT = 2 * PROJ_CHUNK + 5
    proto = models.rnn_model(input_size=7, hidden=10, seed=6, **spec)
    path = models.save(proto, tmp_path / "m.onnx")
    lens = [TT, PROJ_CHUNK + 3, 4][: spec["batch"]]
    feeds = models.make_inputs(proto, TT, batch=spec["batch"], seed=2, seq_lens=lens)
    _, expected = run_oracle(path, feeds)
    m = hlfgen.compile(path, max_seq_len=TT)
    out = m.run(**feeds)
    for k, v in expected.items():
        np.testing.assert_allclose(out[k], v, atol=1e-4, rtol=1e-3, err_msg=k)


def test_instance_bytes_do_not_grow_with_max_seq_len(tmp_path):
    """The projection buffer holds one chunk: a one-layer model (its tensors are
    the caller's inputs and outputs) needs the same memory at any --max-seq-len."""
    from hlfgen.build import generate
    from hlfgen.emit import ctx_bytes

    path = models.save(models.rnn_model("lstm", 40, 128, seed=1), tmp_path / "m.onnx")
    sizes = {t: ctx_bytes(generate(path, tmp_path / f"o{t}", max_seq_len=t).program) for t in (16, 128, 1024)}
    assert len(set(sizes.values())) == 1, sizes
    assert sizes[128] < 4 * 128 * 4 * 128, sizes  # less than the all-steps projection (T x 4 gates x H floats) alone


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_stream_with_sequence_lens(kind, tmp_path):
    """NAME_step counts the steps since the reset: an entry stops at its own length (Y zero, Y_h
    frozen), one of length 0 keeps a zero Y_h, as onnxruntime's whole-sequence run."""
    TT = 7
    proto = models.rnn_model(kind, 5, 9, batch=3, with_seq_lens=True, with_initial_h=True, seed=4)
    path = models.save(proto, tmp_path / "m.onnx")
    feeds = models.make_inputs(proto, TT, batch=3, seed=2, seq_lens=[TT, 3, 0])
    _, expected = run_oracle(path, feeds)
    m = hlfgen.compile(path, max_seq_len=TT)
    assert m.can_stream
    streamed = m.stream(**feeds)
    again = m.stream(**feeds)  # reset() restarts the count
    for k, v in expected.items():
        np.testing.assert_allclose(streamed[k], v, atol=1e-4, rtol=1e-3, err_msg=k)
        np.testing.assert_allclose(again[k], v, atol=1e-4, rtol=1e-3, err_msg=k)
