"""The ssh runner against a real sshd on loopback, and the command-prefix runner."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import numpy as np
import pytest

from hlfgen.build import compile_out, generate, run_runner
from hlfgen.check import oracle_outputs, random_inputs
from hlfgen.example import write_example
from hlfgen.remote import parse_runner

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "m.onnx"
    write_example(path, kind="gru", input_size=7, hidden_size=12, compression=2.5, seed=2)
    return path


@pytest.fixture
def sshd(tmp_path):
    """An sshd on 127.0.0.1 accepting a fresh key for the current user; stopped after the test."""
    if not (os.path.exists(SSHD) and shutil.which("ssh") and shutil.which("ssh-keygen")):
        pytest.skip("openssh-server / openssh-client not installed")
    d = tmp_path / "ssh"
    d.mkdir(mode=0o700)
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    auth = d / "authorized_keys"
    shutil.copy(d / "client_key.pub", auth)
    auth.chmod(0o600)
    port = _free_port()
    user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    config = d / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nAuthorizedKeysFile {auth}\n"
        f"PidFile {d / 'sshd.pid'}\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n"
        "StrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\n"
    )
    os.makedirs("/run/sshd", exist_ok=True)
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.skip("sshd did not start: " + proc.stderr.read().decode(errors="replace")[-300:])
    opts = f"-i {d / 'client_key'} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
    yield f"ssh://{user}@127.0.0.1:{port}{tmp_path / 'remote'}", opts
    proc.terminate()
    proc.wait(timeout=10)


def test_parse_runner():
    r = parse_runner("ssh://linaro@hikey:2222/data/hlf", "cortex-a73")
    assert (r.kind, r.host, r.port, r.remote_dir) == ("ssh", "linaro@hikey", "2222", "/data/hlf")
    assert parse_runner("adb", "cortex-a73").remote_dir == "/data/local/tmp/hlfgen"
    assert parse_runner("taskset -c 1", "host").prefix == ["taskset", "-c", "1"]
    assert parse_runner(None, "host").prefix == []


def test_ssh_runner_matches_onnxruntime(model, tmp_path, sshd, monkeypatch):
    url, opts = sshd
    monkeypatch.setenv("HLFGEN_SSH_OPTS", opts)
    gen = generate(model, tmp_path / "out", max_seq_len=6)
    exe = compile_out(gen.out_dir, tmp_path / "build")
    feeds = random_inputs(gen.model, 6, seed=3)
    outs, mean_us = run_runner(exe, feeds, runner_spec=url, repeat=2)
    assert mean_us is not None
    expected, _ = oracle_outputs(model, feeds)
    for name, exp in expected.items():
        np.testing.assert_allclose(outs[name], exp, atol=1e-4, rtol=1e-3)
    assert (tmp_path / "remote" / exe.name).exists()  # the binary was copied over


def test_prefix_runner(model, tmp_path):
    gen = generate(model, tmp_path / "out", max_seq_len=4)
    exe = compile_out(gen.out_dir, tmp_path / "build")
    feeds = random_inputs(gen.model, 4, seed=1)
    outs, _ = run_runner(exe, feeds, runner_spec="env HLF_PREFIX_TEST=1")
    expected, _ = oracle_outputs(model, feeds)
    np.testing.assert_allclose(outs["Y"], expected["Y"], atol=1e-4, rtol=1e-3)
