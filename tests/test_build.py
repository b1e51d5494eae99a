"""The generated project: warnings, sanitizers, the runner contract, the C API, streaming."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from hlfgen.build import compile_out, generate, run_runner
from hlfgen.check import oracle_outputs, random_inputs
from hlfgen.example import write_example

ATOL, RTOL = 1e-4, 1e-3


@pytest.fixture(scope="module")
def lstm_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "kws.onnx"
    write_example(path, kind="lstm", input_size=13, hidden_size=20, compression=2.5, k=2, seed=3)
    return path


@pytest.mark.parametrize(
    "compiler,target",
    [("gcc", "host"), ("clang", "host"), ("gcc", "cortex-a73"), ("clang", "cortex-a73"), ("gcc", "aarch64")],
)
def test_werror_and_parity(lstm_model, tmp_path, compiler, target):
    """-Wall -Wextra -Werror with gcc and clang, host and AArch64 (NEON, run under qemu)."""
    needs = [compiler] + (["aarch64-linux-gnu-gcc", "qemu-aarch64"] if target != "host" else [])
    if not all(shutil.which(t) for t in needs):
        pytest.skip(f"needs {', '.join(needs)}")
    gen = generate(lstm_model, tmp_path / "out", max_seq_len=12, target=target)
    exe = compile_out(gen.out_dir, tmp_path / "build", compiler=compiler, werror=True, target=target)
    feeds = random_inputs(gen.model, 9, seed=1)  # shorter than the max
    outs, _ = run_runner(exe, feeds, target=target)
    expected, _ = oracle_outputs(lstm_model, feeds)
    for name, exp in expected.items():
        np.testing.assert_allclose(outs[name], exp, atol=ATOL, rtol=RTOL)


def test_sanitizers(lstm_model, tmp_path):
    gen = generate(lstm_model, tmp_path / "out", max_seq_len=8)
    exe = compile_out(gen.out_dir, tmp_path / "build", sanitize=True)
    feeds = random_inputs(gen.model, 8, seed=2)
    outs, _ = run_runner(exe, feeds, repeat=2)  # ASan/UBSan abort with non-zero exit on any finding
    expected, _ = oracle_outputs(lstm_model, feeds)
    np.testing.assert_allclose(outs["Y"], expected["Y"], atol=ATOL, rtol=RTOL)


def test_repeat_and_stream(lstm_model, tmp_path):
    gen = generate(lstm_model, tmp_path / "out", max_seq_len=10)
    exe = compile_out(gen.out_dir, tmp_path / "build")
    feeds = random_inputs(gen.model, 10, seed=4)
    whole, mean_us = run_runner(exe, feeds, repeat=3)
    assert mean_us is not None and mean_us > 0
    streamed, _ = run_runner(exe, feeds, stream=True)
    for name in whole:
        np.testing.assert_allclose(streamed[name], whole[name], atol=1e-6, rtol=1e-6)


def test_runner_rejects_too_long_sequence(lstm_model, tmp_path):
    gen = generate(lstm_model, tmp_path / "out", max_seq_len=4)
    exe = compile_out(gen.out_dir, tmp_path / "build")
    feeds = random_inputs(gen.model, 5, seed=0)
    with pytest.raises(RuntimeError, match="exit 2"):
        run_runner(exe, feeds)


C_API_PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include "kws.h"

/* Embedding use: static buffers, whole-sequence run, then the same frames streamed. */
static float x[KWS_MAX_SEQ_LEN * KWS_BATCH * 13];
static float y[KWS_OUTPUT_Y_SIZE(KWS_MAX_SEQ_LEN)], yh[KWS_OUTPUT_Y_H_SIZE(1)], yc[KWS_OUTPUT_Y_C_SIZE(1)];
static float ys[KWS_OUTPUT_Y_SIZE(1)], yhs[KWS_OUTPUT_Y_H_SIZE(1)], ycs[KWS_OUTPUT_Y_C_SIZE(1)];

int main(void) {
    const int T = 7;
    for (int i = 0; i < T * 13; i++) x[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
    const void *in[KWS_NUM_INPUTS] = { x };
    void *out[KWS_NUM_OUTPUTS] = { y, yh, yc };
    if (kws_run(T, in, out) != 0) return 1;
    if (kws_run(0, in, out) != -1) return 2;              /* bad length is refused */
    if (kws_reset(NULL) != 0) return 3;
    double max_diff = 0;
    for (int t = 0; t < T; t++) {
        const void *in1[KWS_NUM_INPUTS] = { x + t * 13 };
        void *out1[KWS_NUM_OUTPUTS] = { ys, yhs, ycs };
        if (kws_step(in1, out1) != 0) return 4;
        for (int k = 0; k < 20; k++) {
            double d = ys[k] - y[t * 20 + k];
            if (d < 0) d = -d;
            if (d > max_diff) max_diff = d;
        }
    }
    for (int k = 0; k < 20; k++) {
        double d = yhs[k] - yh[k];
        if (d < 0) d = -d;
        if (d > max_diff) max_diff = d;
    }
    printf("weights=%d work=%d max_diff=%g\n", KWS_WEIGHT_BYTES, KWS_WORK_BYTES, max_diff);
    return max_diff < 1e-6 ? 0 : 5;
}
"""


def test_c_api_run_reset_step(lstm_model, tmp_path):
    gen = generate(lstm_model, tmp_path / "out", name="kws", max_seq_len=8)
    compile_out(gen.out_dir, tmp_path / "build")
    src = tmp_path / "app.c"
    src.write_text(C_API_PROGRAM)
    exe = tmp_path / "app"
    subprocess.run(
        [
            "cc",
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            f"-I{gen.out_dir}",
            str(src),
            str(tmp_path / "build" / "libkws.a"),
            "-lm",
            "-o",
            str(exe),
        ],
        check=True,
    )
    proc = subprocess.run([str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "max_diff=" in proc.stdout


def test_no_malloc_in_generated_code(lstm_model, tmp_path):
    gen = generate(lstm_model, tmp_path / "out")
    for f in list(gen.out_dir.glob("*.[ch]")) + list((gen.out_dir / "runtime").rglob("*.[ch]")):
        text = f.read_text()
        for fn in ("malloc(", "calloc(", "realloc(", "free("):
            assert fn not in text, (f, fn)


@pytest.mark.skipif(
    not shutil.which("aarch64-linux-gnu-gcc") or not shutil.which("qemu-aarch64"),
    reason="needs gcc-aarch64-linux-gnu and qemu-user",
)
@pytest.mark.parametrize("target", ["host", "cortex-a73"])
def test_cross_compile_with_relative_toolchain_path(lstm_model, tmp_path, target):
    """The documented flow: build, then cmake with out/toolchains/... given relative to the shell's directory."""
    gen = generate(lstm_model, tmp_path / "out", target=target, max_seq_len=6)
    cfg = subprocess.run(
        [
            "cmake",
            "-S",
            "out",
            "-B",
            "out/build-a73",
            "-DHLF_WERROR=ON",
            "-DCMAKE_TOOLCHAIN_FILE=out/toolchains/aarch64-linux-gnu.cmake",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "PWD": str(tmp_path)},
    )
    assert cfg.returncode == 0, cfg.stderr
    assert ("portable kernels" in cfg.stderr) == (target == "host")
    subprocess.run(["cmake", "--build", "out/build-a73"], cwd=tmp_path, check=True, capture_output=True)
    exe = tmp_path / "out" / "build-a73" / f"{gen.name}_run"
    feeds = random_inputs(gen.model, 6, seed=5)
    outs, _ = run_runner(exe, feeds, target="cortex-a73")
    expected, _ = oracle_outputs(lstm_model, feeds)
    for name, exp in expected.items():
        np.testing.assert_allclose(outs[name], exp, atol=ATOL, rtol=RTOL)
