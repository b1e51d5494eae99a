"""Export one network one way, in a fresh process: ``python export.py NET MODE OUT.onnx``.

MODE: opt = ``torch.onnx.export(dynamo=True)`` (its default optimizer on),
dyn = ``dynamo=True, optimize=False``, ts = ``dynamo=False`` (TorchScript).
B and the network's length symbol are dynamic (dynamic_shapes /
dynamic_axes).  A fresh process per export: a second dynamo export of the
same shapes in one process can bake the example's sequence length into the
graph.  ``python export.py --serve`` imports torch once and forks a child per
request (a line "NET MODE OUT" on stdin; it answers "0" or the child's exit
status on stdout; the child's output goes to OUT with suffix .log): each export
still runs in a process of its own, which has never exported anything, and
does not pay torch's import (seconds) again.  HLF networks export without constant folding (TorchScript) so that
``MatMul(B, C)`` stays in the file; the optimizer (opt) folds it, as it would
for a user.

Also writes OUT.npz: PyTorch's own outputs on spec.feeds at BUILD_BATCH and
each of RUN_LENS (``L{len}_{output}``), so the harness can tell an unfaithful
export (onnxruntime != PyTorch) from a compiler bug.  Everything is written
under temporary names and renamed at the end: concurrent exports of the same
case are safe.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import models  # noqa: E402
from spec import BUILD_BATCH, EXAMPLE_BATCH, EXAMPLE_LEN, NETS, RUN_LENS, feeds  # noqa: E402


def _args(net, batch, length, seed):
    return tuple(torch.from_numpy(v) for v in feeds(net, batch, length, seed).values())


def export(name: str, mode: str, out: Path) -> None:
    net = NETS[name]
    module = models.make(name)
    args = _args(net, EXAMPLE_BATCH, EXAMPLE_LEN, seed=99)
    in_names = [i.name for i in net.inputs]
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.onnx")
    kw = dict(input_names=in_names, output_names=list(net.outputs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if mode == "ts":
            axes = {k: v for k, v in net.dynamic_axes().items() if v}
            torch.onnx.export(
                module, args, str(tmp), dynamo=False, dynamic_axes=axes, do_constant_folding=not net.hlf, **kw
            )
        else:
            dims = {}
            shapes = tuple(
                {a: dims.setdefault(d, torch.export.Dim(d, min=1, max=64)) for a, d in axes.items()} or None
                for axes in net.dynamic_axes().values()
            )
            # One dynamo export serves both modes: torch.onnx.export(optimize=True) is this export
            # followed by ONNXProgram.optimize() (torch/onnx/_internal/exporter/_core.py), so the
            # optimize=False file is saved first and the optimized one from the same program.
            prog = torch.onnx.export(
                module, args, dynamo=True, optimize=False, dynamic_shapes=shapes, verbose=False, **kw
            )
            sibling = out.with_name(out.name.replace(f"_{mode}.onnx", f"_{'dyn' if mode == 'opt' else 'opt'}.onnx"))
            dyn_path, opt_path = (sibling, out) if mode == "opt" else (out, sibling)
            dyn_tmp = tmp if mode == "dyn" else dyn_path.with_name(f".{dyn_path.stem}.{os.getpid()}.onnx")
            prog.save(str(dyn_tmp), external_data=False)
            try:
                prog.optimize()
                opt_tmp = tmp if mode == "opt" else opt_path.with_name(f".{opt_path.stem}.{os.getpid()}.onnx")
                prog.save(str(opt_tmp), external_data=False)
            except Exception:
                if mode == "opt":
                    raise
                opt_tmp = None  # the opt request reports the optimizer's error itself
            for side, side_tmp in ((dyn_path, dyn_tmp), (opt_path, opt_tmp)):
                if side == out or side_tmp is None:
                    continue
                if side.exists():  # made by an earlier request
                    side_tmp.unlink()
                else:
                    _finish(module, net, side, side_tmp)
    _finish(module, net, out, tmp)


def _finish(module, net, out: Path, tmp: Path) -> None:
    """OUT.npz (PyTorch's outputs), then the export renamed into place."""
    ref = {}
    with torch.no_grad():
        for length in RUN_LENS:
            outs = module(*_args(net, BUILD_BATCH, length, seed=length))
            outs = outs if isinstance(outs, tuple) else (outs,)
            for oname, o in zip(net.outputs, outs):
                ref[f"L{length}_{oname}"] = o.numpy()
    tmp_npz = out.with_name(f".{out.stem}.{os.getpid()}.npz")
    with open(tmp_npz, "wb") as f:
        np.savez(f, **ref)
    os.replace(tmp_npz, out.with_suffix(".npz"))
    os.replace(tmp, out)


def serve() -> None:
    """Fork an exporting child per request line; the parent only imports (no torch op runs before a fork)."""
    import onnxscript  # noqa: F401  (what the dynamo exporter imports lazily)
    import torch.onnx._internal.exporter._core  # noqa: F401

    for line in sys.stdin:
        net, mode, out = line.split()
        log = Path(out).with_suffix(".log")
        pid = os.fork()
        if pid == 0:  # the child: stdout/stderr to the log, never back into the protocol
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            code = 0
            try:
                _timed(net, mode, Path(out))
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(status, flush=True)


def _timed(net: str, mode: str, out: Path) -> None:
    t0 = time.perf_counter()
    export(net, mode, out)
    print(f"exported {net} ({mode}) in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        _timed(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
