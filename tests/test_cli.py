"""The commands as a user types them: plan, inspect, example, build, check, run."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

H, I = 16, 12


def _hlfgen(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hlfgen", *args], capture_output=True, text=True, cwd=cwd)


# Paper, Table 1: maximum rank of a 256x256 matrix at each compression factor.
TABLE_1 = {"1.25": (102, 204), "5/3": (76, 153), "2.5": (51, 101), "5": (25, 50)}


@pytest.mark.parametrize("cf", sorted(TABLE_1))
def test_plan_json_reproduces_table_1(cf):
    proc = _hlfgen("plan", "--shape", "256x256", "--compression", cf, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    lmf, hlf_max = TABLE_1[cf]
    assert data["lmf"]["rank"] == lmf
    assert data["hlf"][0]["k"] == 1
    assert max(o["rank"] for o in data["hlf"]) == hlf_max == data["hlf"][0]["rank"]
    target = 256 * 256 / eval(cf)  # noqa: S307 - a literal fraction from the table above
    for o in data["hlf"]:
        assert o["params"] == o["j"] * 256 + o["k"] * (256 - o["j"] + 256)  # Eq. 4 denominator
        assert o["params"] <= target + 1e-9


def test_plan_text():
    proc = _hlfgen("plan", "--shape", "512x128", "--compression", "2.5")
    assert proc.returncode == 0, proc.stderr
    assert "LMF" in proc.stdout and "HLF" in proc.stdout


def _structured_model(path, w_kind, r_kind):
    """LSTM whose W and R are built as the test says: dense, LMF rank 3, HLF (j=5, k=2), or folded HLF."""
    rng = np.random.default_rng(7)
    inits, nodes = [], []

    def matrix(name, kind, m, n):
        if kind == "dense":
            inits.append(numpy_helper.from_array(rng.standard_normal((1, m, n)).astype(np.float32), name))
            return
        if kind == "folded":  # an exporter already multiplied the factors: per gate [A'; B·C] as one array
            blocks = []
            for _ in range(4):
                a = rng.standard_normal((5, n))
                bc = rng.standard_normal((H - 5, 2)) @ rng.standard_normal((2, n))
                blocks += [a, bc]
            inits.append(numpy_helper.from_array(np.concatenate(blocks)[None].astype(np.float32), name))
            return
        j, k = (0, 3) if kind == "lmf" else (5, 2)
        B = rng.standard_normal((m - j, k)).astype(np.float32)
        C = rng.standard_normal((k, n)).astype(np.float32)
        inits.extend([numpy_helper.from_array(B, f"{name}.B"), numpy_helper.from_array(C, f"{name}.C")])
        nodes.append(helper.make_node("MatMul", [f"{name}.B", f"{name}.C"], [f"{name}.BC"]))
        parts = [f"{name}.BC"]
        if j:
            inits.append(numpy_helper.from_array(rng.standard_normal((j, n)).astype(np.float32), f"{name}.A"))
            parts.insert(0, f"{name}.A")
        nodes.append(helper.make_node("Concat", parts, [f"{name}.2d"], axis=0))
        inits.append(numpy_helper.from_array(np.array([0], np.int64), f"{name}.axes"))
        nodes.append(helper.make_node("Unsqueeze", [f"{name}.2d", f"{name}.axes"], [name]))

    matrix("W", w_kind, 4 * H, I)
    matrix("R", r_kind, 4 * H, H)
    nodes.append(helper.make_node("LSTM", ["X", "W", "R"], ["Y"], hidden_size=H, name="lstm"))
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", 1, I])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), path)


@pytest.mark.parametrize(
    "w_kind,r_kind,w_struct,r_struct",
    [
        ("hlf", "lmf", "HLF j=5 k=2", "LMF rank 3"),
        ("dense", "hlf", "dense", "HLF j=5 k=2"),
        ("folded", "dense", "folded-dense", "dense"),
    ],
)
def test_inspect_structures(tmp_path, w_kind, r_kind, w_struct, r_struct):
    path = tmp_path / "m.onnx"
    _structured_model(path, w_kind, r_kind)
    proc = _hlfgen("inspect", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    w, r = info["layers"][0]["matrices"]
    assert w["structure"].startswith(w_struct) and r["structure"].startswith(r_struct)
    expected = {
        "dense": lambda m, n: m * n,
        "folded": lambda m, n: m * n,
        "lmf": lambda m, n: 3 * (m + n),
        "hlf": lambda m, n: 5 * n + 2 * (m - 5 + n),  # Eq. 4 denominators
    }
    assert w["params"] == expected[w_kind](4 * H, I)
    assert r["params"] == expected[r_kind](4 * H, H)
    assert r["compression"] == pytest.approx(4 * H * H / r["params"])
    if r_kind == "hlf":
        assert r["max_rank"] == 7
    text = _hlfgen("inspect", str(path)).stdout
    assert w_struct in text and "total" in text


def test_example_build_cmake_check(tmp_path):
    """The README's main path: example -> build -> cmake -> check."""
    model = tmp_path / "ex.onnx"
    assert (
        _hlfgen("example", "-o", str(model), "--kind", "gru", "--input-size", "10", "--hidden-size", "24").returncode
        == 0
    )
    out = tmp_path / "out"
    proc = _hlfgen("build", str(model), "-o", str(out), "--max-seq-len", "20")
    assert proc.returncode == 0, proc.stderr
    subprocess.run(
        ["cmake", "-S", str(out), "-B", str(out / "build"), "-DHLF_WERROR=ON"], check=True, capture_output=True
    )
    subprocess.run(["cmake", "--build", str(out / "build")], check=True, capture_output=True)
    assert (out / "build" / "ex_run").exists() and (out / "build" / "libex.a").exists()
    check = _hlfgen("check", str(model), "--seq-len", "7", "--seed", "3")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "PASS" in check.stdout and "onnxruntime" in check.stdout


def test_run_command(tmp_path):
    import onnxruntime as ort

    model = tmp_path / "ex.onnx"
    _hlfgen("example", "-o", str(model), "--input-size", "6", "--hidden-size", "9")
    x = np.random.default_rng(0).standard_normal((5, 1, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    proc = _hlfgen(
        "run", str(model), "--input", f"X={tmp_path / 'x.npy'}", "--out-dir", str(tmp_path / "res"), "--repeat", "3"
    )
    assert proc.returncode == 0, proc.stderr
    assert "mean_us=" in proc.stdout
    expected = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"X": x})
    np.testing.assert_allclose(np.load(tmp_path / "res" / "Y.npy"), expected[0], atol=1e-4, rtol=1e-3)


def test_check_detects_mismatch(tmp_path, monkeypatch):
    """check must fail when the compiled code is wrong: corrupt one weight in the generated file."""
    from hlfgen import build as hbuild
    from hlfgen import check as hcheck

    model = tmp_path / "ex.onnx"
    _hlfgen("example", "-o", str(model), "--input-size", "6", "--hidden-size", "9")
    real_generate = hbuild.generate

    def corrupting_generate(*a, **kw):
        gen = real_generate(*a, **kw)
        w = gen.out_dir / f"{gen.name}_weights.h"
        text = w.read_text()
        start = text.index("= {") + 3
        end = text.index(",", start)
        w.write_text(text[:start] + " 3.0f" + text[end:])
        return gen

    monkeypatch.setattr(hcheck, "generate", corrupting_generate)
    report = hcheck.check(model, seq_len=5)
    assert not report.ok
    assert any(not r.ok for r in report.rows)


def test_bench_quantize_option():
    """`bench --quantize` takes a comma-separated list of modes (default none) and refuses others."""
    from hlfgen.cli import _parser

    p = _parser()
    assert p.parse_args(["bench"]).quantize == ["none"]
    assert p.parse_args(["bench", "--quantize", "none,fp16,int8"]).quantize == ["none", "fp16", "int8"]
    assert p.parse_args(["bench", "--quantize", "int8"]).quantize == ["int8"]
    proc = _hlfgen("bench", "--quantize", "fp16,int4")
    assert proc.returncode == 2 and "int4" in proc.stderr
