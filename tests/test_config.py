"""hlfgen/config.py is the one source of truth: the C runtime's hlf_config.h is
generated from it, and the rank limit holds on both sides (a rank-7 Transpose
once overran a rank-6 array in runtime/hlf_ops.c)."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from conftest import REPO_ROOT, assert_parity
from hlfgen import config
from hlfgen.errors import HlfgenError
from hlfgen.reader import read_model


def test_runtime_copy_of_hlf_config_h_is_current():
    """runtime/hlf_config.h (for the C unit tests) is exactly what config.py generates."""
    assert (REPO_ROOT / "runtime" / "hlf_config.h").read_text() == config.config_header()


def test_no_rank_literal_left_in_the_runtime():
    """Every rank bound in the runtime is HLF_MAX_RANK (or an alias of it)."""
    for path in (REPO_ROOT / "runtime").glob("*.[ch]"):
        text = path.read_text()
        for m in re.finditer(r"#define\s+(\w*MAX_RANK)\s+(\S+)", text):
            assert m.group(1) == "HLF_MAX_RANK" or m.group(2) == "HLF_MAX_RANK", (path.name, m.group(0))


def test_generated_header_values():
    h = config.config_header()
    assert f"#define HLF_MAX_RANK {config.MAX_RANK}" in h
    for d in config.DTYPES.values():
        assert f"{d.enum} = {d.code}" in h
    assert config.ONNX_TO_DTYPE[TensorProto.FLOAT] == "float32"
    assert config.ONNX_TO_DTYPE[TensorProto.INT64] == "int64"
    assert set(config.PANEL_ROWS) == set(config.TARGETS)


def _transpose_model(path, rank: int, hidden: int = 5):
    """LSTM -> Y [T, 1, B, H] -> Reshape to `rank` dims -> Transpose(reversed) -> output."""
    rng = np.random.default_rng(rank)
    inp, b = 3, 2
    W = helper.make_tensor(
        "W", TensorProto.FLOAT, [1, 4 * hidden, inp], rng.normal(0, 0.4, 4 * hidden * inp).astype(np.float32)
    )
    R = helper.make_tensor(
        "R", TensorProto.FLOAT, [1, 4 * hidden, hidden], rng.normal(0, 0.4, 4 * hidden * hidden).astype(np.float32)
    )
    shape = [0, b, hidden] + [1] * (rank - 3)  # [T, B, H, 1, ...]
    S = helper.make_tensor("S", TensorProto.INT64, [rank], shape)
    nodes = [
        helper.make_node("LSTM", ["X", "W", "R"], ["Y"], hidden_size=hidden, name="lstm"),
        helper.make_node("Reshape", ["Y", "S"], ["Yr"], name="reshape"),
        helper.make_node("Transpose", ["Yr"], ["out"], perm=list(reversed(range(rank))), name="wide_transpose"),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", b, inp])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
        initializer=[W, R, S],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)
    onnx.save(m, str(path))
    return path


def test_rank_above_the_limit_is_one_line_error(tmp_path):
    p = _transpose_model(tmp_path / "wide.onnx", config.MAX_RANK + 1)
    with pytest.raises(HlfgenError) as e:
        read_model(p)
    msg = str(e.value)
    assert "\n" not in msg and f"rank {config.MAX_RANK + 1}" in msg and f"up to {config.MAX_RANK}" in msg


@pytest.mark.parametrize("rank", [7, config.MAX_RANK])
def test_transpose_up_to_the_limit_matches_onnxruntime(tmp_path, rank):
    """Rank 7 and 8 Transposes compile and match onnxruntime (UBSan build: no overrun)."""
    p = _transpose_model(tmp_path / f"t{rank}.onnx", rank)
    assert_parity(p, seq_len=3, work_dir=tmp_path / "w", sanitize=True)
