"""ONNX's own LSTM/GRU/RNN conformance cases, compiled by hlfgen.

The onnx wheel ships the generators (onnx/backend/test/case/node/{lstm,gru,
rnn}.py: ``export_*`` static methods that call ``expect(node, inputs,
outputs, name)``) but not their data.  We capture each call by replacing the
``expect`` each generator module imported, build a model where the weights
(W, R, B, P) are initializers (hlfgen needs constant weights) and X,
sequence_lens, initial_h, initial_c stay graph inputs, and compare the
compiled runner's outputs with BOTH the generator's expected outputs and an
independent oracle (onnxruntime, or its layout-0 rewrite for layout=1).
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest

import models as M
from conftest import assert_parity

GENERATORS = {
    "lstm": ("onnx.backend.test.case.node.lstm", "LSTM"),
    "gru": ("onnx.backend.test.case.node.gru", "GRU"),
    "rnn": ("onnx.backend.test.case.node.rnn", "RNN"),
}
WEIGHT_INPUTS = {"W", "R", "B", "P"}  # by position: 1, 2, 3 (and 7 for LSTM)
WEIGHT_POSITIONS = {1: "W", 2: "R", 3: "B", 7: "P"}

# Cases hlfgen cannot support, with the reason (none known so far).
XFAIL: dict[str, str] = {}


def _export_methods(cls):
    return sorted(name for name, _ in inspect.getmembers(cls) if name.startswith("export"))


def collect():
    """Run every export_* generator with a recording ``expect``; returns a list
    of (case name, export method, node, inputs, outputs)."""
    cases = []
    for key, (modname, clsname) in GENERATORS.items():
        mod = importlib.import_module(modname)
        cls = getattr(mod, clsname)
        original = mod.expect
        recorded = []

        def fake_expect(node, inputs, outputs, name, **kwargs):
            recorded.append((node, list(inputs), list(outputs), name))

        mod.expect = fake_expect
        try:
            for meth in _export_methods(cls):
                before = len(recorded)
                # Some generators draw unseeded np.random weights: seed them.
                state = np.random.get_state()
                np.random.seed(0)
                try:
                    getattr(cls, meth)()
                finally:
                    np.random.set_state(state)
                for node, ins, outs, name in recorded[before:]:
                    cases.append((name, f"{clsname}.{meth}", node, ins, outs))
        finally:
            mod.expect = original
    return cases


CASES = collect()
IDS = [c[0] for c in CASES]


def test_every_generator_case_collected():
    """Every export_* method of the three generators produced a case."""
    methods = set()
    for modname, clsname in GENERATORS.values():
        cls = getattr(importlib.import_module(modname), clsname)
        methods |= {f"{clsname}.{m}" for m in _export_methods(cls)}
    covered = {c[1] for c in CASES}
    assert methods, "no export_* methods found"
    assert methods == covered, f"not covered: {sorted(methods - covered)}"
    assert len(set(IDS)) == len(IDS)


def _build(node, inputs, outputs):
    present_in = [n for n in node.input]
    weights, feeds = {}, {}
    arrays = iter(inputs)
    for pos, name in enumerate(present_in):
        if not name:
            continue
        arr = np.asarray(next(arrays))
        if pos in WEIGHT_POSITIONS:
            weights[name] = arr
        else:
            feeds[name] = arr
    outs = {name: np.asarray(arr) for name, arr in zip([o for o in node.output if o], outputs)}
    return M.node_model(node, feeds, weights, outs, opset=14), feeds, outs


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conformance(case, work, target):
    name, method, node, inputs, outputs = case
    if name in XFAIL:
        pytest.xfail(XFAIL[name])
    mdir, wdir = work
    model, feeds, expected = _build(node, inputs, outputs)
    path = M.save(model, mdir / f"{name}.onnx")
    x = feeds[node.input[0]]
    layout = next((a.i for a in node.attribute if a.name == "layout"), 0)
    seq_len = x.shape[1] if layout else x.shape[0]
    assert_parity(path, feeds, also_expect=expected, seq_len=int(seq_len), work_dir=str(wdir), target=target)
