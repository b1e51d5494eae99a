"""Names that could break the generated C (hlfgen/cnames.py): comments, string
literals, trigraphs, file names.  A model whose every name is hostile compiles
with -Werror on gcc and clang and its runner writes the right files, matching
onnxruntime."""

from __future__ import annotations

import re
import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import REPO_ROOT, assert_parity
from hlfgen import cnames

HOSTILE = [
    "a*/b",
    "/*c",
    "t??(r",
    "t??/",
    "q??=x",
    "two\nlines",
    "back\\slash",
    'quo"te',
    "pct%s%n",
    "uni\u00e9\u4e2d",
    "tab\tx",
    "end\\",
    "-dash",
    "..",
    "??)??'??!??-??<??>",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_comment_text_cannot_end_or_open_a_comment(text):
    s = cnames.comment(text)
    assert "*/" not in s and "/*" not in s and "??" not in s and "\n" not in s and "\r" not in s


def _c_unescape(lit: str) -> bytes:
    """Decode a C string literal as a C compiler does (the escapes c_string emits)."""
    assert lit[0] == lit[-1] == '"'
    body, out, i = lit[1:-1], bytearray(), 0
    while i < len(body):
        if body[i] == "\\":
            if body[i + 1] in "01234567":
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
            out.append(ord(body[i + 1]))
            i += 2
            continue
        assert body[i] not in '"\n', lit
        out.append(ord(body[i]))
        i += 1
    return bytes(out)


@pytest.mark.parametrize("text", HOSTILE)
def test_c_string_round_trips_and_has_no_trigraph(text):
    lit = cnames.c_string(text)
    assert _c_unescape(lit) == text.encode("utf-8")
    assert "??" not in lit and "*/" not in lit and "/*" not in lit and lit.isascii()


def test_output_stems_are_unique_and_follow_the_runner_rule():
    names = ["h_n", "h:n", "y", "h n", "uni\u00e9"]
    stems = cnames.output_stems(names)
    assert stems == ["h_n~0", "h_n~1", "y", "h_n~3", "uni__"]  # é is two UTF-8 bytes
    assert len(set(stems)) == len(stems)
    assert cnames.file_stem("back\\slash") == "back_slash"


def test_macro_suffixes_are_unique():
    assert cnames.macro_suffixes(["h_n", "h:n", "y", "x_size"]) == ["H_N_0", "H_N_1", "Y", "X_SIZE_"]
    assert cnames.macro_suffixes(["a", "A", "a_1"]) == ["A_0", "A_1_1", "A_1_2"]


def test_templates_print_names_through_a_filter():
    """Every template expression that prints a name or comment text goes through | comment, | cstr or | ident."""
    risky = re.compile(r"(node|name|comment|source|\.outputs\[\d\]|\.inputs\[\d\])\s*$")
    bad = []
    for path in sorted((REPO_ROOT / "templates").rglob("*.j2")):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            for expr in re.findall(r"{{(.*?)}}", line):
                expr = expr.strip()
                if expr in ("name", "NAME") or expr.endswith("c_name"):  # the model's C identifier, C symbols
                    continue
                if risky.search(expr) and not re.search(r"\|\s*(comment|cstr|ident)\b", expr) and "ptr(" not in expr:
                    bad.append(f"{path.relative_to(REPO_ROOT)}:{lineno}: {{{{ {expr} }}}}")
    assert not bad, "names printed raw:\n" + "\n".join(bad)


def _hostile_model(path):
    """Two LSTM layers and a Transpose, every node and tensor named with a hostile name; two outputs
    whose file names collide (h_n, h:n) and one that is also a graph input."""
    rng = np.random.default_rng(7)
    inp, hid = 3, 5
    x, w, r, b = "X*/??=\n\\in", "W/*??(", "R??/", 'B"\\'
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.5, s).astype(np.float32), n)
        for n, s in ((w, (1, 4 * hid, inp)), (r, (1, 4 * hid, hid)), (b, (1, 8 * hid)))
    ]
    nodes = [
        helper.make_node("LSTM", [x, w, r, b], ["y*/1", "h_n"], hidden_size=hid, name="lstm */ ??/ \\\nnode"),
        helper.make_node("Transpose", ["y*/1"], ["y??)t"], perm=[2, 1, 0, 3], name="tr??=ans*/"),
        helper.make_node("Relu", ["h_n"], ["h:n"], name='relu"%s'),
    ]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y??)t", "h_n", "h:n")]
    outs.append(helper.make_tensor_value_info(x, TensorProto.FLOAT, ["T", 2, inp]))
    g = helper.make_graph(
        nodes, "g*/", [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["T", 2, inp])], outs, initializer=inits
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)], ir_version=8), str(path))
    return path


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_hostile_names_compile_with_werror_and_run(tmp_path, compiler):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed")
    path = _hostile_model(tmp_path / "hostile.onnx")
    report = assert_parity(path, seq_len=4, batch=2, compiler=compiler, work_dir=tmp_path / "w")
    assert set(report.outputs) == {"y??)t", "h_n", "h:n", "X*/??=\n\\in"}
    files = sorted(p.name for p in (tmp_path / "w" / "run" / "out").glob("*.npy"))
    assert files == sorted(s + ".npy" for s in cnames.output_stems(["y??)t", "h_n", "h:n", "X*/??=\n\\in"]))
