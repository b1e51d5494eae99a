"""Models exported by PyTorch's TorchScript exporter (dynamo=False).

The nn.LSTM / nn.GRU weights are parametrized as ``cat([A, B @ C])``, so the
exporter keeps the HLF factors as initializers, writes ``MatMul(B, C)`` and
reorders the gates with Slice ops (tests/data/make_torch_hlf.py).

* the committed models in tests/data/ run without torch: structure check,
  then parity with onnxruntime AND with PyTorch's own outputs (saved .npz);
* with torch installed the same models are exported afresh into tmp_path,
  checked the same way, and also run at another sequence length against
  PyTorch.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import onnx
import pytest

from conftest import DATA_DIR, _ort_run, assert_parity


def _script():
    spec = importlib.util.spec_from_file_location("make_torch_hlf", DATA_DIR / "make_torch_hlf.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SCRIPT = _script()
NAMES = SCRIPT.NAMES
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def assert_factored(model: onnx.ModelProto) -> None:
    """The factors survived the export: one MatMul(B, C) of two initializers
    per W and R of each direction of each layer, gates reordered by Slice,
    and no initializer holding a folded full weight matrix."""
    inits = {t.name: tuple(t.dims) for t in model.graph.initializer}
    rnns = [n for n in model.graph.node if n.op_type in GATES]
    assert rnns, "no recurrent node"
    factor_mm = [n for n in model.graph.node if n.op_type == "MatMul" and all(i in inits for i in n.input)]
    expected = 0
    full_shapes = set()
    for n in rnns:
        hidden = next(a.i for a in n.attribute if a.name == "hidden_size")
        dirs = 2 if any(a.name == "direction" and a.s == b"bidirectional" for a in n.attribute) else 1
        expected += 2 * dirs
        full_shapes.add(GATES[n.op_type] * hidden)
    assert len(factor_mm) == expected, f"{len(factor_mm)} MatMul of factor initializers, expected {expected}"
    for mm in factor_mm:
        b, c = inits[mm.input[0]], inits[mm.input[1]]
        assert len(b) == 2 and len(c) == 2 and b[1] == c[0], f"MatMul {b} x {c}"
    widths = {inits[mm.input[1]][1] for mm in factor_mm}  # n of each C (k x n)
    folded = [name for name, dims in inits.items() if len(dims) >= 2 and dims[-2] in full_shapes and dims[-1] in widths]
    assert not folded, f"folded full weight initializers: {folded}"
    assert any(n.op_type == "Slice" for n in model.graph.node), "no Slice gate reorder"


def _npz(path):
    d = np.load(path)
    feeds = {k[3:]: d[k] for k in d.files if k.startswith("in_")}
    torch_out = {k[4:]: d[k] for k in d.files if k.startswith("out_")}
    return feeds, torch_out


def _seq_len(model: onnx.ModelProto, feeds: dict) -> int:
    for vi in model.graph.input:
        for axis, d in enumerate(vi.type.tensor_type.shape.dim):
            if d.dim_param == "T":
                return int(feeds[vi.name].shape[axis])
    raise AssertionError("no symbolic T input dimension")


@pytest.mark.parametrize("name", NAMES)
def test_committed_model_is_factored(name):
    model = onnx.load(str(DATA_DIR / f"{name}.onnx"))
    assert_factored(model)
    # The committed .npz are PyTorch's outputs for this very file.
    feeds, torch_out = _npz(DATA_DIR / f"{name}.npz")
    ort_out = _ort_run(model, feeds)
    for k, v in torch_out.items():
        np.testing.assert_allclose(ort_out[k], v, atol=1e-5, rtol=1e-4, err_msg=k)


@pytest.mark.parametrize("name", NAMES)
def test_committed_model_parity(name, work, target):
    _, wdir = work
    path = DATA_DIR / f"{name}.onnx"
    feeds, torch_out = _npz(DATA_DIR / f"{name}.npz")
    model = onnx.load(str(path))
    assert_parity(path, feeds, also_expect=torch_out, seq_len=_seq_len(model, feeds), work_dir=str(wdir), target=target)


@pytest.mark.parametrize("name", NAMES)
def test_live_torch_export(name, work):
    torch = pytest.importorskip("torch")
    mdir, wdir = work
    path = SCRIPT.export(name, mdir)
    model = onnx.load(str(path))
    assert_factored(model)
    feeds, torch_out = _npz(mdir / f"{name}.npz")
    assert_parity(path, feeds, also_expect=torch_out, seq_len=_seq_len(model, feeds), work_dir=str(wdir))

    # Another sequence length (T is dynamic), against PyTorch directly.
    module, args, in_names, out_names, _ = SCRIPT.build(name)
    rng = np.random.default_rng(7)
    t_axis = next(ax for ax, d in enumerate(model.graph.input[0].type.tensor_type.shape.dim) if d.dim_param == "T")
    x = feeds[in_names[0]]
    shape = list(x.shape)
    shape[t_axis] = shape[t_axis] + 3
    new_feeds = dict(feeds)
    new_feeds[in_names[0]] = rng.standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        outs = module(*[torch.from_numpy(new_feeds[n]) for n in in_names])
    flat = []
    for o in outs:
        flat.extend(o if isinstance(o, tuple) else [o])
    expected = {n: o.numpy() for n, o in zip(out_names, flat)}
    wdir2 = wdir.parent / "work2"
    wdir2.mkdir()
    assert_parity(path, new_feeds, also_expect=expected, seq_len=shape[t_axis], work_dir=str(wdir2))
