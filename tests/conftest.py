"""Shared test helpers: an independent oracle and ``assert_parity``.

The tests never trust the comparison inside ``hlfgen.check.check()``: every
parity test runs its own oracle here and compares the compiled runner's
outputs with it.

Oracle: onnxruntime (CPUExecutionProvider).  onnxruntime refuses
``layout=1`` (batch-major) recurrent nodes, so for such models the oracle is
onnxruntime on an exact layout-0 rewrite of the model (Transpose nodes around
each recurrent node), cross-checked against ``onnx.reference`` whenever the
reference implements every feature the node uses (it ignores sequence_lens,
activations, clip and input_forget).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"
REPO_ROOT = TESTS_DIR.parent

# pytest runs with --import-mode=importlib: the tests directory is not on
# sys.path, so make tests/models.py importable as ``models``.
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))
# An installed hlfgen wins; otherwise use the source tree.
if importlib.util.find_spec("hlfgen") is None:
    sys.path.insert(0, str(REPO_ROOT))

ATOL = 1e-4
RTOL = 1e-3
RECURRENT_OPS = ("LSTM", "GRU", "RNN")


# --------------------------------------------------------------------------
# Oracle
# --------------------------------------------------------------------------


def _attr(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _has_layout1(model: onnx.ModelProto) -> bool:
    return any(n.op_type in RECURRENT_OPS and _attr(n, "layout", 0) == 1 for n in model.graph.node)


def layout0_rewrite(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same computation with every recurrent node in layout 0: X and the
    initial states are transposed in, Y / Y_h / Y_c transposed back out."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    new_nodes = []
    for idx, node in enumerate(m.graph.node):
        if node.op_type not in RECURRENT_OPS or _attr(node, "layout", 0) != 1:
            new_nodes.append(node)
            continue
        pre, post = [], []
        ins = list(node.input)
        # X [B,T,I] -> [T,B,I]; initial_h (5) / initial_c (6) [B,D,H] -> [D,B,H]
        for pos in (0, 5, 6):
            if pos < len(ins) and ins[pos]:
                t = f"__l0_{idx}_in{pos}"
                pre.append(helper.make_node("Transpose", [ins[pos]], [t], perm=[1, 0, 2]))
                ins[pos] = t
        outs = list(node.output)
        for pos, perm in ((0, [2, 0, 1, 3]), (1, [1, 0, 2]), (2, [1, 0, 2])):
            if pos < len(outs) and outs[pos]:
                t = f"__l0_{idx}_out{pos}"
                post.append(helper.make_node("Transpose", [t], [outs[pos]], perm=perm))
                outs[pos] = t
        attrs = [a for a in node.attribute if a.name != "layout"]
        rn = helper.make_node(node.op_type, ins, outs, name=node.name)
        rn.attribute.extend(attrs)
        new_nodes += pre + [rn] + post
    del m.graph.node[:]
    m.graph.node.extend(new_nodes)
    del m.graph.value_info[:]
    return m


def _reference_supports(model: onnx.ModelProto) -> bool:
    """Whether onnx.reference implements every feature of the model's
    recurrent nodes (it silently ignores these)."""
    for n in model.graph.node:
        if n.op_type not in RECURRENT_OPS:
            continue
        if len(n.input) > 4 and n.input[4]:
            return False
        for a in ("activations", "activation_alpha", "activation_beta", "clip"):
            if _attr(n, a) is not None:
                return False
        if _attr(n, "input_forget", 0):
            return False
    return True


def _ort_run(model: onnx.ModelProto, feeds: dict) -> dict:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def reference_run(model: onnx.ModelProto, feeds: dict) -> dict:
    from onnx.reference import ReferenceEvaluator

    ref = ReferenceEvaluator(model)
    names = [o.name for o in model.graph.output]
    return dict(zip(names, ref.run(names, feeds)))


def run_oracle(model_path, feeds: dict) -> tuple[str, dict]:
    """Run the independent oracle; returns (oracle name, outputs)."""
    model = onnx.load(str(model_path))
    feeds = {k: np.asarray(v) for k, v in feeds.items()}
    if _has_layout1(model):
        out = _ort_run(layout0_rewrite(model), feeds)
        if _reference_supports(model):
            ref = reference_run(model, feeds)
            for name, exp in out.items():
                _compare(name, ref[name], exp, "onnx.reference vs onnxruntime(layout-0 rewrite)")
        return "onnxruntime(layout-0 rewrite)", out
    return "onnxruntime", _ort_run(model, feeds)


# --------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------


def _compare(name: str, got, exp, what: str) -> None:
    got = np.asarray(got)
    exp = np.asarray(exp)
    assert got.shape == exp.shape, f"{what}: output {name!r} shape {got.shape} != expected {exp.shape}"
    assert np.all(np.isfinite(got)), f"{what}: output {name!r} has non-finite values"
    if got.size == 0:
        return
    ok = np.isclose(got, exp, atol=ATOL, rtol=RTOL)
    if not ok.all():
        err = np.abs(got.astype(np.float64) - exp.astype(np.float64))
        worst = np.unravel_index(np.argmax(err), err.shape)
        rel = err / np.maximum(np.abs(exp), 1e-12)
        raise AssertionError(
            f"{what}: output {name!r} shape {got.shape}: {int((~ok).sum())}/{ok.size} elements off, "
            f"max_abs={err.max():.3g} at {tuple(int(i) for i in worst)} "
            f"(got {got[worst]:.6g}, expected {exp[worst]:.6g}), max_rel={rel.max():.3g}"
        )


def graph_output_names(model_path) -> list[str]:
    return [o.name for o in onnx.load(str(model_path)).graph.output]


def assert_parity(model_path, inputs: dict | None = None, *, also_expect: dict | None = None, **kw):
    """Compile and run ``model_path`` via hlfgen.check.check(..., inputs=...),
    then compare every graph output with an independently run oracle
    (``atol=1e-4, rtol=1e-3``, equal shapes).  ``also_expect`` adds a second
    set of expected outputs (name -> array), e.g. ONNX's conformance data.
    Returns the CheckReport."""
    from hlfgen.check import check

    report = check(str(model_path), inputs=inputs, **kw)
    model = onnx.load(str(model_path))
    init_names = {i.name for i in model.graph.initializer}
    graph_inputs = [i.name for i in model.graph.input if i.name not in init_names]

    used = {k: np.asarray(v) for k, v in (report.inputs or {}).items()}
    if inputs is not None:
        for name, arr in inputs.items():
            assert name in used, f"check() did not report input {name!r}"
            np.testing.assert_array_equal(used[name], np.asarray(arr), err_msg=f"check() changed input {name!r}")
    for name in graph_inputs:
        assert name in used, f"check() reported no value for graph input {name!r} (has {sorted(used)})"
    feeds = {name: used[name] for name in graph_inputs}

    oracle_name, expected = run_oracle(model_path, feeds)
    for name in graph_output_names(model_path):
        assert name in report.outputs, f"runner produced no output {name!r} (has {sorted(report.outputs)})"
        _compare(name, report.outputs[name], expected[name], f"runner vs {oracle_name}")
        if also_expect is not None and name in also_expect:
            _compare(name, report.outputs[name], also_expect[name], "runner vs supplied expected data")
    # Our own comparison passed: check()'s verdict must agree.
    assert report.ok, f"outputs match the oracle but check() reported failure: {report.rows}"
    return report


# Every parity case runs for the host and, where the cross toolchain and qemu
# are installed (CI installs them), for the Cortex-A73 NEON build under qemu.
TARGETS = ["host"] + (["cortex-a73"] if shutil.which("aarch64-linux-gnu-gcc") and shutil.which("qemu-aarch64") else [])


@pytest.fixture(params=TARGETS)
def target(request):
    """The build target of a parity test."""
    return request.param


@pytest.fixture
def work(tmp_path):
    """(model directory, work_dir) under the test's tmp_path."""
    mdir = tmp_path / "model"
    wdir = tmp_path / "work"
    mdir.mkdir()
    wdir.mkdir()
    return mdir, wdir


# --------------------------------------------------------------------------
# Fuzzer seed (tests/fuzz): a new one per run unless HLF_FUZZ_SEED is set; set
# here, before xdist starts its workers, so that every worker uses the same one.
# --------------------------------------------------------------------------


def pytest_configure(config):
    if not hasattr(config, "workerinput") and not os.environ.get("HLF_FUZZ_SEED"):
        os.environ["HLF_FUZZ_SEED"] = str(int.from_bytes(os.urandom(4), "little"))


def pytest_report_header(config):
    return f"fuzz seed: HLF_FUZZ_SEED={os.environ.get('HLF_FUZZ_SEED')}"


# The kernel set of x86 host builds.  The default build compiles every portable kernel three times
# (SSE2, AVX2, AVX-512: run-time dispatch, runtime/hlf_dispatch.h); the parity tests do not depend on
# which variant runs, so outside the modules that test the dispatch itself (or time or inspect the
# default build) they build one variant, the baseline's: a third of the kernel compiles, with a ccache
# that starts cold on every CI machine.  Module-scoped fixtures are made before this runs, so they
# always build the default; HLFGEN_CMAKE_ARGS set by the caller wins.
_DEFAULT_BUILD_MODULES = {
    "test_dispatch",
    "test_sparse",
    "test_bench",
    "test_neon_kernels",
    "test_packing",
    "test_embed",
    "test_cli",
    "test_build",
}


@pytest.fixture(autouse=True)
def _single_kernel_set(request, monkeypatch):
    if (
        request.module.__name__.rsplit(".", 1)[-1] not in _DEFAULT_BUILD_MODULES
        and "HLFGEN_CMAKE_ARGS" not in os.environ
    ):
        monkeypatch.setenv("HLFGEN_CMAKE_ARGS", "-DHLF_DISPATCH=OFF")
