"""Where a compiled runner executes: here, under qemu, on a board over ssh, or over adb.

--runner values:
  local                      run the binary directly (host builds)
  qemu                       qemu-aarch64 -L /usr/aarch64-linux-gnu (default for aarch64 targets)
  ssh://user@host[:port][/dir]  copy binary and inputs with scp, run over ssh, copy outputs back
                             (extra ssh/scp options, e.g. -i KEY, from $HLFGEN_SSH_OPTS)
  adb                        adb push / adb shell / adb pull (AOSP images); dir /data/local/tmp/hlfgen
  'CMD ...'                  any command prefix, e.g. 'sudo taskset -c 4'
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from .errors import HlfgenError

AARCH64_SYSROOT = "/usr/aarch64-linux-gnu"
DEFAULT_SSH_DIR = "/tmp/hlfgen"
DEFAULT_ADB_DIR = "/data/local/tmp/hlfgen"


@dataclass
class Runner:
    kind: str  # "local" | "ssh" | "adb"
    prefix: list[str] = field(default_factory=list)  # local: command prefix (qemu, taskset, ...)
    host: str = ""  # ssh: user@host
    port: str = ""
    remote_dir: str = ""

    def execute(
        self, exe: Path, inputs: dict[str, Path], out_dir: Path, extra: list[str]
    ) -> subprocess.CompletedProcess:
        """Run exe with --input NAME=FILE for each input; outputs land in out_dir (local)."""
        if self.kind == "local":
            args = self.prefix + [str(exe)]
            for name, p in inputs.items():
                args += ["--input", f"{name}={p}"]
            return subprocess.run(args + ["--out-dir", str(out_dir)] + extra, capture_output=True, text=True)
        return self._remote(exe, inputs, out_dir, extra)

    def _remote(self, exe, inputs, out_dir, extra):
        d = self.remote_dir
        files = [exe] + list(inputs.values())
        remote_args = [f"./{exe.name}"]
        for name, p in inputs.items():
            remote_args += ["--input", f"{name}={p.name}"]
        remote_args += ["--out-dir", "out"] + extra
        script = f"cd {shlex.quote(d)} && rm -rf out && mkdir -p out && {shlex.join(remote_args)}"
        if self.kind == "ssh":
            opts = shlex.split(os.environ.get("HLFGEN_SSH_OPTS", "")) + ["-o", "BatchMode=yes"]
            port = opts + (["-p", self.port] if self.port else [])
            scp_port = opts + (["-P", self.port] if self.port else [])
            _tool(["ssh", *port, self.host, f"mkdir -p {shlex.quote(d)}"])
            _tool(["scp", "-q", *scp_port, *map(str, files), f"{self.host}:{d}/"])
            proc = subprocess.run(["ssh", *port, self.host, script], capture_output=True, text=True)
            if proc.returncode == 0:
                _tool(["scp", "-q", *scp_port, "-r", f"{self.host}:{d}/out/.", str(out_dir)])
            return proc
        # adb
        _tool(["adb", "shell", f"mkdir -p {shlex.quote(d)}"])
        for f in files:
            _tool(["adb", "push", str(f), f"{d}/"])
        proc = subprocess.run(["adb", "shell", script], capture_output=True, text=True)
        if proc.returncode == 0:
            _tool(["adb", "pull", f"{d}/out/.", str(out_dir)])
        return proc


def _tool(args: list[str]) -> None:
    try:
        proc = subprocess.run(args, capture_output=True, text=True)
    except FileNotFoundError:
        raise HlfgenError(f"{args[0]} not found (needed by --runner)") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(args)} failed: {(proc.stderr or proc.stdout).strip()}")


def parse_runner(spec: str | None, target: str) -> Runner:
    """The Runner for a --runner value (None: qemu for aarch64 targets, local otherwise)."""
    aarch64 = target in ("cortex-a73", "aarch64")
    if spec is None:
        spec = "qemu" if aarch64 else "local"
    if spec == "local":
        return Runner("local")
    if spec == "qemu":
        qemu = shutil.which("qemu-aarch64")
        if not qemu:
            raise HlfgenError("running aarch64 code here needs qemu-user: apt-get install qemu-user")
        return Runner("local", [qemu, "-L", AARCH64_SYSROOT])
    if spec.startswith("ssh://"):
        u = urlparse(spec)
        if not u.hostname:
            raise HlfgenError(f"--runner '{spec}': expected ssh://user@host[:port][/dir]")
        host = f"{u.username}@{u.hostname}" if u.username else u.hostname
        return Runner("ssh", host=host, port=str(u.port or ""), remote_dir=u.path or DEFAULT_SSH_DIR)
    if spec == "adb" or spec.startswith("adb:"):
        return Runner("adb", remote_dir=spec[len("adb:") :] or DEFAULT_ADB_DIR)
    return Runner("local", shlex.split(spec))
