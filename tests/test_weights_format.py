"""`--weights c|bin|auto`: C arrays or a binary blob linked by <name>_weights.S.

Both formats must give the same model: bit-identical runner outputs, and
parity with onnxruntime, with gcc and clang, on the host and for AArch64
(NEON, under qemu), with -Werror; sparse index arrays live in the blob too.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from hlfgen.build import compile_out, generate, run_runner
from hlfgen.check import oracle_outputs, random_inputs
from hlfgen.cli import main
from hlfgen.emit import BIN_THRESHOLD
from hlfgen.example import write_example

ATOL, RTOL = 1e-4, 1e-3


@pytest.fixture(scope="module")
def pruned_gru(tmp_path_factory):
    """A GRU with HLF-free, magnitude-pruned weights: dense and CSR kernels both used."""
    path = tmp_path_factory.mktemp("m") / "pruned.onnx"
    write_example(path, kind="gru", input_size=24, hidden_size=40, compression=5, seed=7, scheme="pruned")
    return path


def _needs(*tools):
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


@pytest.mark.parametrize(
    "compiler,target", [("gcc", "host"), ("clang", "host"), ("gcc", "cortex-a73"), ("clang", "cortex-a73")]
)
def test_bin_equals_c_and_onnxruntime(pruned_gru, tmp_path, compiler, target):
    _needs(compiler, *(["aarch64-linux-gnu-gcc", "qemu-aarch64"] if target != "host" else []))
    feeds = None
    outs = {}
    for fmt in ("c", "bin"):
        gen = generate(pruned_gru, tmp_path / fmt, max_seq_len=10, target=target, sparse="csr", weights=fmt)
        files = {p.name for p in gen.out_dir.iterdir()}
        assert ("pruned_weights.bin" in files) == (fmt == "bin")
        assert ("pruned_weights.S" in files) == (fmt == "bin")
        assert gen.program.index_arrays, "the pruned model should use the CSR kernel"
        exe = compile_out(gen.out_dir, tmp_path / f"build-{fmt}", compiler=compiler, target=target, werror=True)
        feeds = feeds or random_inputs(gen.model, 10, seed=5)
        outs[fmt], _ = run_runner(exe, feeds, target=target)
    expected, _ = oracle_outputs(pruned_gru, feeds)
    for name, exp in expected.items():
        np.testing.assert_array_equal(outs["bin"][name], outs["c"][name])
        np.testing.assert_allclose(outs["bin"][name], exp, atol=ATOL, rtol=RTOL)


def test_auto_threshold_and_stale_files(tmp_path):
    small = tmp_path / "small.onnx"
    big = tmp_path / "big.onnx"
    write_example(small, kind="lstm", input_size=16, hidden_size=16, compression=2.5, seed=1, scheme="dense")
    write_example(big, kind="lstm", input_size=256, hidden_size=256, compression=2.5, seed=1, scheme="dense")
    gen = generate(small, tmp_path / "out", name="net")
    assert gen.program.weight_bytes < BIN_THRESHOLD and not (gen.out_dir / "net_weights.bin").exists()
    gen = generate(big, tmp_path / "out", name="net")
    blob = gen.out_dir / "net_weights.bin"
    assert gen.program.weight_bytes >= BIN_THRESHOLD and blob.is_file()
    # every array is in the blob, 64-byte aligned: at least the weights, less than one line more per array
    n_arrays = len(gen.program.weights) + len(gen.program.index_arrays)
    assert gen.program.weight_bytes <= blob.stat().st_size < gen.program.weight_bytes + 64 * n_arrays
    exe = compile_out(gen.out_dir, tmp_path / "build")
    feeds = random_inputs(gen.model, 5, seed=2)
    outs, _ = run_runner(exe, feeds)
    expected, _ = oracle_outputs(big, feeds)
    np.testing.assert_allclose(outs["Y"], expected["Y"], atol=ATOL, rtol=RTOL)
    # regenerating the same OUT/ with C arrays leaves no blob behind
    gen = generate(big, tmp_path / "out", name="net", weights="c")
    assert not (gen.out_dir / "net_weights.bin").exists() and not (gen.out_dir / "net_weights.S").exists()
    assert "static const float" in (gen.out_dir / "net_weights.h").read_text()


def test_cli_rejects_unknown_format(tmp_path, capsys):
    model = tmp_path / "m.onnx"
    write_example(model, kind="lstm", input_size=8, hidden_size=8, compression=2.5, seed=1)
    with pytest.raises(SystemExit) as e:
        main(["build", str(model), "-o", str(tmp_path / "out"), "--weights", "hex"])
    assert e.value.code == 2
    assert "--weights" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
