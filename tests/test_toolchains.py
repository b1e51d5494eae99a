"""Cross toolchain files: configure, build and run a tiny NEON program.

Runs the aarch64 binaries only through qemu-aarch64 (binfmt_misc may not be
mounted). Skips when the cross compiler, clang or qemu is missing; .ci/run
installs them, so CI runs everything.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hlfgen.resources import toolchains_dir

SYSROOT = "/usr/aarch64-linux-gnu"
EXPECTED = "fma=3.250 kernels=neon"

MAIN_C = r"""
#include <arm_neon.h>
#include <stdio.h>
int main(void) {
    float32x4_t acc = vdupq_n_f32(0.25f);
    float32x4_t r = vfmaq_f32(acc, vdupq_n_f32(1.5f), vdupq_n_f32(2.0f));
    printf("fma=%.3f kernels=%s\n", vgetq_lane_f32(r, 3), HLF_KERNELS_STR);
    return 0;
}
"""

CMAKELISTS = """
cmake_minimum_required(VERSION 3.16)
project(tc_probe C)
if(NOT DEFINED HLF_KERNELS)
  set(HLF_KERNELS scalar)
endif()
add_executable(probe main.c)
target_compile_definitions(probe PRIVATE HLF_KERNELS_STR="${HLF_KERNELS}")
enable_testing()
add_test(NAME probe COMMAND probe)
set_tests_properties(probe PROPERTIES PASS_REGULAR_EXPRESSION "fma=3.250")
"""

TOOLCHAINS = {
    "gcc": ("aarch64-linux-gnu.cmake", ["aarch64-linux-gnu-gcc"]),
    "clang": ("aarch64-linux-gnu-clang.cmake", ["clang", "aarch64-linux-gnu-gcc"]),
}


def run(cmd, **kw) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert p.returncode == 0, f"{cmd} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return p.stdout


def elf_machine(path: Path) -> int:
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF"
    return int.from_bytes(head[18:20], "little")  # e_machine; 183 = EM_AARCH64


def build(tmp_path: Path, toolchain: str, *defs: str) -> tuple[Path, str]:
    file, tools = TOOLCHAINS[toolchain]
    for t in (*tools, "cmake", "qemu-aarch64"):
        if shutil.which(t) is None:
            pytest.skip(f"{t} not installed (tools/install.sh installs it)")
    src, bld = tmp_path / "src", tmp_path / "build"
    src.mkdir()
    (src / "main.c").write_text(MAIN_C)
    (src / "CMakeLists.txt").write_text(CMAKELISTS)
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    run(["cmake", "-S", src, "-B", bld, *gen, f"-DCMAKE_TOOLCHAIN_FILE={toolchains_dir() / file}", *defs])
    log = run(["cmake", "--build", bld, "--verbose"])
    prog = bld / "probe"
    assert elf_machine(prog) == 183
    return bld, log


@pytest.mark.parametrize("toolchain", sorted(TOOLCHAINS))
def test_dynamic(tmp_path, toolchain):
    bld, log = build(tmp_path, toolchain)
    assert "-mcpu=cortex-a73" in log
    # ctest runs the program through CMAKE_CROSSCOMPILING_EMULATOR
    out = run(["ctest", "--test-dir", bld, "-V"])
    assert "qemu-aarch64" in out and EXPECTED in out
    out = run(["qemu-aarch64", "-L", SYSROOT, bld / "probe"])
    assert out.strip() == EXPECTED


@pytest.mark.parametrize("toolchain", sorted(TOOLCHAINS))
def test_static_generic(tmp_path, toolchain):
    bld, log = build(tmp_path, toolchain, "-DHLF_STATIC=ON", "-DHLF_CPU=generic")
    assert "-march=armv8-a" in log and "-mcpu=" not in log
    assert "-static" in log
    # static: no -L needed, no dynamic loader on the "board"
    out = run(["qemu-aarch64", bld / "probe"])
    assert out.strip() == EXPECTED
    run(["ctest", "--test-dir", bld, "--output-on-failure"])


def test_kernels_override(tmp_path):
    bld, _ = build(tmp_path, "gcc", "-DHLF_KERNELS=scalar")
    out = run(["qemu-aarch64", "-L", SYSROOT, bld / "probe"])
    assert out.strip() == "fma=3.250 kernels=scalar"
