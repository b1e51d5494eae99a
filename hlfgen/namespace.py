"""The runtime's names in a generated project: runtime/hlf_namespace.h.

Every generated project copies the same hand-written runtime (runtime/), whose
functions are called ``hlf_*``.  Two projects linked into one program must not
share a symbol whose code differs between them (the panel width HLF_NR, the
kernel set), or the linker would keep one copy for both.  So every header of
runtime/ includes ``hlf_namespace.h`` before anything else, and the copy of
that header in a generated project #defines each ``hlf_*`` identifier of the
runtime to a name that says which runtime it is:

    #define hlf_gather_i64 HLF_RT_NAME(gather_i64)  -> hlf_3f9a0c12_scalar_gather_i64
    #define hlf_f32_gemv_acc HLF_NS_ISA(HLF_RT_NAME(f32_gemv_acc_16x1__))
                                                  -> hlf_3f9a0c12_scalar_f32_gemv_acc_16x1__scalar

``3f9a0c12`` (:func:`runtime_id`) hashes the runtime's sources and the panel
width: every model generated from the same runtime with the same panel width
gets the same names, so their runtime objects are the same objects.  A build
compiles them once per configuration (the CMake target ``hlf_<id>_<variant>``
of templates/CMakeLists.txt.j2, shared by the models of one CMake tree), ccache
reuses them across projects, and two such models linked into one program
share one copy.  ``scalar`` is the build's variant, HLF_RT_VARIANT (the kernel
set, or ``dispatch``), chosen by CMake when the project is configured: runtimes
of two variants differ in every name.

A kernel (a function defined in runtime/kernels/<what>-<isa>.c) also carries
its panel width (when its code depends on HLF_NR) and its ISA in its name, as
XNNPACK names its micro-kernels.  When several ISAs define a kernel, the one
compiled is chosen by the build (CMake HLF_KERNELS, passed as HLF_KERNEL_ISA).

The list is made by scanning the runtime sources when the project is
generated, so new runtime functions are namespaced without being listed
anywhere; only identifiers that are macros themselves are left alone.
Names made by token pasting cannot be scanned: build them with HLF_NS(x)
(x without the hlf_ prefix).  The runtime/hlf_namespace.h of the source tree
defines only HLF_NS: the runtime compiled on its own (the kernel tests) keeps
its hlf_* names.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

HEADER = "hlf_namespace.h"

_COMMENT_OR_STRING = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
_IDENT = re.compile(r"\bhlf_[a-z0-9_]*[a-z0-9]\b")
_MACRO = re.compile(r"^\s*#\s*define\s+(hlf_\w+)", re.M)
_DEFINITION = re.compile(r"^(?!static\b)[A-Za-z_][\w \t*]*?\b(hlf_\w+)\s*\(", re.M)
_KERNEL_MACRO = re.compile(r"\bHLF_KERNEL\(\s*(?:hlf_)?(\w+)\s*\)\s*\(")  # HLF_KERNEL(f32_x)(...) defines hlf_f32_x


def _code(path: Path) -> str:
    """The file without comments and string literals (which the preprocessor leaves alone)."""
    return _COMMENT_OR_STRING.sub(" ", path.read_text(encoding="utf-8"))


def runtime_id(runtime: Path, nr: int) -> str:
    """8 hex digits naming a runtime: its sources (hlf_namespace.h aside) and the panel width."""
    h = hashlib.sha256(f"nr={nr}\0".encode())
    for path in sorted(p for p in runtime.rglob("*") if p.is_file() and p.name != HEADER):
        h.update(path.relative_to(runtime).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:8]


def runtime_names(runtime: Path, nr: int) -> dict[str, str]:
    """hlf_* identifier -> its name in a generated project: a C expression of the
    header's macros (HLF_RT_NAME adds the runtime's prefix, HLF_NS_ISA a kernel's ISA)."""
    idents: set[str] = set()
    macros: set[str] = set()
    kernels: dict[str, tuple[set[str], bool]] = {}  # name -> (ISAs defining it, uses HLF_NR)
    for path in sorted(runtime.rglob("*")):
        if path.suffix not in (".c", ".h") or path.name == HEADER:
            continue
        code = _code(path)
        idents.update(_IDENT.findall(code))
        macros.update(_MACRO.findall(code))
        if path.parent.name == "kernels" and path.suffix == ".c":
            isa = path.stem.rsplit("-", 1)[-1]
            for fn in _DEFINITION.findall(code) + ["hlf_" + s for s in _KERNEL_MACRO.findall(code)]:
                isas, uses_nr = kernels.setdefault(fn, (set(), False))
                isas.add(isa)
                kernels[fn] = (isas, uses_nr or "HLF_NR" in code)
    names = {}
    for ident in sorted(idents - macros):
        base = ident[len("hlf_") :]
        if ident in kernels:
            isas, uses_nr = kernels[ident]
            base += f"_{nr}x1__" if uses_nr else "__"
            if len(isas) == 1:
                names[ident] = f"HLF_RT_NAME({base}{next(iter(isas))})"
            else:
                names[ident] = f"HLF_NS_ISA(HLF_RT_NAME({base}))"
        else:
            names[ident] = f"HLF_RT_NAME({base})"
    return names


def render_header(runtime: Path, nr: int, default_isa: str) -> tuple[str, str, dict[str, str]]:
    """The text of a project's hlf_namespace.h, the runtime's id (:func:`runtime_id`) and
    the mapping the header defines."""
    rid = runtime_id(runtime, nr)
    names = runtime_names(runtime, nr)
    lines = [
        "/*",
        f" * {HEADER} - the runtime's names, generated by hlfgen (hlfgen/namespace.py):",
        f" * every hlf_* identifier of runtime/ becomes hlf_{rid}_<variant>_<name>.",
        f" * {rid} names this runtime (its sources, {nr}-row panels): models generated",
        " * with the same runtime share these objects, in one build and in one program.",
        " * A kernel's name also carries its panel width (HLF_NR rows x 1 column) and ISA.",
        " */",
        "#ifndef HLF_NAMESPACE_H",
        "#define HLF_NAMESPACE_H",
        "",
        "/* The kernel set compiled (CMake HLF_KERNELS). */",
        "#ifndef HLF_KERNEL_ISA",
        f"#define HLF_KERNEL_ISA {default_isa}",
        "#endif",
        "/* The runtime's variant: the kernel set, or dispatch (CMake HLF_RT_VARIANT). */",
        "#ifndef HLF_RT_VARIANT",
        f"#define HLF_RT_VARIANT {default_isa}",
        "#endif",
        "#define HLF_NS_CAT_(a, b) a##b",
        "#define HLF_NS_CAT(a, b) HLF_NS_CAT_(a, b)",
        "#define HLF_NS_ISA(base) HLF_NS_CAT(base, HLF_KERNEL_ISA)",
        f"#define HLF_RT_PREFIX HLF_NS_CAT(hlf_{rid}_, HLF_RT_VARIANT)",
        "/* x is pasted unexpanded: a runtime name is never read as a macro of a system header. */",
        "#define HLF_RT_NAME(x) HLF_NS_CAT(HLF_RT_PREFIX, _##x)",
        "/* HLF_NS(x): the runtime's name x, for names made by token pasting (hlf_##x alone). */",
        "#define HLF_NS(x) HLF_RT_NAME(x)",
        "",
    ]
    lines += [f"#define {ident} {mapped}" for ident, mapped in names.items()]
    lines += ["", "#endif /* HLF_NAMESPACE_H */", ""]
    return "\n".join(lines), rid, names


def check_no_clash(names: dict[str, str], public: str) -> None:
    """Fail loudly if an identifier of the model's API (NAME.h) is one the header renames:
    NAME.c includes both, and the macro would rename the API function too."""
    api = set(re.findall(r"\b\w+\b", _COMMENT_OR_STRING.sub(" ", public)))
    clash = sorted(api & set(names))
    if clash:
        raise RuntimeError(f"the model's C API uses names of the runtime: {', '.join(clash)}")
