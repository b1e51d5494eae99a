"""hlfgen.compile: run the generated C from Python (host builds only).

    m = hlfgen.compile("model.onnx", max_seq_len=64)
    out = m.run(X=x)                 # {output name: numpy array}
    m.reset(); y0 = m.step(X=x[:1])  # streaming, one time step per call

compile() generates the project (hlfgen build), builds it with CMake (position
independent, without the runner or the static API), links the library into a
shared object and loads it with ctypes.  Each Compiled holds its own instance
(NAME_ctx) in memory it owns, so several objects of one model are independent.
The code runs in this process, so only the host target is possible; for
AArch64 builds use `hlfgen check/run --target`, which go through the runner.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import dims as D
from .build import Generated, compile_out, generate
from .emit import ctx_bytes
from .errors import HlfgenError

_ALIGN = 64  # NAME_CTX_ALIGN


def compile(
    model_path: str | os.PathLike,
    target: str = "host",
    *,
    work_dir: str | os.PathLike | None = None,
    compiler: str = "gcc",
    **build_options,
) -> "Compiled":
    """Generate, build and load model_path; build_options are those of `hlfgen build`
    (name, batch, max_seq_len, sparse, weights, dims, max_dims, ...).  work_dir keeps
    the project and the build (default: a temporary directory, removed with the object)."""
    if target != "host":
        raise HlfgenError(
            f"hlfgen.compile runs the model in this process: target 'host' only, not '{target}' "
            "(use hlfgen check/run --target for cross builds)"
        )
    own = work_dir is None
    work = Path(tempfile.mkdtemp(prefix="hlfgen-compile-")) if work_dir is None else Path(work_dir)
    try:
        gen = generate(model_path, work / "out", target="host", **build_options)
        return load(gen, work / "build", compiler=compiler, tmp=work if own else None)
    except BaseException:
        if own:
            shutil.rmtree(work, ignore_errors=True)
        raise


def load(
    gen: Generated,
    build_dir: str | os.PathLike,
    *,
    compiler: str = "gcc",
    werror: bool = False,
    tmp: Path | None = None,
) -> "Compiled":
    """Build a generated host project in build_dir as a shared object and load it
    (tmp: a directory removed with the returned object)."""
    build = Path(build_dir)
    compile_out(
        gen.out_dir,
        build,
        compiler=compiler,
        werror=werror,
        cmake_args=("-DCMAKE_POSITION_INDEPENDENT_CODE=ON", "-DHLF_NO_STATIC_API=ON"),
    )
    so = build / f"lib{gen.name}.so"
    cc = "clang" if compiler == "clang" else "cc"
    proc = subprocess.run(
        [
            cc,
            "-shared",
            "-o",
            str(so),
            "-Wl,--whole-archive",
            str(build / f"lib{gen.name}.a"),
            "-Wl,--no-whole-archive",
            "-lm",
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"linking {so.name} failed: {proc.stderr.strip()}")
    return Compiled(gen, so, tmp)


class Compiled:
    """One loaded model with one instance; see compile()."""

    def __init__(self, gen: Generated, so: Path, tmp: Path | None):
        self.name = gen.name
        self.model = gen.model
        self._tmp = tmp
        self._lib = ctypes.CDLL(str(so))
        vp = ctypes.c_void_p
        arr = ctypes.POINTER(ctypes.c_void_p)
        self._init = self._fn("init", vp, [vp, ctypes.c_size_t])
        self._run = self._fn("ctx_run", ctypes.c_int, [vp, ctypes.POINTER(ctypes.c_int), arr, arr])
        self._step = self._fn("ctx_step", ctypes.c_int, [vp, ctypes.POINTER(ctypes.c_int), arr, arr])
        self._reset = self._fn("ctx_reset", ctypes.c_int, [vp, arr])
        self._version = self._fn("version", ctypes.c_char_p, [])
        self.ctx_bytes = ctx_bytes(gen.program)
        self._mem = np.zeros(self.ctx_bytes + _ALIGN, np.uint8)
        off = -self._mem.ctypes.data % _ALIGN
        self._ctx = self._init(self._mem.ctypes.data + off, self.ctx_bytes)
        if not self._ctx:
            raise RuntimeError(f"{self.name}_init refused its memory")
        self.can_stream = gen.program.can_stream

    def _fn(self, suffix: str, restype, argtypes):
        f = getattr(self._lib, f"{self.name}_{suffix}")
        f.restype, f.argtypes = restype, argtypes
        return f

    @property
    def version(self) -> str:
        return self._version().decode()

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.model.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.model.outputs]

    # -- calls ------------------------------------------------------------------
    def run(self, **inputs) -> dict[str, np.ndarray]:
        """A whole sequence from the initial state (NAME_ctx_run); the state is then the final one."""
        return self._call(self._run, inputs, step=False)

    def step(self, **inputs) -> dict[str, np.ndarray]:
        """One time step (inputs with a sequence axis hold one step), from the current state."""
        if not self.can_stream:
            raise HlfgenError(f"{self.name}: a reverse or bidirectional layer needs the whole sequence (no step)")
        return self._call(self._step, inputs, step=True)

    def stream(self, **inputs) -> dict[str, np.ndarray]:
        """reset() from the inputs' initial states, then step() through the whole
        sequence; outputs with a sequence axis are concatenated, the others are
        the last step's."""
        seq = self.model.seq_symbol
        axis = {
            t.name: next((i for i, d in enumerate(t.shape) if D.as_symbol(d) == seq), None)
            for t in self.model.inputs + self.model.outputs
        }
        self.reset(**{k: v for k, v in inputs.items() if axis[k] is None})
        n = next(np.shape(v)[axis[k]] for k, v in inputs.items() if axis[k] is not None)
        steps = []
        for s in range(n):
            steps.append(
                self.step(
                    **{
                        k: (np.take(np.asarray(v), [s], axis=axis[k]) if axis[k] is not None else v)
                        for k, v in inputs.items()
                    }
                )
            )
        return {
            name: (
                np.concatenate([o[name] for o in steps], axis=axis[name]) if axis[name] is not None else steps[-1][name]
            )
            for name in self.output_names
        }

    def reset(self, **initial_states) -> None:
        """State := the given initial_h/initial_c inputs (zeros for the others)."""
        ptrs, keep = self._inputs(initial_states, {}, require=False)
        if self._reset(self._ctx, ptrs) != 0:
            raise HlfgenError(f"{self.name}_ctx_reset failed")
        del keep

    def _call(self, fn, inputs: dict, step: bool) -> dict[str, np.ndarray]:
        env = self._bind(inputs, step)
        ptrs, keep = self._inputs(inputs, env, require=True)
        outs = {t.name: np.zeros([D.evaluate(d, env) for d in t.shape], np.dtype(t.dtype)) for t in self.model.outputs}
        optrs = (ctypes.c_void_p * max(1, len(outs)))(*[a.ctypes.data for a in outs.values()])
        dims = (ctypes.c_int * max(1, len(self.model.dims)))(*[env[d.name] for d in self.model.dims])
        rc = fn(self._ctx, dims, ptrs, optrs)
        del keep
        if rc != 0:
            raise HlfgenError(
                f"{self.name}_ctx_{'step' if step else 'run'} returned {rc} (a dimension outside its "
                "range, or a sequence_lens value / token id out of range)"
            )
        return outs

    def _bind(self, inputs: dict, step: bool) -> dict[str, int]:
        """The run-time dimensions' values, read from the inputs' shapes."""
        env: dict[str, int] = {}
        if step and self.model.seq_symbol:
            env[self.model.seq_symbol] = 1
        for t in self.model.inputs:
            if t.name in inputs:
                shape = np.shape(inputs[t.name])
                for axis, d in enumerate(t.shape):
                    lin = D.linear_in(d)
                    if lin is not None and axis < len(shape) and lin[1] not in env:
                        env[lin[1]] = int(shape[axis]) // lin[0]
        missing = [d.name for d in self.model.dims if d.name not in env]
        if missing:
            raise HlfgenError(f"{self.name}: no input gives the run-time dimension(s) {', '.join(missing)}")
        for d in self.model.dims:
            if not 1 <= env[d.name] <= d.max:
                raise HlfgenError(f"{self.name}: {d.name} = {env[d.name]} is outside 1..{d.max}")
        return env

    def _inputs(self, inputs: dict, env: dict, require: bool):
        unknown = sorted(set(inputs) - set(self.input_names))
        if unknown:
            raise HlfgenError(f"{self.name}: unknown input(s) {', '.join(unknown)} (has {', '.join(self.input_names)})")
        keep: list[np.ndarray] = []
        ptrs: list[int | None] = []
        for t in self.model.inputs:
            if t.name not in inputs:
                if require and not t.optional:
                    raise HlfgenError(f"{self.name}: input '{t.name}' is missing")
                ptrs.append(None)
                continue
            a = np.ascontiguousarray(inputs[t.name], dtype=np.dtype(t.dtype))
            if env:
                want = tuple(D.evaluate(d, env) for d in t.shape)
                if a.shape != want:
                    raise HlfgenError(f"{self.name}: input '{t.name}' has shape {a.shape}, expected {want}")
            keep.append(a)
            ptrs.append(a.ctypes.data)
        return (ctypes.c_void_p * max(1, len(ptrs)))(*ptrs), keep

    def __del__(self):
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
