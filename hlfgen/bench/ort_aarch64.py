"""onnxruntime for AArch64 under qemu: the "ORT-aarch64 insn/step" column of `hlfgen bench --ort-aarch64`.

Set-up (`setup`, once, cached): ``npm pack onnxruntime-node@ORT_VERSION`` (the npm package ships
onnxruntime's C-API shared library for linux/arm64; only that file is kept), and the two AArch64
C programs of this package cross-compiled with aarch64-linux-gnu-gcc: ``ort_runner.c`` (loads the
library, runs a model N times through the C API with one thread, writes the outputs) and
``cpuinfo_shim.c`` (an LD_PRELOAD library that shows the guest a one-core Cortex-A73's
/proc/cpuinfo and /sys/devices/system/cpu instead of the host's: onnxruntime's CPU detection crashes
on an x86 host's /proc/cpuinfo under qemu-user).

Counting (`count_insn`): the runner under ``qemu-aarch64 -cpu cortex-a72`` (the A73's ISA, ARMv8.0-A
with NEON and no SVE, so onnxruntime picks the kernels an A73 runs) with the instruction-count
plugin of bench/insn_count, at ``--repeat 2`` minus ``--repeat 1`` (one steady-state run; the
session set-up and the first run's one-time work cancel), divided by T.  Deterministic: onnxruntime's
telemetry thread (wall-clock driven) is kept off with ORT_DISABLE_TELEMETRY=1 and DisableTelemetryEvents.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ORT_VERSION = os.environ.get("HLF_ORT_AARCH64_VERSION", "1.30.0")
HERE = Path(__file__).resolve().parent
RUNNER_SRC = HERE / "ort_runner.c"
SHIM_SRC = HERE / "cpuinfo_shim.c"
CC = os.environ.get("HLF_AARCH64_CC", "aarch64-linux-gnu-gcc")
QEMU_CPU = "cortex-a72"  # same ISA as the Cortex-A73 (ARMv8.0-A + NEON); qemu has no A73 model
LIB_MEMBER = "package/bin/napi-v6/linux/arm64/libonnxruntime.so.1"

# A one-core Cortex-A73 (implementer 0x41, part 0xd09) as an arm64 kernel shows it, with the
# features of qemu's cortex-a72 model.
CPUINFO = (
    "processor\t: 0\n"
    "BogoMIPS\t: 48.00\n"
    "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid\n"
    "CPU implementer\t: 0x41\n"
    "CPU architecture: 8\n"
    "CPU variant\t: 0x0\n"
    "CPU part\t: 0xd09\n"
    "CPU revision\t: 2\n"
    "\n"
)
SYS_CPU = {"possible": "0\n", "present": "0\n", "online": "0\n", "kernel_max": "0\n"}


class OrtAarch64Error(RuntimeError):
    """The package could not be fetched, a program not built, or the runner failed."""


def cache_dir(version: str = ORT_VERSION) -> Path:
    """$HLF_ORT_AARCH64_CACHE/VERSION, else ~/.cache/hlfgen/ort-aarch64/VERSION (XDG_CACHE_HOME honoured)."""
    env = os.environ.get("HLF_ORT_AARCH64_CACHE")
    if env:
        base = Path(env)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = Path(xdg) / "hlfgen" / "ort-aarch64"
    return base / version


def lib_path(version: str = ORT_VERSION) -> Path:
    return cache_dir(version) / "libonnxruntime.so.1"


def is_set_up(version: str = ORT_VERSION) -> bool:
    """True when the library was fetched before (no download needed)."""
    return lib_path(version).exists()


def tools_missing() -> list[str]:
    return [t for t in ("qemu-aarch64", CC) if not shutil.which(t)]


def _fetch_lib(version: str) -> Path:
    lib = lib_path(version)
    if lib.exists():
        return lib
    if not shutil.which("npm"):
        raise OrtAarch64Error("npm not found: cannot fetch onnxruntime-node")
    lib.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ort-npm.", dir=lib.parent) as tmp:
        proc = subprocess.run(
            ["npm", "pack", f"onnxruntime-node@{version}", "--pack-destination", tmp],
            capture_output=True,
            text=True,
            timeout=900,
        )
        tgz = sorted(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tgz:
            raise OrtAarch64Error(f"npm pack onnxruntime-node@{version} failed:\n{proc.stderr[-2000:]}")
        with tarfile.open(tgz[0]) as tf:
            f = tf.extractfile(LIB_MEMBER)
            if f is None:
                raise OrtAarch64Error(f"{LIB_MEMBER} not in {tgz[0].name}")
            part = Path(tmp) / "lib.part"
            part.write_bytes(f.read())
        os.replace(part, lib)  # the package itself (113 MB for 1.30.0) is dropped with tmp
    return lib


def _build(src: Path, out_stem: str, cache: Path, flags: list[str]) -> Path:
    digest = hashlib.sha256(CC.encode() + " ".join(flags).encode() + src.read_bytes()).hexdigest()[:16]
    out = cache / f"{out_stem}-{digest}"
    if out.exists():
        return out
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=out_stem + ".")
    os.close(fd)
    cmd = [CC, "-O2", "-Wall", "-Wextra", "-Werror", *flags, "-o", tmp, str(src), "-ldl"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        os.unlink(tmp)
        raise OrtAarch64Error(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    os.chmod(tmp, 0o755)
    os.replace(tmp, out)
    return out


def setup(version: str = ORT_VERSION, download: bool = True) -> dict:
    """Fetches the library (unless cached or download=False) and builds runner and shim; returns the paths."""
    missing = tools_missing()
    if missing:
        raise OrtAarch64Error(f"{', '.join(missing)} not found")
    if not download and not is_set_up(version):
        raise OrtAarch64Error(f"onnxruntime-node {version} not in {cache_dir(version)} (and no download asked)")
    lib = _fetch_lib(version)
    cache = cache_dir(version)
    runner = _build(RUNNER_SRC, "ort_runner", cache, [])
    shim = _build(SHIM_SRC, "cpuinfo_shim", cache, ["-shared", "-fPIC"])
    root = cache / "cpuinfo-a73"
    (root / "proc").mkdir(parents=True, exist_ok=True)
    (root / "proc" / "cpuinfo").write_text(CPUINFO)
    sysd = root / "sys" / "devices" / "system" / "cpu"
    sysd.mkdir(parents=True, exist_ok=True)
    for name, text in SYS_CPU.items():
        (sysd / name).write_text(text)
    return {"version": version, "lib": str(lib), "runner": str(runner), "shim": str(shim), "root": str(root)}


def _qemu_args(paths: dict) -> list[str]:
    env = {
        "LD_PRELOAD": paths["shim"],
        "HLF_CPUINFO_ROOT": paths["root"],
        # onnxruntime's Linux telemetry runs a background thread whose work depends on the wall clock
        # (and would be counted, and would try to upload); the C API's DisableTelemetryEvents keeps it.
        "ORT_DISABLE_TELEMETRY": "1",
    }
    return ["-cpu", QEMU_CPU] + [a for k, v in env.items() for a in ("-E", f"{k}={v}")]


def _argv(paths: dict, model: Path, inputs: dict[str, Path], shapes: dict[str, tuple], repeat: int, out_dir=None):
    argv = [paths["runner"], paths["lib"], str(model), "--repeat", str(repeat)]
    if out_dir is not None:
        argv += ["--out-dir", str(out_dir)]
    for name, p in inputs.items():
        argv += ["--input", name, ",".join(str(d) for d in shapes[name]), str(p)]
    return argv


def _write_inputs(feeds: dict[str, np.ndarray], work: Path) -> tuple[dict, dict]:
    paths, shapes = {}, {}
    for name, a in feeds.items():
        a = np.ascontiguousarray(a, dtype=np.float32)
        p = work / f"ort_in_{name}.bin"
        a.tofile(p)
        paths[name], shapes[name] = p, a.shape
    return paths, shapes


def run_outputs(paths: dict, model: Path, feeds: dict[str, np.ndarray], work: Path, timeout: float = 600) -> dict:
    """Runs the model once under qemu (no plugin); returns {output name: array}."""
    work = Path(work)
    out = work / "ort_out"
    out.mkdir(parents=True, exist_ok=True)
    ins, shapes = _write_inputs(feeds, work)
    cmd = ["qemu-aarch64", "-L", os.environ.get("HLF_AARCH64_SYSROOT", "/usr/aarch64-linux-gnu")]
    cmd += _qemu_args(paths) + _argv(paths, Path(model), ins, shapes, 1, out)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise OrtAarch64Error(f"ort_runner failed under qemu ({proc.returncode}):\n{proc.stderr[-2000:]}")
    res = {}
    for shp in out.glob("*.shape"):
        shape = tuple(int(d) for d in shp.read_text().split(",") if d.strip())
        res[shp.stem] = np.fromfile(shp.with_suffix(".bin"), dtype=np.float32).reshape(shape)
    return res


def _load_count(count_py: Path):
    spec = importlib.util.spec_from_file_location("hlf_insn_count", count_py)
    count = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(count)
    return count


def count_insn(paths: dict, model: Path, x: np.ndarray, steps: int, work: Path, count_py: Path) -> dict:
    """onnxruntime's AArch64 instructions per step on MODEL (input X = x, T = steps), cached in WORK."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    info_file = work / "ort_aarch64_insn.json"
    h = hashlib.sha256(Path(model).read_bytes())
    for p in (paths["lib"], paths["runner"], paths["shim"], count_py):
        h.update(Path(p).read_bytes())
    h.update(np.ascontiguousarray(x, dtype=np.float32).tobytes())
    h.update(" ".join(_qemu_args(paths)).encode())
    key = f"{h.hexdigest()[:16]}:{steps}"
    if info_file.exists():
        old = json.loads(info_file.read_text())
        if old.get("key") == key:
            return dict(old, cached=True)
    count = _load_count(count_py)
    ins, shapes = _write_inputs({"X": x}, work)
    t0 = time.perf_counter()
    totals = []
    for r in (1, 2):
        res = count.count_instructions(
            _argv(paths, Path(model), ins, shapes, r), hist=False, qemu_args=_qemu_args(paths), check=False
        )
        if res.get("returncode", 0) != 0:
            raise OrtAarch64Error(
                f"ort_runner failed under qemu ({res['returncode']}):\n{res['stderr'].decode(errors='replace')[-2000:]}"
            )
        totals.append(res["total"])
    info = {
        "key": key,
        "version": paths["version"],
        "insn_per_step": (totals[1] - totals[0]) / steps,
        "insn_setup": totals[0] - (totals[1] - totals[0]),
        "steps": steps,
        "count_s": time.perf_counter() - t0,
    }
    info_file.write_text(json.dumps(info))
    return dict(info, cached=False)
