"""Build: ONNX -> OUT/ (generate), OUT/ -> binaries (cmake), binaries -> outputs (run).

``generate`` writes into a temporary directory beside OUT/ and moves the
result in place only when everything succeeded, so a bad model leaves OUT/
as it was.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import TARGETS, WEIGHT_FORMATS, is_aarch64, panel_rows
from .emit import render
from . import validate
from .errors import HlfgenError
from .ir import Model
from .lower import Program, lower
from .cnames import usable_model_name
from .reader import read_model
from .remote import parse_runner


@dataclass
class Generated:
    out_dir: Path
    program: Program

    @property
    def name(self) -> str:
        return self.program.model.name

    @property
    def model(self) -> Model:
        return self.program.model


def generate(
    model_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    name: str | None = None,
    target: str = "host",
    batch: int | None = None,
    max_seq_len: int | None = None,
    sparse: str = "auto",
    weights: str = "auto",
    quantize: str = "auto",
    dims: dict[str, int] | None = None,
    max_dims: dict[str, int] | None = None,
) -> Generated:
    """`hlfgen build`: read, lower and render the model into out_dir.

    sparse: auto|off|csr|block, which mostly-zero (pruned) weight matrices use
    the sparse kernels of runtime/hlf_sparse.h (hlfgen/sparse.py).
    weights: auto|c|bin, C arrays or a linked binary blob (hlfgen/emit.py).
    quantize: auto|none|fp16|int8, how the weight matrices are stored (hlfgen/quant.py; auto: fp16
    for a model whose weights are float16, else none; auto and int8 keep DequantizeLinear weights as
    the file's int8, hlfgen/qdq.py).
    """
    if weights not in WEIGHT_FORMATS:
        raise HlfgenError(f"unknown weights format '{weights}' (choose from {', '.join(WEIGHT_FORMATS)})")
    if target not in TARGETS:
        raise HlfgenError(f"unknown target '{target}' (choose from {', '.join(TARGETS)})")
    if name is not None and not usable_model_name(name):
        raise HlfgenError(f"--name '{name}' is not a usable C identifier")
    out_dir = _usable_out_dir(out_dir)
    model = read_model(model_path, batch=batch, max_seq_len=max_seq_len, dims=dims, max_dims=max_dims, name=name)
    prog = lower(model, panel_rows(target), sparse=sparse, target=target, quantize=quantize)
    validate.check_program(prog)  # absurd sizes: refuse with the figure before writing anything
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.hlfgen-", dir=out_dir.parent))
    try:
        render(prog, tmp, target, weights)
        for stale in (f"{model.name}_weights.S", f"{model.name}_weights.bin"):  # of an earlier --weights bin
            if not (tmp / stale).exists() and (out_dir / stale).is_file():
                (out_dir / stale).unlink()
        _move_into(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Generated(out_dir, prog)


def _usable_out_dir(out_dir: str | os.PathLike) -> Path:
    """out_dir, absolute; an error now (before any work) if it cannot become a directory."""
    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise HlfgenError(f"{out_dir}: exists and is not a directory")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise HlfgenError(f"{out_dir}: {parent} is a file, not a directory")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise HlfgenError(f"{out_dir}: cannot create it ({parent} is not writable)")
            break
    return out


def _move_into(src: Path, dst: Path) -> None:
    """Move src's entries into dst, replacing same-named ones, keeping others (e.g. build dirs)."""
    if not dst.exists():
        src.rename(dst)
        return
    if not dst.is_dir():
        raise HlfgenError(f"{dst} exists and is not a directory")
    for entry in src.iterdir():
        target = dst / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        entry.rename(target)


def toolchain_file(out_dir: Path, target: str, compiler: str = "gcc") -> Path | None:
    if not is_aarch64(target):
        return None
    fname = "aarch64-linux-gnu.cmake" if compiler == "gcc" else "aarch64-linux-gnu-clang.cmake"
    return out_dir / "toolchains" / fname


def compile_out(
    out_dir: str | os.PathLike,
    build_dir: str | os.PathLike | None = None,
    *,
    target: str = "host",
    compiler: str = "gcc",
    werror: bool = True,
    static: bool | None = None,
    native: bool = False,
    sanitize: bool = False,
    cmake_args: tuple[str, ...] = (),
) -> Path:
    """cmake configure + build of OUT/; returns the runner's path."""
    out_dir = Path(out_dir)
    build_dir = Path(build_dir) if build_dir else out_dir / ("build" if target == "host" else f"build-{target}")
    args = ["cmake", "-S", str(out_dir), "-B", str(build_dir), f"-DHLF_WERROR={'ON' if werror else 'OFF'}"]
    if shutil.which("ninja"):
        args += ["-G", "Ninja"]
    if shutil.which("ccache"):  # the runtime sources are the same in every build: compile them once
        args.append("-DCMAKE_C_COMPILER_LAUNCHER=ccache")
    tc = toolchain_file(out_dir, target, compiler)
    if tc is not None:
        if not shutil.which("aarch64-linux-gnu-gcc"):
            raise HlfgenError("target needs the aarch64 cross compiler: apt-get install gcc-aarch64-linux-gnu")
        args.append(f"-DCMAKE_TOOLCHAIN_FILE={tc}")
        args.append(f"-DHLF_CPU={'cortex-a73' if target == 'cortex-a73' else 'generic'}")
        args.append(f"-DHLF_STATIC={'ON' if static or static is None else 'OFF'}")
    elif compiler == "clang":
        args.append("-DCMAKE_C_COMPILER=clang")
    if native:
        args.append("-DHLF_NATIVE=ON")
    if sanitize:
        args.append("-DHLF_SANITIZE=ON")
    # HLFGEN_CMAKE_ARGS: extra CMake arguments for every build hlfgen runs (build's cmake aside:
    # check, run, bench, hlfgen.compile), e.g. "-DHLF_DISPATCH=OFF" or "-DHLF_NATIVE=ON"
    args += shlex.split(os.environ.get("HLFGEN_CMAKE_ARGS", ""))
    args += list(cmake_args)
    # ccache keys on paths: make them relative to the common parent of OUT/ and
    # the build dir, so identical runtime sources hit across builds.
    env = dict(
        os.environ, CCACHE_BASEDIR=os.path.commonpath([out_dir.resolve(), build_dir.resolve()]), CCACHE_NOHASHDIR="true"
    )
    _run_tool(args, "cmake configure", env)
    _run_tool(["cmake", "--build", str(build_dir), "-j", str(os.cpu_count() or 2)], "cmake build", env)
    name = next(out_dir.glob("*_run.c")).name[: -len(".c")]
    return build_dir / name


def _run_tool(args: list[str], what: str, env: dict | None = None) -> None:
    try:
        proc = subprocess.run(args, capture_output=True, text=True, env=env)
    except FileNotFoundError:
        raise HlfgenError(f"{args[0]} not found: install it (apt-get install cmake gcc)") from None
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise RuntimeError(f"{what} failed ({shlex.join(args)}):\n" + "\n".join(tail))


def run_runner(
    runner: str | os.PathLike,
    inputs: dict[str, np.ndarray],
    *,
    target: str = "host",
    work_dir: str | os.PathLike | None = None,
    repeat: int | None = None,
    stream: bool = False,
    runner_spec: str | None = None,
) -> tuple[dict[str, np.ndarray], float | None]:
    """Run a compiled runner on numpy inputs; returns (outputs by file stem, mean microseconds or None).

    runner_spec: where it executes (remote.parse_runner): None = here, under qemu for aarch64.
    """
    own = work_dir is None
    work = Path(tempfile.mkdtemp(prefix="hlfgen-run-")) if own else Path(work_dir)
    try:
        work.mkdir(parents=True, exist_ok=True)
        files = {}
        for i, (name, arr) in enumerate(inputs.items()):
            files[name] = work / f"input{i}.npy"
            np.save(files[name], np.ascontiguousarray(arr))
        out = work / "out"
        out.mkdir(exist_ok=True)
        extra = (["--repeat", str(repeat)] if repeat else []) + (["--stream"] if stream else [])
        proc = parse_runner(runner_spec, target).execute(Path(runner), files, out, extra)
        if proc.returncode != 0:
            raise RuntimeError(f"runner failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
        mean_us = None
        for line in proc.stdout.splitlines():
            if line.startswith("mean_us="):
                mean_us = float(line.split()[0].split("=")[1])
        outputs = {}
        for p in sorted(out.glob("*.npy")):
            outputs[p.stem] = np.load(p)
        return outputs, mean_us
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
