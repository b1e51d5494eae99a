"""Packaging: the wheel and the sdist carry the data dirs, and the installed
package finds them through hlfgen.resources."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from hlfgen import resources

REPO = Path(__file__).resolve().parents[1]  # the source tree, not the install
DATA_DIRS = ("templates", "runtime", "toolchains")


def source_files(name: str) -> set[str]:
    """Files of one data dir, relative to the repo root (no caches)."""
    return {
        p.relative_to(REPO).as_posix() for p in (REPO / name).rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }


def pip(*args: str, cwd: Path = REPO) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def check_wheel(whl: Path) -> None:
    assert whl.name.endswith("-py3-none-any.whl"), whl.name
    with zipfile.ZipFile(whl) as z:
        names = set(z.namelist())
        eps = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt")))
    assert "hlfgen/resources.py" in names
    assert "hlfgen/bench/bw_probe.c" in names  # a data file beside the sources: wheel.packages copies it
    assert {"hlfgen/bench/ort_runner.c", "hlfgen/bench/cpuinfo_shim.c"} <= names  # `hlfgen bench --ort-aarch64`
    for d in DATA_DIRS:
        want = {f"hlfgen/_data/{f}" for f in source_files(d)}
        assert want <= names, f"missing from wheel: {sorted(want - names)}"
    assert "toolchains/aarch64-linux-gnu.cmake" in source_files("toolchains")
    assert "hlfgen = hlfgen.cli:main" in eps.decode()
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_wheel_contents(tmp_path):
    pip("wheel", ".", "--no-deps", "-w", str(tmp_path))
    (whl,) = tmp_path.glob("hlfgen-*.whl")
    check_wheel(whl)


def test_sdist_then_wheel(tmp_path):
    """sdist carries the data dirs, and a wheel built from it is complete."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    vpy = venv / "bin" / "python"
    subprocess.run([vpy, "-m", "pip", "install", "-q", "scikit-build-core>=0.10"], check=True)
    subprocess.run(
        [vpy, "-c", "import sys, scikit_build_core.build as b; b.build_sdist(sys.argv[1])", tmp_path / "sd"],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (sdist,) = (tmp_path / "sd").glob("hlfgen-*.tar.gz")
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
        t.extractall(tmp_path / "unpacked")
    for d in DATA_DIRS:
        assert source_files(d) <= names, f"missing from sdist: {source_files(d) - names}"
    assert not [n for n in names if n.startswith((".venv/", ".git/"))]
    (src,) = (tmp_path / "unpacked").iterdir()
    pip("wheel", ".", "--no-deps", "-w", str(tmp_path / "w"), cwd=src)
    (whl,) = (tmp_path / "w").glob("hlfgen-*.whl")
    check_wheel(whl)


def test_resources_found():
    for d, fn in zip(DATA_DIRS, (resources.templates_dir, resources.runtime_dir, resources.toolchains_dir)):
        path = fn()
        assert path.name == d
        for f in source_files(d):  # every file of the source tree is there
            assert (path / f.split("/", 1)[1]).is_file(), f"{f} not in {path} (stale install? re-run tools/install.sh)"
    assert (resources.toolchains_dir() / "aarch64-linux-gnu.cmake").is_file()
    assert (resources.runtime_dir() / "hlf_runner.h").is_file()


@pytest.mark.skipif(
    os.environ.get("HLF_REQUIRE_INSTALLED") != "1", reason="only under .ci/run, which tests the installed wheel"
)
def test_tests_use_installed_package():
    """.ci/run must test the wheel in .venv, not the source tree."""
    pkg = Path(resources.__file__).resolve().parent
    assert pkg.is_relative_to(Path(sys.prefix).resolve()), pkg
    assert not pkg.is_relative_to(REPO) or ".venv" in pkg.parts
    assert resources.templates_dir() == pkg / "_data" / "templates"
    assert resources.runtime_dir() == pkg / "_data" / "runtime"
    assert resources.toolchains_dir() == pkg / "_data" / "toolchains"


EXTRA_MODULES = {"torch": ("torch", "onnxscript"), "bench": ("tract", "matplotlib"), "accuracy": ("torch", "gensim")}


@pytest.mark.skipif(os.environ.get("HLF_REQUIRE_INSTALLED") != "1", reason="only under .ci/run")
def test_ci_installs_the_optional_extras():
    """CI installs hlfgen[test,torch,bench,accuracy] (tools/install.sh): the PyTorch export tests, the
    bench's baselines and the accuracy example must run there, not skip."""
    import importlib.util

    extras = os.environ.get("HLFGEN_EXTRAS", "test,torch,bench,accuracy").split(",")
    for extra in extras:
        for mod in EXTRA_MODULES.get(extra, ()):
            assert importlib.util.find_spec(mod) is not None, f"{mod} missing: tools/install.sh installs .[{extra}]"
