"""Invalid or absurd models and arguments: one line on stderr, exit 2, nothing on disk
(hlfgen/validate.py, the CLI's argument errors).  Each case was accepted before
(or failed with a traceback); the ONNX rule each one breaks is in its message."""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import models
from hlfgen.cli import main


def _base() -> onnx.ModelProto:
    return models.rnn_model("lstm", 5, 6, weights=models.dense(), with_seq_lens=True, with_initial_h=True, batch=2)


def _retype(m, name_part, dtype):
    for i, t in enumerate(m.graph.initializer):
        if name_part in t.name:
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(dtype), t.name))


def _nine_inputs(m):
    n = m.graph.node[-1]
    n.input.extend([""] * (9 - len(n.input)))
    n.input[8] = "X"


def _dup_output(m):
    n = copy.deepcopy(m.graph.node[-1])
    n.name = "dup"
    m.graph.node.append(n)


def _static_t(m, t):
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = t


MUTATIONS = {
    # name: (mutation, words the one-line message must contain)
    "duplicate_graph_input": (lambda m: m.graph.input.append(copy.deepcopy(m.graph.input[0])), ["'X'", "twice"]),
    "duplicate_initializer": (lambda m: m.graph.initializer.append(copy.deepcopy(m.graph.initializer[0])), ["twice"]),
    "duplicate_node_output": (_dup_output, ["'Y'", "twice"]),
    "float16_W": (lambda m: _retype(m, ".W", np.float16), ["W", "float16", "float32", "Cast"]),
    "float64_W": (lambda m: _retype(m, ".W", np.float64), ["W", "double", "float32"]),
    "int64_sequence_lens": (
        lambda m: setattr(m.graph.input[1].type.tensor_type, "elem_type", TensorProto.INT64),
        ["sequence_lens", "int64", "int32"],
    ),
    "int32_X": (
        lambda m: setattr(m.graph.input[0].type.tensor_type, "elem_type", TensorProto.INT32),
        ["'X'", "int32", "float"],
    ),
    "opset_999": (lambda m: setattr(m.opset_import[0], "version", 999), ["opset 999"]),
    "ir_version_0": (lambda m: setattr(m, "ir_version", 0), ["ir_version 0"]),
    "ir_version_99": (lambda m: setattr(m, "ir_version", 99), ["ir_version 99"]),
    "nine_inputs": (_nine_inputs, ["9 inputs", "at most 8"]),
    "batch_2_initial_h_3": (
        lambda m: setattr(m.graph.input[2].type.tensor_type.shape.dim[1], "dim_value", 3),
        ["initial_h", "batch size 3", "2"],
    ),
    # the input projection runs in chunks (working memory does not grow with T): the runner's buffers trip
    "static_T_1e9": (lambda m: _static_t(m, 10**9), ["GiB", "buffers", "limit"]),
}


def _run(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err
    return rc, err.strip().splitlines()


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_invalid_model_is_refused_in_one_line(case, tmp_path, capsys):
    mutate, needles = MUTATIONS[case]
    m = _base()
    mutate(m)
    path = tmp_path / "bad.onnx"
    onnx.save(m, str(path))
    out = tmp_path / "out"
    rc, lines = _run(capsys, ["build", str(path), "-o", str(out)])
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("hlfgen: error: "), (rc, lines)
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--batch", "--max-seq-len"])
def test_absurd_batch_or_length_is_refused_with_the_figure(flag, tmp_path, capsys):
    path = tmp_path / "m.onnx"
    onnx.save(_base() if flag == "--max-seq-len" else models.rnn_model("lstm", 5, 6, batch="B"), str(path))
    out = tmp_path / "out"
    rc, lines = _run(capsys, ["build", str(path), "-o", str(out), flag, str(10**9)])
    assert rc == 2 and len(lines) == 1 and "GiB" in lines[0] and "limit" in lines[0], lines
    assert not out.exists()


def test_fp16_weights_through_cast_stay_valid(tmp_path, capsys):
    """The exporters' way of storing float16 weights: a Cast to float before the LSTM (one type T)."""
    m = _base()
    lstm = m.graph.node[-1]
    for pos in (1, 2):
        name = lstm.input[pos]
        _retype(m, name, np.float16)
        m.graph.initializer[[t.name for t in m.graph.initializer].index(name)].name = name + "_f16"
        m.graph.node.insert(0, helper.make_node("Cast", [name + "_f16"], [name], to=TensorProto.FLOAT))
    onnx.checker.check_model(m, full_check=True)
    path = tmp_path / "m.onnx"
    onnx.save(m, str(path))
    rc, _ = _run(capsys, ["build", str(path), "-o", str(tmp_path / "out")])
    assert rc == 0


def test_out_under_a_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "m.onnx"
    onnx.save(_base(), str(path))
    afile = tmp_path / "afile"
    afile.write_text("x")
    rc, lines = _run(capsys, ["build", str(path), "-o", str(afile / "out")])
    assert rc == 2 and len(lines) == 1 and "afile" in lines[0] and "not a directory" in lines[0], lines


def test_bad_option_value_is_one_line(tmp_path):
    """argparse's usage block (six lines for build) is replaced by one line, exit 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "hlfgen", "build", "m.onnx", "-o", str(tmp_path / "o"), "--batch", "two"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "--batch" in lines[0] and "'two'" in lines[0] and "Traceback" not in proc.stderr
