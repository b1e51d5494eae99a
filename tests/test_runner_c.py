"""Tests of the hand-written C runner (runtime/hlf_runner.c, runtime/hlf_npy.c).

The runner is linked with tests/c/fake_model.c, a tiny stateful "model"
(a running sum over time, see that file) whose results numpy reproduces.
"""

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "runtime"
RUNNER_SOURCES = [RUNTIME / "hlf_runner.c", RUNTIME / "hlf_npy.c"]
FAKE_MODEL = ROOT / "tests" / "c" / "fake_model.c"
WARNINGS = ["-Wall", "-Wextra", "-Werror"]
MAX_T = 16
TIMEOUT = 20

PROG = "fake_run"
PROG_NO_STREAM = "fake2_run"  # built with -DFAKE_DOUBLE_T: input pairs [2*T], no step/reset


def compile_program(cc, out, defines=(), extra=()):
    """Compiles the runner sources with the fake model into the program out."""
    cmd = [
        cc,
        *WARNINGS,
        "-O1",
        "-std=c99",
        f"-I{RUNTIME}",
        *defines,
        *extra,
        *map(str, RUNNER_SOURCES),
        str(FAKE_MODEL),
        "-o",
        str(out),
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60)
    return out


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("runner_build")


@pytest.fixture(scope="module")
def prog(build_dir):
    return compile_program("gcc", build_dir / PROG)


@pytest.fixture(scope="module")
def prog_no_stream(build_dir):
    return compile_program("gcc", build_dir / PROG_NO_STREAM, defines=["-DFAKE_DOUBLE_T"])


def run(program, *args, launcher=()):
    return subprocess.run([*launcher, str(program), *map(str, args)], capture_output=True, text=True, timeout=TIMEOUT)


def assert_ok(proc):
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def assert_error(proc, code=2, contains=None, prog_name=PROG):
    """One stderr line '<prog>: error: ...', nothing on stdout, the exit code."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert proc.stderr.endswith("\n")
    assert lines[0].startswith(f"{prog_name}: error: "), lines[0]
    if contains is not None:
        assert contains in lines[0], lines[0]
    return lines[0]


def reference(x, lens=None, h0=None, bias=None):
    """What the fake model computes (see tests/c/fake_model.c)."""
    x = np.asarray(x, dtype=np.float32)
    steps_total = x.shape[0]
    state = np.zeros((2, 3), np.float32) if h0 is None else np.array(h0[0], np.float32)
    bias = np.zeros(3, np.float32) if bias is None else np.asarray(bias).astype(np.float32)
    y = np.zeros((steps_total, 2, 3), np.float32)
    steps = np.zeros(2, np.int64)
    for t in range(steps_total):
        for b in range(2):
            if lens is None or t < lens[b]:
                state[b] += x[t, b]
                steps[b] += 1
                y[t, b] = state[b] + bias
    return {"Y": y, "Y_last": state, "steps_count_0": steps}


def load_outputs(out_dir):
    return {name: np.load(out_dir / f"{name}.npy", allow_pickle=False) for name in ("Y", "Y_last", "steps_count_0")}


def assert_outputs(out_dir, expected):
    got = load_outputs(out_dir)
    for name, want in expected.items():
        assert got[name].dtype == want.dtype, name
        assert got[name].shape == want.shape, name
        np.testing.assert_allclose(got[name], want, rtol=1e-6, atol=1e-6, err_msg=name)


def random_x(steps, seed=0):
    return np.random.default_rng(seed).standard_normal((steps, 2, 3)).astype(np.float32)


def npy_bytes(arr, version=(1, 0), header=None, descr=None):
    """An .npy file written by hand, in any format version (3.0 headers are utf-8)."""
    arr = np.ascontiguousarray(arr)
    if header is None:
        descr = descr or arr.dtype.str
        header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {arr.shape!r}, }}"
    len_bytes = 2 if version[0] == 1 else 4
    text = header.encode("utf-8" if version[0] == 3 else "latin-1")
    pad = -(6 + 2 + len_bytes + len(text) + 1) % 64
    text += b" " * pad + b"\n"
    fmt = "<H" if len_bytes == 2 else "<I"
    return b"\x93NUMPY" + bytes(version) + struct.pack(fmt, len(text)) + text + arr.tobytes()


def write(path, arr, **kwargs):
    path.write_bytes(npy_bytes(arr, **kwargs))
    return path


# ---------------------------------------------------------------------------
# Whole-sequence runs


def test_outputs_match_numpy(prog, tmp_path):
    x = random_x(5)
    np.save(tmp_path / "x.npy", x)
    assert_ok(run(prog, "--input", f"X={tmp_path / 'x.npy'}", "--out-dir", tmp_path / "out"))
    assert_outputs(tmp_path / "out", reference(x))


def test_all_optional_inputs_and_conversions(prog, tmp_path):
    """sequence_lens given as int64 (narrowed), bias as int32 (widened to int64)."""
    x = random_x(7, seed=1)
    lens = np.array([7, 3], np.int64)
    h0 = np.random.default_rng(2).standard_normal((1, 2, 3)).astype(np.float32)
    bias = np.array([1, -2, 3], np.int32)
    for name, arr in (("x", x), ("lens", lens), ("h0", h0), ("bias", bias)):
        np.save(tmp_path / f"{name}.npy", arr)
    proc = run(
        prog,
        "--input",
        f"X={tmp_path / 'x.npy'}",
        f"--input=sequence_lens={tmp_path / 'lens.npy'}",
        "--input",
        f"h0={tmp_path / 'h0.npy'}",
        "--input",
        f"bias={tmp_path / 'bias.npy'}",
        f"--out-dir={tmp_path / 'out'}",
    )
    assert_ok(proc)
    assert_outputs(tmp_path / "out", reference(x, lens, h0, bias))


def test_int32_sequence_lens(prog, tmp_path):
    x = random_x(4, seed=3)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "lens.npy", np.array([2, 4], np.int32))
    assert_ok(
        run(
            prog,
            "--input",
            f"X={tmp_path / 'x.npy'}",
            "--input",
            f"sequence_lens={tmp_path / 'lens.npy'}",
            "--out-dir",
            tmp_path,
        )
    )
    assert_outputs(tmp_path, reference(x, [2, 4]))


@pytest.mark.parametrize("steps", [1, MAX_T])
def test_sequence_length_limits(prog, tmp_path, steps):
    x = random_x(steps, seed=steps)
    np.save(tmp_path / "x.npy", x)
    assert_ok(run(prog, "--input", f"X={tmp_path / 'x.npy'}", "--out-dir", tmp_path))
    assert_outputs(tmp_path, reference(x))


def test_output_files_are_npy_v1_c_order(prog, tmp_path):
    x = random_x(3)
    np.save(tmp_path / "x.npy", x)
    assert_ok(run(prog, "--input", f"X={tmp_path / 'x.npy'}", "--out-dir", tmp_path / "o"))
    for name, descr, shape in (("Y", "<f4", (3, 2, 3)), ("Y_last", "<f4", (2, 3)), ("steps_count_0", "<i8", (2,))):
        raw = (tmp_path / "o" / f"{name}.npy").read_bytes()
        assert raw[:8] == b"\x93NUMPY\x01\x00"
        header_len = struct.unpack("<H", raw[8:10])[0]
        assert (10 + header_len) % 64 == 0
        header = raw[10 : 10 + header_len].decode("latin-1")
        assert header.endswith("\n")
        assert f"'descr': '{descr}'" in header and "'fortran_order': False" in header
        assert f"'shape': {shape!r}" in header


def test_output_names_are_sanitized(prog, tmp_path):
    """Output 'steps/count:0' goes to steps_count_0.npy."""
    np.save(tmp_path / "x.npy", random_x(2))
    out = tmp_path / "out"
    assert_ok(run(prog, "--input", f"X={tmp_path / 'x.npy'}", "--out-dir", out))
    assert sorted(p.name for p in out.iterdir()) == ["Y.npy", "Y_last.npy", "steps_count_0.npy"]
    np.testing.assert_array_equal(np.load(out / "steps_count_0.npy"), [2, 2])


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
def test_npy_format_versions(prog, tmp_path, version):
    x = random_x(4, seed=5)
    lens = np.array([1, 4], np.int64)
    write(tmp_path / "x.npy", x, version=version)
    write(tmp_path / "lens.npy", lens, version=version)
    assert_ok(
        run(
            prog,
            "--input",
            f"X={tmp_path / 'x.npy'}",
            "--input",
            f"sequence_lens={tmp_path / 'lens.npy'}",
            "--out-dir",
            tmp_path,
        )
    )
    assert_outputs(tmp_path, reference(x, lens))


def test_header_syntax_variants(prog, tmp_path):
    """Double quotes, odd spacing, keys in another order, no trailing comma."""
    x = random_x(2, seed=6)
    header = '{ "shape" : ( 2 ,2,3 ) ,"fortran_order":False,  "descr":"<f4"}'
    write(tmp_path / "x.npy", x, header=header)
    assert_ok(run(prog, "--input", f"X={tmp_path / 'x.npy'}", "--out-dir", tmp_path))
    assert_outputs(tmp_path, reference(x))


def test_run_failure_exits_1(prog, tmp_path):
    """The fake run() rejects a sequence length > T."""
    np.save(tmp_path / "x.npy", random_x(3))
    np.save(tmp_path / "lens.npy", np.array([4, 1], np.int32))
    proc = run(
        prog,
        "--input",
        f"X={tmp_path / 'x.npy'}",
        "--input",
        f"sequence_lens={tmp_path / 'lens.npy'}",
        "--out-dir",
        tmp_path,
    )
    assert_error(proc, code=1, contains="run() failed with status 3")


# ---------------------------------------------------------------------------
# --repeat and --stream


MEAN_LINE = re.compile(r"mean_us=\d+\.\d{3} repeat=(\d+)\n")


@pytest.mark.parametrize("stream", [False, True])
def test_repeat(prog, tmp_path, stream):
    x = random_x(6, seed=7)
    np.save(tmp_path / "x.npy", x)
    args = ["--input", f"X={tmp_path / 'x.npy'}", "--out-dir", tmp_path, "--repeat", "4"]
    proc = run(prog, *args, *(["--stream"] if stream else []))
    assert proc.returncode == 0, proc.stderr
    match = MEAN_LINE.fullmatch(proc.stdout)
    assert match and match.group(1) == "4", proc.stdout
    assert_outputs(tmp_path, reference(x))  # state reset before every run


def test_no_stdout_without_repeat(prog, tmp_path):
    np.save(tmp_path / "x.npy", random_x(2))
    proc = run(prog, "--input", f"X={tmp_path / 'x.npy'}", "--out-dir", tmp_path)
    assert_ok(proc)
    assert proc.stdout == ""


@pytest.mark.parametrize("with_optional", [False, True])
def test_stream_equals_whole_sequence(prog, tmp_path, with_optional):
    x = random_x(9, seed=8)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "lens.npy", np.array([9, 5], np.int64))
    np.save(tmp_path / "h0.npy", np.ones((1, 2, 3), np.float32))
    np.save(tmp_path / "bias.npy", np.array([3, 2, 1], np.int64))
    args = ["--input", f"X={tmp_path / 'x.npy'}"]
    if with_optional:
        for name, file in (("sequence_lens", "lens"), ("h0", "h0"), ("bias", "bias")):
            args += ["--input", f"{name}={tmp_path / file}.npy"]
    assert_ok(run(prog, *args, "--out-dir", tmp_path / "whole"))
    assert_ok(run(prog, *args, "--out-dir", tmp_path / "stream", "--stream"))
    whole, streamed = load_outputs(tmp_path / "whole"), load_outputs(tmp_path / "stream")
    for name in whole:
        assert streamed[name].shape == whole[name].shape
        np.testing.assert_array_equal(streamed[name], whole[name], err_msg=name)


def test_stream_with_t_on_axis_1(build_dir, tmp_path):
    """X and Y batch-first ([2, T, 3]): the T slices are strided."""
    program = compile_program("gcc", build_dir / "fake3_run", defines=["-DFAKE_BATCH_FIRST"])
    x = random_x(5, seed=10)
    np.save(tmp_path / "x.npy", x.transpose(1, 0, 2).copy())
    np.save(tmp_path / "lens.npy", np.array([3, 5], np.int32))
    args = ["--input", f"X={tmp_path / 'x.npy'}", "--input", f"sequence_lens={tmp_path}/lens.npy"]
    expected = reference(x, [3, 5])
    expected["Y"] = expected["Y"].transpose(1, 0, 2)
    for mode in ([], ["--stream"]):
        out = tmp_path / ("stream" if mode else "whole")
        assert_ok(run(program, *args, "--out-dir", out, *mode))
        assert_outputs(out, expected)


# ---------------------------------------------------------------------------
# --help and the 2*T variant


def test_help(prog):
    proc = run(prog, "--help")
    assert_ok(proc)
    out = proc.stdout
    assert out.startswith(f"usage: {PROG} --input NAME=PATH.npy")
    assert re.search(r"^\s+X\s+float32\s+\[T, 2, 3\]", out, re.M)
    assert re.search(r"^\s+sequence_lens\s+int32\s+\[2\]\s+\(optional\)", out, re.M)
    assert re.search(r"^\s+h0\s+float32\s+\[1, 2, 3\]\s+\(optional\)", out, re.M)
    assert "steps/count:0" in out and "1 <= T <= 16" in out


def test_help_wins_over_bad_arguments(prog):
    assert_ok(run(prog, "--bogus", "-h"))


def test_double_t_input(prog_no_stream, tmp_path):
    x = random_x(5, seed=9)
    pairs = np.arange(10, dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "pairs.npy", pairs)
    assert "[2*T]" in run(prog_no_stream, "--help").stdout
    assert_ok(
        run(
            prog_no_stream,
            "--input",
            f"X={tmp_path / 'x.npy'}",
            "--input",
            f"pairs={tmp_path / 'pairs.npy'}",
            "--out-dir",
            tmp_path,
        )
    )
    np.testing.assert_array_equal(np.load(tmp_path / "pairs_out.npy"), pairs.reshape(5, 2))
    assert_outputs(tmp_path, reference(x))


@pytest.mark.parametrize(
    "pairs_len, x_steps, message",
    [
        (7, 3, "input 'pairs': expected shape [2*T], got [7]"),
        (8, 3, "input 'pairs': sequence length T=4 does not match T=3 of input 'X'"),
    ],
)
def test_double_t_errors(prog_no_stream, tmp_path, pairs_len, x_steps, message):
    np.save(tmp_path / "x.npy", random_x(x_steps))
    np.save(tmp_path / "pairs.npy", np.zeros(pairs_len, np.float32))
    proc = run(
        prog_no_stream,
        "--input",
        f"X={tmp_path / 'x.npy'}",
        "--input",
        f"pairs={tmp_path / 'pairs.npy'}",
        "--out-dir",
        tmp_path,
    )
    assert_error(proc, contains=message, prog_name=PROG_NO_STREAM)


def test_stream_needs_step(prog_no_stream, tmp_path):
    np.save(tmp_path / "x.npy", random_x(2))
    proc = run(prog_no_stream, "--input", f"X={tmp_path / 'x.npy'}", "--out-dir", tmp_path, "--stream")
    assert_error(proc, contains="cannot stream", prog_name=PROG_NO_STREAM)


# ---------------------------------------------------------------------------
# Errors: exit 2, one line on stderr


def _fortran_x(d):
    arr = np.asfortranarray(random_x(4))
    np.save(d / "bad.npy", arr)
    return d / "bad.npy"


BAD_FILES = {
    # name: (writer of d/bad.npy given the directory, expected message part)
    "missing": (lambda d: d / "nope.npy", "cannot open"),
    "bad_magic": (lambda d: (d / "bad.npy").write_text("hello world") and d / "bad.npy", "bad magic"),
    "too_short": (lambda d: (d / "bad.npy").write_bytes(b"\x93NU") and d / "bad.npy", "too short"),
    "version_4": (lambda d: write(d / "bad.npy", random_x(2), version=(4, 0)), "unsupported .npy format version 4.0"),
    "truncated_data": (
        lambda d: (d / "bad.npy").write_bytes(npy_bytes(random_x(4))[:-5]) and d / "bad.npy",
        "truncated .npy data: expected 24 elements, got 22",
    ),
    "truncated_header": (
        lambda d: (d / "bad.npy").write_bytes(npy_bytes(random_x(4))[:30]) and d / "bad.npy",
        "truncated .npy header",
    ),
    "float64": (
        lambda d: write(d / "bad.npy", random_x(4).astype(np.float64)),
        "input 'X': expected float32 ('<f4') data, got '<f8'",
    ),
    "unsupported_dtype": (
        lambda d: write(d / "bad.npy", random_x(4).astype(np.float16)),
        "expected float32 ('<f4') data, got '<f2'",
    ),
    "big_endian": (
        lambda d: write(d / "bad.npy", random_x(4).astype(">f4")),
        "expected float32 ('<f4') data, got '>f4'",
    ),
    "int_for_float": (
        lambda d: write(d / "bad.npy", np.zeros((4, 2, 3), np.int32)),
        "expected float32 ('<f4') data, got '<i4'",
    ),
    "fortran": (_fortran_x, "fortran_order True is not supported"),
    "wrong_shape": (
        lambda d: write(d / "bad.npy", np.zeros((4, 2, 4), np.float32)),
        "input 'X': expected shape [T, 2, 3], got [4, 2, 4]",
    ),
    "wrong_rank": (
        lambda d: write(d / "bad.npy", np.zeros((4, 6), np.float32)),
        "input 'X': expected shape [T, 2, 3], got [4, 6]",
    ),
    "t_too_long": (lambda d: write(d / "bad.npy", random_x(MAX_T + 1)), "sequence length T=17 out of range 1..16"),
    "t_zero": (
        lambda d: write(d / "bad.npy", np.zeros((0, 2, 3), np.float32)),
        "sequence length T=0 out of range 1..16",
    ),
    "header_too_long": (lambda d: write(d / "bad.npy", random_x(2), header="{" + " " * 5000 + "}"), "header too long"),
    "malformed_header": (
        lambda d: write(d / "bad.npy", random_x(2), header="{'descr': '<f4', 'shape': (2, 2, 3"),
        "malformed .npy header",
    ),
    "missing_key": (
        lambda d: write(d / "bad.npy", random_x(2), header="{'descr': '<f4', 'shape': (2, 2, 3)}"),
        "needs 'descr', 'fortran_order' and 'shape'",
    ),
    "structured": (
        lambda d: write(
            d / "bad.npy", random_x(2), header="{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 2, 3)}"
        ),
        "structured arrays are not supported",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_input_file(prog, tmp_path, case):
    make, message = BAD_FILES[case]
    path = make(tmp_path)
    proc = run(prog, "--input", f"X={path}", "--out-dir", tmp_path / "out")
    assert_error(proc, contains=message)
    assert not (tmp_path / "out").exists()


def test_int64_out_of_int32_range(prog, tmp_path):
    np.save(tmp_path / "x.npy", random_x(3))
    np.save(tmp_path / "lens.npy", np.array([1, 2**33], np.int64))
    proc = run(
        prog,
        "--input",
        f"X={tmp_path / 'x.npy'}",
        "--input",
        f"sequence_lens={tmp_path / 'lens.npy'}",
        "--out-dir",
        tmp_path,
    )
    assert_error(proc, contains="value 8589934592 at flat index 1 does not fit in int32")


def test_float_for_int_input(prog, tmp_path):
    np.save(tmp_path / "x.npy", random_x(3))
    np.save(tmp_path / "lens.npy", np.array([1, 2], np.float32))
    proc = run(
        prog,
        "--input",
        f"X={tmp_path / 'x.npy'}",
        "--input",
        f"sequence_lens={tmp_path / 'lens.npy'}",
        "--out-dir",
        tmp_path,
    )
    assert_error(proc, contains="input 'sequence_lens': expected integer ('<i4' or '<i8') data, got '<f4'")


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "missing --out-dir"),
        (["--out-dir"], "--out-dir needs a directory"),
        (["--bogus"], "unknown argument '--bogus'"),
        (["--input"], "--input needs NAME=PATH.npy"),
        (["--input", "X"], "--input expects NAME=PATH.npy, got 'X'"),
        (["--input", "Z={x}", "--out-dir", "{d}"], "unknown input 'Z' (model inputs: X, sequence"),
        (["--input", "X=", "--out-dir", "{d}"], "input 'X': empty path"),
        (["--input", "X={x}", "--input", "X={x}", "--out-dir", "{d}"], "given more than once"),
        (["--input", "h0={h0}", "--out-dir", "{d}"], "missing required input 'X'"),
        (["--input", "X={x}"], "missing --out-dir"),
        (["--input", "X={x}", "--out-dir", "{d}", "--repeat", "0"], "--repeat expects an integer"),
        (["--input", "X={x}", "--out-dir", "{d}", "--repeat", "3x"], "--repeat expects an integer"),
        (["--input", "X={x}", "--out-dir", "{d}", "--repeat"], "--repeat needs a count"),
        (["--input", "X={x}", "--out-dir", "{x}"], "cannot write"),
        (["--input", "X={x}", "--out-dir", "{d}/no/such"], "cannot create output directory"),
    ],
)
def test_usage_errors(prog, tmp_path, args, message):
    np.save(tmp_path / "x.npy", random_x(2))
    np.save(tmp_path / "h0.npy", np.zeros((1, 2, 3), np.float32))
    subst = {"x": tmp_path / "x.npy", "h0": tmp_path / "h0.npy", "d": tmp_path}
    proc = run(prog, *[a.format(**subst) for a in args])
    assert_error(proc, contains=message)


# ---------------------------------------------------------------------------
# Builds: clang, strict flags, no heap, aarch64 under qemu


def test_clang_build(build_dir, tmp_path):
    if shutil.which("clang") is None:
        pytest.skip("clang not installed")
    program = compile_program("clang", build_dir / "fake_run_clang")
    x = random_x(5, seed=11)
    np.save(tmp_path / "x.npy", x)
    assert_ok(run(program, "--input", f"X={tmp_path / 'x.npy'}", "--out-dir", tmp_path / "a"))
    assert_ok(run(program, "--input", f"X={tmp_path / 'x.npy'}", "--out-dir", tmp_path / "b", "--stream"))
    assert_outputs(tmp_path / "a", reference(x))
    assert_outputs(tmp_path / "b", reference(x))


@pytest.mark.parametrize(
    "flags", [["-std=c99", "-pedantic"], ["-std=c99", "-D_POSIX_C_SOURCE=200809L"], ["-std=gnu11"]]
)
def test_strict_compiles(tmp_path, flags):
    for cc in ("gcc", "clang"):
        if shutil.which(cc) is None:
            continue
        for src in RUNNER_SOURCES:
            subprocess.run(
                [cc, *WARNINGS, *flags, f"-I{RUNTIME}", "-c", str(src), "-o", str(tmp_path / (src.stem + ".o"))],
                check=True,
                capture_output=True,
                timeout=60,
            )


def test_no_heap_allocation(tmp_path):
    """The runner objects reference none of malloc/calloc/realloc/free."""
    if shutil.which("nm") is None:
        pytest.skip("nm not installed")
    for src in RUNNER_SOURCES:
        obj = tmp_path / (src.stem + ".o")
        subprocess.run(
            ["gcc", *WARNINGS, "-O1", f"-I{RUNTIME}", "-c", str(src), "-o", str(obj)], check=True, timeout=60
        )
        undefined = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True, check=True).stdout.split()
        assert not {"malloc", "calloc", "realloc", "free"} & set(undefined), src


def test_aarch64_under_qemu(build_dir, tmp_path):
    cc, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64")
    if cc is None or qemu is None:
        pytest.skip("aarch64-linux-gnu-gcc or qemu-aarch64 not installed")
    program = compile_program(cc, build_dir / "fake_run_aarch64", extra=["-static"])
    x = random_x(6, seed=12)
    lens = np.array([6, 2], np.int64)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "lens.npy", lens)
    args = ["--input", f"X={tmp_path / 'x.npy'}", "--input", f"sequence_lens={tmp_path}/lens.npy"]
    assert_ok(run(program, *args, "--out-dir", tmp_path / "a", launcher=[qemu]))
    assert_outputs(tmp_path / "a", reference(x, lens))
    proc = run(program, *args, "--out-dir", tmp_path / "b", "--stream", "--repeat", "2", launcher=[qemu])
    assert MEAN_LINE.fullmatch(proc.stdout), proc.stdout
    assert_outputs(tmp_path / "b", reference(x, lens))
    assert_error(
        run(program, "--input", f"X={tmp_path / 'lens.npy'}", "--out-dir", tmp_path, launcher=[qemu]),
        contains="got '<i8'",
        prog_name="fake_run_aarch64",
    )
