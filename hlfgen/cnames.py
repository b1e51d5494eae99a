"""The one place where ONNX names become C: identifiers, comments, string literals, file names.

ONNX names are arbitrary strings ("/lstm/LSTM_output_0", "h:n", "a*/b", "x??/",
"two\\nlines").  Generated C and the runner's files must never contain them raw:
  * identifier(text)  a C identifier (model names, default OUT/ file names);
  * comment(text)     text safe inside /* ... */ (no "*/", "/*", trigraph "??",
                      control characters): templates' ``| comment`` filter;
  * c_string(text)    a C string literal with its quotes, same bytes as the
                      name in UTF-8 (``| cstr``);
  * file_stem(name)   the runner's file name for an output, DIR/<stem>.npy;
  * output_stems(names)  the stems of all outputs, made unique (rule below).

The runner (runtime/hlf_runner.c) implements file_stem and output_stems in C;
tests/test_cnames.py checks both agree.
"""

from __future__ import annotations

import re
from pathlib import Path

# Names that would clash with system libraries (lib<name>.a), C keywords, or
# standard headers (<name>.h would hide <time.h>, <math.h>, ...).
RESERVED_NAMES = {
    "m",
    "c",
    "dl",
    "rt",
    "pthread",
    "main",
    "model",
    "int",
    "float",
    "void",
    "static",
    "const",
    "assert",
    "complex",
    "ctype",
    "errno",
    "fenv",
    "inttypes",
    "iso646",
    "limits",
    "locale",
    "math",
    "setjmp",
    "signal",
    "stdalign",
    "stdarg",
    "stdatomic",
    "stdbool",
    "stddef",
    "stdint",
    "stdio",
    "stdlib",
    "stdnoreturn",
    "string",
    "tgmath",
    "threads",
    "time",
    "uchar",
    "wchar",
    "wctype",
}

# Bytes an output's file stem keeps; every other byte (UTF-8) becomes '_'.
FILE_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
# Appended to a stem shared by several outputs: '~' never survives file_stem, so
# "<stem>~<output index>" cannot equal another output's stem.
DUPLICATE_MARK = "~"


def identifier(text: str) -> str:
    """A C identifier made from a file name or tensor name."""
    ident = re.sub(r"[^0-9A-Za-z_]", "_", text)
    if not ident or ident[0].isdigit():
        ident = "m_" + ident
    return ident


def usable_model_name(name: str) -> bool:
    """Whether --name can be the model's C prefix (and file names)."""
    return name.isidentifier() and name.isascii() and name not in RESERVED_NAMES and not name.startswith("hlf_")


def model_name(path) -> str:
    """Default model name: a C identifier from the file name, never a reserved one."""
    ident = identifier(Path(path).name.split(".")[0])
    return ident + "_model" if ident in RESERVED_NAMES or ident.startswith("hlf_") else ident


def comment(text: object) -> str:
    """Text that can stand inside a C block comment (and print on one line)."""
    s = "".join(ch if ch >= " " and ch != "\x7f" else " " for ch in str(text))
    s = s.replace("*/", "* /").replace("/*", "/ *")
    while "??" in s:  # trigraphs (C99 mode translates them even in comments: ??/ is a backslash)
        s = s.replace("??", "? ?")
    return s


def c_string(text: object) -> str:
    """A C string literal (quotes included) holding the UTF-8 bytes of text."""
    data = str(text).encode("utf-8", "surrogateescape")
    out = []
    for i, b in enumerate(data):
        ch = chr(b)
        if ch == "\\" or ch == '"':
            out.append("\\" + ch)
        elif ch == "?":
            out.append("\\?")  # no trigraph can form
        elif ch == "/" and ((i > 0 and data[i - 1] == 0x2A) or (i + 1 < len(data) and data[i + 1] == 0x2A)):
            out.append("\\057")  # keeps "*/" and "/*" out of the source, whatever scans it
        elif 0x20 <= b < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{b:03o}")  # three octal digits: the next character cannot extend the escape
    return '"' + "".join(out) + '"'


def file_stem(name: str) -> str:
    """The runner's file name (without .npy) for a tensor: bytes outside [A-Za-z0-9._-] become '_'."""
    return "".join(chr(b) if b in FILE_SAFE else "_" for b in name.encode("utf-8", "surrogateescape"))


def output_stems(names: list[str]) -> list[str]:
    """File stems of the graph outputs, in order, all different.

    Rule: file_stem(name); when several outputs share that stem, each of them
    gets "~<its output index>" appended (e.g. "h_n" and "h:n" as outputs 0
    and 1 write h_n~0.npy and h_n~1.npy).
    """
    stems = [file_stem(n) for n in names]
    return [s + f"{DUPLICATE_MARK}{i}" if stems.count(s) > 1 else s for i, s in enumerate(stems)]


def macro_suffixes(names: list[str]) -> list[str]:
    """Upper-case C identifiers for a list of tensor names (NAME_INPUT_<suffix>), all different.

    Rule: identifier(name).upper(), with "_" appended when it ends in "_SIZE"
    (NAME_INPUT_<x>_SIZE(T) is the size macro of <x>); names that share it get
    "_<index>" appended (repeated until no two are equal), e.g. "h_n", "h:n" ->
    H_N_0, H_N_1.
    """
    out = [identifier(n).upper() for n in names]
    out = [s + "_" if s.endswith("_SIZE") else s for s in out]
    while len(set(out)) < len(out):
        out = [s + f"_{i}" if out.count(s) > 1 else s for i, s in enumerate(out)]
    return out
