"""Locate the data directories shipped with hlfgen.

A wheel install carries copies in ``hlfgen/_data/<name>`` (put there by the
top-level CMakeLists.txt); a source checkout has them at the repo root.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    data = _PKG / "_data"
    if data.is_dir():  # installed from a wheel
        return data / name
    return _PKG.parent / name  # source tree: repo root = parent of hlfgen/


def templates_dir() -> Path:
    """Jinja2 templates (``templates/``)."""
    return _find("templates")


def runtime_dir() -> Path:
    """Hand-written C runtime (``runtime/``)."""
    return _find("runtime")


def toolchains_dir() -> Path:
    """CMake toolchain files (``toolchains/``)."""
    return _find("toolchains")
