"""Generated models inside an application: several models (kinds, panel widths,
kernel sets) linked into one program, their symbols private to each model.

Oracle: each model's own runner (bit-identical outputs: the same library) and
onnxruntime (tolerance).
"""

from __future__ import annotations

import filecmp
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import hlfgen
import models
from conftest import run_oracle
from hlfgen.build import compile_out, generate, run_runner
from hlfgen.cnames import identifier as c_identifier

pytestmark = pytest.mark.skipif(not shutil.which("cc"), reason="needs a C compiler")

T = 7


@dataclass
class Built:
    name: str
    onnx: Path
    out: Path
    lib: Path
    runner: Path
    target: str
    feeds: dict
    outputs: list  # graph output names, in order
    own: dict  # the model's own runner on feeds
    expected: dict  # onnxruntime on feeds


# name, ONNX builder, hlfgen target, extra cmake args.  "pw8" is generated for
# AArch64 (8-row panels) and built for the host with the portable kernels,
# next to two 16-row host models: the panel widths differ inside one program.
SPECS = [
    ("lstm_a", lambda: models.rnn_model("lstm", 13, 20, with_initial_h=True, seed=11), "host", ()),
    ("gru_b", lambda: models.rnn_model("gru", 7, 11, linear_before_reset=1, seed=12), "host", ()),
    ("pw8", lambda: models.rnn_model("lstm", 9, 13, seed=13), "cortex-a73", ("-DHLF_KERNELS=scalar",)),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> list[Built]:
    root = tmp_path_factory.mktemp("embed")
    out = []
    for name, make, target, cmake_args in SPECS:
        proto = make()
        path = models.save(proto, root / f"{name}.onnx")
        gen = generate(path, root / name, name=name, target=target, max_seq_len=T + 1)
        runner = compile_out(gen.out_dir, root / f"{name}-build", target="host", cmake_args=cmake_args)
        feeds = models.make_inputs(proto, T, seed=21)
        own, _ = run_runner(runner, feeds)
        _, expected = run_oracle(path, feeds)
        out.append(
            Built(
                name,
                path,
                gen.out_dir,
                root / f"{name}-build" / f"lib{name}.a",
                runner,
                target,
                feeds,
                [o.name for o in proto.graph.output],
                own,
                expected,
            )
        )
    return out


def _exported(lib: Path) -> list[str]:
    """Global symbols a static library defines."""
    proc = subprocess.run(["nm", "-g", "--defined-only", str(lib)], capture_output=True, text=True, check=True)
    return [line.split()[-1] for line in proc.stdout.splitlines() if len(line.split()) == 3]


def _runtime_prefix(syms: list[str]) -> str:
    """hlf_<id>_<variant>_ of the runtime symbols of one library (the one such prefix it has)."""
    prefixes = {"_".join(s.split("_")[:3]) + "_" for s in syms if s.startswith("hlf_")}
    assert len(prefixes) == 1, prefixes
    return prefixes.pop()


def test_libraries_export_only_prefixed_symbols(built):
    """A model's own symbols carry its name; the runtime's carry the runtime's id and variant
    (hlfgen/namespace.py): the same for models of one configuration, so they share one copy."""
    runtime = {}
    for b in built:
        syms = _exported(b.lib)
        assert f"{b.name}_run" in syms
        own = [s for s in syms if s.startswith(b.name + "_")]
        assert own and not [s for s in own if s.startswith("hlf_")]
        prefix = _runtime_prefix(syms)
        assert len(prefix) == len("hlf_") + 8 + 1 + len(prefix.split("_")[2]) + 1
        assert sorted(set(syms) - set(own)) == sorted(s for s in syms if s.startswith(prefix)), b.name
        runtime[b.name] = sorted(s for s in syms if s.startswith(prefix))
    # lstm_a and gru_b: one configuration (host, 16-row panels, the same kernel set): one runtime.
    assert runtime["lstm_a"] == runtime["gru_b"]
    assert _runtime_prefix(runtime["pw8"]) != _runtime_prefix(runtime["lstm_a"])  # 8-row panels
    kernels = {b.name: sorted(s.split("_", 3)[3] for s in runtime[b.name] if "_f32_gemv_acc" in s) for b in built}
    # x86-64: one variant per instruction set and the dispatcher's entry point (runtime/hlf_dispatch.h)
    isas = ["avx2", "avx512f", "dispatch", "sse2"] if os.uname().machine == "x86_64" else ["scalar"]
    assert kernels == {
        "lstm_a": [f"f32_gemv_acc_16x1__{i}" for i in isas],
        "gru_b": [f"f32_gemv_acc_16x1__{i}" for i in isas],
        "pw8": [f"f32_gemv_acc_8x1__{i}" for i in isas],
    }


HARNESS_IO = r"""static void *load(const char *dir, const char *file) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(3); }
    fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
    void *p = malloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) exit(3);
    fclose(f);
    return p;
}
static void save(const char *dir, const char *file, const void *p, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) exit(4);
    fclose(f);
}
"""


def _harness(built: list[Built]) -> str:
    """A C program that runs every model once on raw inputs DIR/<model>.in<i>
    and writes DIR/<model>.out<j>."""
    lines = ["#include <stdio.h>", "#include <stdlib.h>", "#include <string.h>"]
    lines += [f'#include "{b.name}.h"' for b in built]
    lines += [
        HARNESS_IO
        + r"""
int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";"""
    ]
    for b in built:
        N = b.name.upper()
        lines.append(f'    printf("%s\\n", {b.name}_version());')
        lines.append("    {")
        lines.append(f"        const void *in[{N}_NUM_INPUTS] = {{0}};")
        lines.append(f"        void *out[{N}_NUM_OUTPUTS];")
        for i, k in enumerate(b.feeds):
            lines.append(f'        in[{N}_INPUT_{c_identifier(k).upper()}] = load(dir, "{b.name}.in{i}");')
        for j, o in enumerate(b.outputs):
            lines.append(f"        out[{j}] = calloc({N}_OUTPUT_{c_identifier(o).upper()}_SIZE({T}), 4);")
        lines.append(f"        if ({b.name}_run({T}, in, out) != 0) return 1;")
        for j, o in enumerate(b.outputs):
            lines.append(
                f'        save(dir, "{b.name}.out{j}", out[{j}], {N}_OUTPUT_{c_identifier(o).upper()}_SIZE({T}) * 4);'
            )
        lines.append("    }")
    lines += ["    return 0;", "}", ""]
    return "\n".join(lines)


def _check_harness(exe: Path, built: list[Built], tmp_path: Path) -> None:
    """Run a _harness() program; every output equals the model's own runner's and onnxruntime's."""
    for b in built:
        for i, arr in enumerate(b.feeds.values()):
            (tmp_path / f"{b.name}.in{i}").write_bytes(np.ascontiguousarray(arr).tobytes())
    proc = subprocess.run([str(exe), str(tmp_path)], check=True, capture_output=True, text=True)
    versions = proc.stdout.splitlines()
    for b, line in zip(built, versions, strict=True):
        sha = hashlib.sha256(b.onnx.read_bytes()).hexdigest()
        assert line == f"{b.name}: hlfgen {hlfgen.__version__}, {b.onnx.name} sha256:{sha}, target {b.target}"
    for b in built:
        for j, o in enumerate(b.outputs):
            got = np.fromfile(tmp_path / f"{b.name}.out{j}", dtype=np.float32).reshape(b.own[o].shape)
            np.testing.assert_array_equal(got, b.own[o], err_msg=f"{b.name}.{o}: linked with the others != own runner")
            np.testing.assert_allclose(got, b.expected[o], atol=1e-4, rtol=1e-3, err_msg=f"{b.name}.{o}")


def test_three_models_in_one_program(built, tmp_path):
    """Plain compiler driver: the three libraries on one link line."""
    src = tmp_path / "app.c"
    src.write_text(_harness(built))
    exe = tmp_path / "app"
    incs = [f"-I{b.out}" for b in built]
    subprocess.run(
        [
            "cc",
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            *incs,
            str(src),
            *[str(b.lib) for b in built],
            "-lm",
            "-o",
            str(exe),
        ],
        check=True,
    )
    _check_harness(exe, built, tmp_path)


def _cmake_build(src: Path, build: Path, *args: str) -> None:
    for cmd in (
        ["cmake", "-S", str(src), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", *args],
        ["cmake", "--build", str(build)],
    ):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_cmake_add_subdirectory_three_models(built, tmp_path):
    """An application's CMake tree with the three projects side by side: no
    option needed (the AArch64-generated one picks the portable kernels on the
    host), no runner built, each model with its own panel width and kernels."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.c").write_text(_harness(built))
    subdirs = "\n".join(f"add_subdirectory({b.out} {b.name})" for b in built)
    libs = " ".join(f"{b.name}::{b.name}" for b in built)
    (app / "CMakeLists.txt").write_text(f"""cmake_minimum_required(VERSION 3.16)
project(app C)
set(HLF_WERROR ON)
{subdirs}
add_executable(app app.c)
target_link_libraries(app PRIVATE {libs})
""")
    _cmake_build(app, tmp_path / "build")
    assert not list((tmp_path / "build").rglob("*_run")), "runners are built only in a model's own build"
    _check_harness(tmp_path / "build" / "app", built, tmp_path)


def test_cmake_install_and_find_package(built, tmp_path):
    """cmake --install of a model's build, then find_package(NAME CONFIG) from another project."""
    b = built[1]
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", str(b.lib.parent), "--prefix", str(prefix)], check=True, capture_output=True)
    assert (prefix / "include" / f"{b.name}.h").is_file()
    assert not (prefix / "include" / "hlf_kernels.h").exists(), "only the model's header is public"
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.c").write_text(_harness([b]))
    (app / "CMakeLists.txt").write_text(f"""cmake_minimum_required(VERSION 3.16)
project(app C)
find_package({b.name} {hlfgen.__version__} CONFIG REQUIRED)
add_executable(app app.c)
target_link_libraries(app PRIVATE {b.name}::{b.name})
""")
    _cmake_build(app, tmp_path / "build", f"-DCMAKE_PREFIX_PATH={prefix}")
    _check_harness(tmp_path / "build" / "app", [b], tmp_path)


def test_every_runtime_header_includes_the_namespace_first():
    """The mechanism of the prefixing: a runtime header that does not include
    hlf_namespace.h before its declarations would leak hlf_* symbols."""
    from hlfgen import resources

    for h in sorted(resources.runtime_dir().rglob("*.h")):
        if h.name in ("hlf_namespace.h", "hlf_config.h"):  # hlf_config.h: constants and an enum tag only
            continue
        includes = [ln.split()[1] for ln in h.read_text().splitlines() if ln.startswith("#include")]
        assert includes and includes[0] == '"hlf_namespace.h"', f"{h.name}: first #include is not hlf_namespace.h"


def _same_tree(a: Path, b: Path) -> list[str]:
    """Paths (relative) whose contents differ or exist on one side only."""
    cmp = filecmp.dircmp(a, b)
    bad = [str(Path(a.name) / f) for f in cmp.left_only + cmp.right_only + cmp.funny_files]
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    bad += mismatch + errors
    for d in cmp.common_dirs:
        bad += [str(Path(d) / f) for f in _same_tree(a / d, b / d)]
    return bad


@pytest.mark.parametrize("weights", ["c", "bin"])
def test_output_is_byte_identical_wherever_it_is_built(tmp_path, weights, monkeypatch):
    """Same model + options, different directories, relative and absolute paths."""
    proto = models.rnn_model("gru", 5, 9, seed=4)
    one = models.save(proto, tmp_path / "x" / "net.onnx")
    two = models.save(proto, tmp_path / "y" / "deeper" / "net.onnx")
    monkeypatch.chdir(tmp_path / "x")
    generate("net.onnx", "out", weights=weights)
    monkeypatch.chdir(tmp_path)
    generate(two, tmp_path / "y" / "deeper" / "elsewhere" / "out", weights=weights)
    a, b = tmp_path / "x" / "out", tmp_path / "y" / "deeper" / "elsewhere" / "out"
    assert _same_tree(a, b) == []
    texts = [f.read_text(errors="replace") for f in a.rglob("*") if f.is_file()]
    assert not [t for t in texts if str(tmp_path) in t or os.fspath(one) in t]
    header = (a / "net.h").read_text()
    assert hashlib.sha256(one.read_bytes()).hexdigest() in header and hlfgen.__version__ in header


def test_namespace_scan_rules(tmp_path):
    """hlfgen/namespace.py on a small runtime: kernels (also HLF_KERNEL(...)-defined) get
    panel width and ISA, helpers the runtime's prefix, macros and comments nothing; the
    runtime's id follows its sources and panel width."""
    from hlfgen.namespace import runtime_id, runtime_names

    (tmp_path / "kernels").mkdir()
    (tmp_path / "hlf_x.h").write_text(
        "#define hlf_macro(a) (a)\n/* hlf_in_comment */\n"
        "static inline int hlf_helper(int a) { return a; }\n"
        'void hlf_f32_foo(int n);\nvoid hlf_f32_bar(int n);\nconst char *s = "hlf_str";\n'
    )
    (tmp_path / "kernels" / "f32-foo-scalar.c").write_text("void HLF_KERNEL(hlf_f32_foo)(int n) { (void)HLF_NR; }\n")
    (tmp_path / "kernels" / "f32-foo-neon.c").write_text("static void hlf_local(void) {}\nvoid hlf_f32_foo(int n) {}\n")
    (tmp_path / "kernels" / "f32-bar-neon.c").write_text("void hlf_f32_bar(int n) {}\n")
    assert runtime_names(tmp_path, 8) == {
        "hlf_f32_bar": "HLF_RT_NAME(f32_bar__neon)",
        "hlf_f32_foo": "HLF_NS_ISA(HLF_RT_NAME(f32_foo_8x1__))",
        "hlf_helper": "HLF_RT_NAME(helper)",
        "hlf_local": "HLF_RT_NAME(local)",
    }
    one = runtime_id(tmp_path, 8)
    assert len(one) == 8 and int(one, 16) >= 0
    assert runtime_id(tmp_path, 8) == one and runtime_id(tmp_path, 16) != one
    (tmp_path / "hlf_namespace.h").write_text("/* not part of the id */")
    assert runtime_id(tmp_path, 8) == one
    (tmp_path / "kernels" / "f32-bar-neon.c").write_text("void hlf_f32_bar(int n) { (void)n; }\n")
    assert runtime_id(tmp_path, 8) != one


def test_namespace_header_compiles_to_the_names_it_says(tmp_path):
    """The macros of a generated hlf_namespace.h, run through the C preprocessor: a helper,
    a one-ISA and a multi-ISA kernel, and a runtime name that is also a macro of a system
    header (errno) is pasted, not expanded."""
    from hlfgen.namespace import render_header

    (tmp_path / "kernels").mkdir()
    (tmp_path / "hlf_x.h").write_text("void hlf_helper(void);\nint hlf_errno(void);\n")
    (tmp_path / "kernels" / "f32-foo-scalar.c").write_text("void hlf_f32_foo(int n) { (void)HLF_NR; }\n")
    (tmp_path / "kernels" / "f32-foo-neon.c").write_text("void hlf_f32_foo(int n) {}\n")
    text, rid, _ = render_header(tmp_path, 8, "neon")
    src = tmp_path / "use.c"
    src.write_text('#include "hlf_namespace.h"\n#include <errno.h>\nhlf_helper hlf_errno hlf_f32_foo\n')
    (tmp_path / "hlf_namespace.h").write_text(text)
    out = subprocess.run(
        ["cc", "-E", "-P", "-DHLF_KERNEL_ISA=scalar", "-DHLF_RT_VARIANT=dispatch", "-I", str(tmp_path), str(src)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-3:]
    assert out == [f"hlf_{rid}_dispatch_helper", f"hlf_{rid}_dispatch_errno", f"hlf_{rid}_dispatch_f32_foo_8x1__scalar"]


# --------------------------------------------------------------------------
# The context API: instances in caller memory
# --------------------------------------------------------------------------


def _ctx_harness(b: Built) -> str:
    """A C program on model b: NAME_init's refusals, bad dims, two instances
    (one in a static array in section .embed_ctx) run whole sequences on
    inputs set 1 and 2 (iso<k>.<j>), then step through them interleaved
    (int<k>.<j>)."""
    N, n = b.name.upper(), b.name
    ins = list(b.feeds)
    X = ins.index("X")
    lines = [
        "#include <stdio.h>",
        "#include <stdlib.h>",
        "#include <string.h>",
        f'#include "{n}.h"',
        HARNESS_IO,
        f"""
static unsigned char mem_a[{N}_CTX_BYTES] __attribute__((aligned({N}_CTX_ALIGN), section(".embed_ctx")));
static unsigned char mem_b[{N}_CTX_BYTES + 64] __attribute__((aligned({N}_CTX_ALIGN)));
int main(int argc, char **argv) {{
    const char *dir = argc > 1 ? argv[1] : ".";
    char file[64];
    if ({n}_init(NULL, {N}_CTX_BYTES) || {n}_init(mem_b + 8, {N}_CTX_BYTES) || {n}_init(mem_b, {N}_CTX_BYTES - 1)) return 10;
    {n}_ctx *ctx[2] = {{{n}_init(mem_a, sizeof mem_a), {n}_init(mem_b, sizeof mem_b)}};
    if (!ctx[0] || !ctx[1]) return 11;
    const void *in[2][{N}_NUM_INPUTS];
    void *out[2][{N}_NUM_OUTPUTS];
    int dims[{N}_NUM_DIMS];
    dims[{N}_DIM_T] = {T};
    for (int k = 0; k < 2; k++) {{
        for (int i = 0; i < {N}_NUM_INPUTS; i++) {{
            snprintf(file, sizeof file, "in%d.%d", k + 1, i);
            in[k][i] = load(dir, file);
        }}""",
    ]
    for j, o in enumerate(b.outputs):
        lines.append(f"        out[k][{j}] = calloc({N}_OUTPUT_{c_identifier(o).upper()}_SIZE({T}), 4);")
    lines.append(f"""    }}
    dims[{N}_DIM_T] = 0;
    if ({n}_ctx_run(ctx[0], dims, in[0], out[0]) != {N}_EBADARG) return 12;
    dims[{N}_DIM_T] = {N}_MAX_DIM_T + 1;
    if ({n}_ctx_run(ctx[0], dims, in[0], out[0]) != {N}_EBADARG) return 13;
    if ({n}_ctx_run(NULL, dims, in[0], out[0]) != {N}_EBADARG) return 14;
    dims[{N}_DIM_T] = {T};
    for (int k = 0; k < 2; k++) {{
        if ({n}_ctx_run(ctx[k], dims, in[k], out[k]) != {N}_OK) return 15;
        for (int j = 0; j < {N}_NUM_OUTPUTS; j++) {{
            snprintf(file, sizeof file, "iso%d.%d", k + 1, j);
            save(dir, file, out[k][j], sizes[j]);
            memset(out[k][j], 0, sizes[j]);
        }}
    }}
    for (int k = 0; k < 2; k++) {{
        if ({n}_ctx_reset(ctx[k], in[k]) != {N}_OK) return 16;
    }}
    for (int t = 0; t < {T}; t++) {{
        for (int k = 0; k < 2; k++) {{  /* the two instances alternate step by step */
            const void *sin[{N}_NUM_INPUTS];
            void *sout[{N}_NUM_OUTPUTS];
            memcpy(sin, in[k], sizeof sin);
            sin[{X}] = (const float *)in[k][{X}] + (size_t)t * {N}_INPUT_X_SIZE(1);""")
    for j, o in enumerate(b.outputs):
        off = f"(size_t)t * {N}_OUTPUT_Y_SIZE(1)" if o == "Y" else "0"
        lines.append(f"            sout[{j}] = (float *)out[k][{j}] + {off};")
    lines.append(f"""            if ({n}_ctx_step(ctx[k], NULL, sin, sout) != {N}_OK) return 17;
        }}
    }}
    for (int k = 0; k < 2; k++) {{
        for (int j = 0; j < {N}_NUM_OUTPUTS; j++) {{
            snprintf(file, sizeof file, "int%d.%d", k + 1, j);
            save(dir, file, out[k][j], sizes[j]);
        }}
    }}
    return 0;
}}""")
    sizes = ", ".join(f"{N}_OUTPUT_{c_identifier(o).upper()}_SIZE({T}) * 4" for o in b.outputs)
    lines.insert(5, f"static const size_t sizes[] = {{{sizes}}};")
    return "\n".join(lines) + "\n"


def _second_feeds(b: Built) -> dict:
    return models.make_inputs(__import__("onnx").load(str(b.onnx)), T, seed=77)


def test_ctx_instances_interleaved_equal_isolated_runs(built, tmp_path):
    b = built[0]  # LSTM with initial_h
    src = tmp_path / "ctx.c"
    src.write_text(_ctx_harness(b))
    exe = tmp_path / "ctx"
    subprocess.run(
        ["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{b.out}", str(src), str(b.lib), "-lm", "-o", str(exe)],
        check=True,
    )
    feeds2 = _second_feeds(b)
    for k, feeds in ((1, b.feeds), (2, feeds2)):
        for i, arr in enumerate(feeds.values()):
            (tmp_path / f"in{k}.{i}").write_bytes(np.ascontiguousarray(arr).tobytes())
    proc = subprocess.run([str(exe), str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc
    own2, _ = run_runner(b.runner, feeds2)
    _, expected2 = run_oracle(b.onnx, feeds2)
    for k, own, expected in ((1, b.own, b.expected), (2, own2, expected2)):
        for j, o in enumerate(b.outputs):
            iso = np.fromfile(tmp_path / f"iso{k}.{j}", dtype=np.float32).reshape(own[o].shape)
            inter = np.fromfile(tmp_path / f"int{k}.{j}", dtype=np.float32).reshape(own[o].shape)
            np.testing.assert_array_equal(iso, own[o], err_msg=f"instance {k} {o}: ctx_run != static run")
            np.testing.assert_allclose(inter, iso, atol=1e-6, rtol=1e-5, err_msg=f"instance {k} {o}: steps != run")
            np.testing.assert_allclose(inter, expected[o], atol=1e-4, rtol=1e-3)
    nm = subprocess.run(["nm", str(exe)], capture_output=True, text=True, check=True).stdout
    sections = subprocess.run(["objdump", "-t", str(exe)], capture_output=True, text=True, check=True).stdout
    assert any(" .embed_ctx" in ln and ln.endswith(" mem_a") for ln in sections.splitlines()), "mem_a not in .embed_ctx"
    assert " mem_a" in nm


THREADS_APP = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "@n@.h"
@io@
/* One instance per thread, each in its own static array. */
static unsigned char mem[2][@N@_CTX_BYTES] __attribute__((aligned(@N@_CTX_ALIGN)));
static const char *dir;
static void *worker(void *arg) {
    const int k = (int)(size_t)arg;
    char file[64];
    const void *in[@N@_NUM_INPUTS];
    void *out[@N@_NUM_OUTPUTS];
    for (int i = 0; i < @N@_NUM_INPUTS; i++) {
        snprintf(file, sizeof file, "in%d.%d", k + 1, i);
        in[i] = load(dir, file);
    }
    for (int j = 0; j < @N@_NUM_OUTPUTS; j++) out[j] = malloc(sizes[j]);
    @n@_ctx *ctx = @n@_init(mem[k], sizeof mem[k]);
    int dims[@N@_NUM_DIMS];
    dims[@N@_DIM_T] = @T@;
    for (int r = 0; r < 3; r++) {
        if (@n@_ctx_run(ctx, dims, in, out) != @N@_OK) exit(20);
    }
    for (int j = 0; j < @N@_NUM_OUTPUTS; j++) {
        snprintf(file, sizeof file, "thr%d.%d", k + 1, j);
        save(dir, file, out[j], sizes[j]);
    }
    return NULL;
}
int main(int argc, char **argv) {
    pthread_t t[2];
    dir = argc > 1 ? argv[1] : ".";
    for (int k = 0; k < 2; k++) pthread_create(&t[k], NULL, worker, (void *)(size_t)k);
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    return 0;
}
"""


@pytest.mark.skipif(not shutil.which("gcc"), reason="needs gcc (ThreadSanitizer)")
def test_ctx_two_threads_tsan_no_static_data_weights_section(built, tmp_path):
    """Two threads, one instance each, under ThreadSanitizer; built with
    HLF_NO_STATIC_API (no mutable static data left: nm) and the weights in a
    section named by the integrator."""
    b = built[0]
    N = b.name.upper()
    app = tmp_path / "app"
    app.mkdir()
    sizes = ", ".join(f"{N}_OUTPUT_{c_identifier(o).upper()}_SIZE({T}) * 4" for o in b.outputs)
    (app / "app.c").write_text(
        THREADS_APP.replace("@io@", f"static const size_t sizes[] = {{{sizes}}};\n" + HARNESS_IO)
        .replace("@n@", b.name)
        .replace("@N@", N)
        .replace("@T@", str(T))
    )
    (app / "CMakeLists.txt").write_text(f"""cmake_minimum_required(VERSION 3.16)
project(app C)
set(CMAKE_C_FLAGS "${{CMAKE_C_FLAGS}} -fsanitize=thread -g")
set(CMAKE_EXE_LINKER_FLAGS "${{CMAKE_EXE_LINKER_FLAGS}} -fsanitize=thread")
set(HLF_NO_STATIC_API ON)
set({N}_WEIGHTS_SECTION .embed_weights)
add_subdirectory({b.out} model)
find_package(Threads REQUIRED)
add_executable(app app.c)
target_link_libraries(app PRIVATE {b.name}::{b.name} Threads::Threads)
""")
    _cmake_build(app, tmp_path / "build", "-DCMAKE_C_COMPILER=gcc")
    lib = tmp_path / "build" / "model" / f"lib{b.name}.a"
    syms = subprocess.run(["nm", str(lib)], capture_output=True, text=True, check=True).stdout.splitlines()
    # Objects in writable sections (.data, .bss, COMMON); .data.rel.ro (const tables of
    # pointers in PIC code) is read-only after relocation.
    table = subprocess.run(["objdump", "-t", str(lib)], capture_output=True, text=True, check=True).stdout
    mutable = {
        ln.split()[-1]
        for ln in table.splitlines()
        if " O " in ln
        and len(ln.split()) >= 5
        and (ln.split()[3].startswith((".data", ".bss", "*COM*")) and not ln.split()[3].startswith(".data.rel.ro"))
    }
    # Known, not ours: runtime/hlf_dispatch.c's chosen ISA, written once by a constructor before
    # main (board 20:37: speed to replace it by ifunc).
    assert mutable <= {"active"}, f"mutable static data without the static API: {sorted(mutable)}"
    assert not [s for s in syms if s.endswith(f" {b.name}_run")], "static API compiled in"
    heads = subprocess.run(
        ["objdump", "-h", str(tmp_path / "build" / "app")], capture_output=True, text=True, check=True
    ).stdout
    section = [ln.split() for ln in heads.splitlines() if ".embed_weights" in ln]
    assert section and int(section[0][2], 16) >= int(
        open(b.out / f"{b.name}.h").read().split(f"#define {N}_WEIGHT_BYTES ")[1].split()[0]
    ), heads
    feeds2 = _second_feeds(b)
    for k, feeds in ((1, b.feeds), (2, feeds2)):
        for i, arr in enumerate(feeds.values()):
            (tmp_path / f"in{k}.{i}").write_bytes(np.ascontiguousarray(arr).tobytes())
    proc = subprocess.run(
        [str(tmp_path / "build" / "app"), str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "TSAN_OPTIONS": "halt_on_error=1 exitcode=66"},
    )
    assert proc.returncode == 0 and "ThreadSanitizer" not in proc.stderr, proc.stderr[-3000:]
    own2, _ = run_runner(b.runner, feeds2)
    for k, own in ((1, b.own), (2, own2)):
        for j, o in enumerate(b.outputs):
            got = np.fromfile(tmp_path / f"thr{k}.{j}", dtype=np.float32).reshape(own[o].shape)
            np.testing.assert_array_equal(got, own[o], err_msg=f"thread {k} {o}")
