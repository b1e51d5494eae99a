"""Templates -> files: render the lowered program into a self-contained OUT/.

OUT/ holds everything needed to build on another machine: the generated C
(<name>.c, <name>.h, <name>_weights.h, <name>_run.c), CMakeLists.txt, a copy
of runtime/ (hand-written kernels, runner) and of toolchains/.

Weights go out in one of two formats (``hlfgen build --weights``):
  * ``c``:   static const arrays of float literals in <name>_weights.h
             (readable, any C compiler; slow to compile past a few MB);
  * ``bin``: the raw little-endian arrays in <name>_weights.bin, linked into
             read-only data by <name>_weights.S (``.incbin``, GNU assembler
             syntax: gcc and clang), and pointers into it in <name>_weights.h.
             A 650x650 LSTM's 13.5 MB builds in seconds instead of a minute.
  * ``auto`` (default): ``bin`` from BIN_THRESHOLD bytes of weights on.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import jinja2
import numpy as np

from . import __version__, cnames, config, namespace, resources
from .config import C_DTYPES, WEIGHT_FORMATS
from .ir import RecurrentLayer
from . import dims as D
from .lower import Program, max_elems, work_bytes

BIN_THRESHOLD = 1 << 20  # bytes of weights from which `auto` links a binary blob
BLOB_ALIGN = config.ALIGN_BYTES  # every array of the blob starts on a cache line (as HLF_ALIGNED(64) in C)


def _c_float(v: float) -> str:
    v = float(np.float32(v))
    if np.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    if np.isnan(v):
        return "NAN"
    s = f"{v:.9g}"
    if "e" not in s and "." not in s:
        s += ".0"
    return s + "f"


def _c_array(values, per_line: int = 8, fmt=_c_float) -> str:
    vals = [fmt(v) for v in values]
    lines = [", ".join(vals[i : i + per_line]) for i in range(0, len(vals), per_line)]
    return ",\n    ".join(lines)


def _file_sha256(path: str) -> str:
    """The SHA-256 of the model file, hex ("unknown" when there is no file)."""
    if not Path(path).is_file():
        return "unknown"
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_format(prog: Program, requested: str = "auto") -> str:
    """The format `requested` resolves to for this program: "c" or "bin"."""
    if requested not in WEIGHT_FORMATS:
        raise ValueError(f"unknown weights format {requested!r} (choose from {', '.join(WEIGHT_FORMATS)})")
    if requested == "auto":
        return "bin" if prog.weight_bytes >= BIN_THRESHOLD else "c"
    return requested


def _blob(prog: Program) -> tuple[bytes, list[dict]]:
    """The weight and index arrays laid out in one little-endian blob.

    Returns the bytes and, per array, symbol, C type, byte offset, element
    count and comment (for <name>_weights.h).
    """
    parts, entries, offset = [], [], 0
    le = {"float32": "<f4", "float16": "<u2", "int8": "i1"}  # little-endian element types
    arrays = [(w.symbol, w.ctype, np.asarray(w.data, le[w.dtype]), w.comment) for w in prog.weights]
    arrays += [
        (a.symbol, a.ctype, np.asarray(a.data, "<u4" if a.ctype == "uint32_t" else "<u2"), a.comment)
        for a in prog.index_arrays
    ]
    for symbol, ctype, data, comment in arrays:
        pad = -offset % BLOB_ALIGN
        parts.append(bytes(pad))
        offset += pad
        entries.append(dict(symbol=symbol, ctype=ctype, offset=offset, count=int(data.size), comment=comment))
        parts.append(data.tobytes())
        offset += data.nbytes
    return b"".join(parts), entries


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cfloat"] = _c_float
    env.filters["carray"] = _c_array
    env.filters["cint_array"] = lambda vs: _c_array(vs, 16, lambda v: str(int(v)))
    env.filters["ident"] = cnames.identifier
    env.filters["comment"] = cnames.comment  # any name or text inside /* ... */ (hlfgen/cnames.py)
    env.filters["cstr"] = cnames.c_string  # a name as a C string literal, quotes included
    env.filters["act"] = lambda a: a.name.lower()
    return env


def dim_printers(model) -> dict:
    """Functions the templates use to print extents (dims.Dim or int) for this model."""
    cname = {d.name: d.c_name for d in model.dims}
    index = {d.name: i for i, d in enumerate(model.dims)}
    NAME = model.name.upper()
    seq = model.seq_symbol

    def cdim(d) -> str:  # C expression in the generated functions (locals d_<c_name>)
        text = D.c_expr(d, lambda s: f"d_{cname[s]}")
        return text if isinstance(d, int) or D.as_symbol(d) else f"({text})"

    def size_expr(shape) -> str:  # a SIZE macro's body: parameter T (seq-only models) or dims
        if model.seq_only:
            name = lambda s: "(T)"  # noqa: E731
        else:
            name = lambda s: f"(dims)[{NAME}_DIM_{cname[s].upper()}]"  # noqa: E731
        return "((size_t)(" + ") * (size_t)(".join(D.c_expr(d, name) for d in shape) + "))" if shape else "((size_t)1)"

    def desc_dims(shape) -> tuple[str, str]:  # the runner's dims[] and sym[] of one tensor
        dims, syms = [], []
        for d in shape:
            lin = D.linear_in(d)
            if isinstance(d, int):
                dims.append(str(d)), syms.append("0")
            elif lin is not None:
                dims.append(str(-lin[0])), syms.append(str(index[lin[1]]))
            else:
                dims.append("HLF_DIM_EXPR"), syms.append("0")
        return ", ".join(dims) or "0", ", ".join(syms) or "0"

    def step_bounds() -> dict:
        return {**model.max_dims, **({seq: 1} if seq else {})}

    checks = {}
    for t in model.tensors.values():
        for d in t.shape:
            if isinstance(d, D.Dim) and not D.as_symbol(d):
                checks[str(d)] = d
    return dict(
        cdim=cdim,
        hdim=D.fmt_dim,
        size_expr=size_expr,
        desc_dims=desc_dims,
        max_elems=lambda shape: max_elems(shape, model.max_dims),
        step_elems=lambda shape: max_elems(shape, step_bounds()),
        dim_checks=[(cdim(d), D.dmax(d, model.max_dims)) for d in checks.values()],
        expr_shapes=lambda shape: any(isinstance(d, D.Dim) and D.linear_in(d) is None for d in shape),
    )


def _tensor_ptr(prog: Program, name: str | None) -> str:
    if not name:
        return "NULL"
    return prog.storage[name].c_name


def _arena_vars(prog: Program) -> list[tuple[str, int, str]]:
    """One pointer per arena region (aliases share the c_name)."""
    seen, out = set(), []
    for st in prog.storage.values():
        if st.kind == "arena" and st.c_name not in seen:
            seen.add(st.c_name)
            out.append((st.c_name, st.offset, st.name))
    return out


def _passthrough(prog: Program) -> list[tuple[int, int, object]]:
    """(output index, input index, TensorInfo) of graph outputs that are graph inputs (copied in forward())."""
    return [
        (i, prog.storage[t.name].index, t)
        for i, t in enumerate(prog.model.outputs)
        if prog.storage[t.name].kind == "input"
    ]


def _ctx_members(prog: Program) -> tuple[list[dict], int]:
    """The members of struct NAME_ctx (one model instance) and its size in bytes.

    Every member starts on an ALIGN_BYTES boundary (HLF_ALIGNED on each), so
    the size is the sum of the members' sizes rounded up to ALIGN_BYTES;
    model.c checks it against NAME_CTX_BYTES at compile time.  Zero-sized
    regions get one element (C has no empty arrays).
    """
    members = [
        dict(
            field="scratch",
            ctype="float",
            elems=prog.scratch_floats,
            size=4,
            comment="layer scratch (one layer runs at a time)",
        )
    ]
    if prog.arena_floats:
        members.append(
            dict(
                field="arena",
                ctype="float",
                elems=prog.arena_floats,
                size=4,
                comment="runtime tensors (lifetimes share space)",
            )
        )
    for lc in prog.layers:
        n = lc.layer.num_directions * lc.layer.batch * lc.layer.hidden
        members.append(dict(field=lc.state_h, ctype="float", elems=n, size=4, comment=f"layer {lc.index} h state"))
        if lc.state_c:
            members.append(dict(field=lc.state_c, ctype="float", elems=n, size=4, comment=f"layer {lc.index} c state"))
    if prog.counts_steps:
        members.append(
            dict(
                field="t_step",
                ctype="int32_t",
                elems=1,
                size=4,
                comment="steps since the last reset (NAME_step against sequence_lens)",
            )
        )
    for c_name, dtype, elems in prog.buffers:
        members.append(
            dict(
                field=c_name,
                ctype=config.DTYPES[dtype].ctype,
                elems=elems,
                size=config.DTYPES[dtype].size,
                comment=f"{dtype} tensor",
            )
        )
    align = config.ALIGN_BYTES
    total = 0
    for m in members:
        m["elems"] = max(1, int(m["elems"]))
        total += -(-m["elems"] * m["size"] // align) * align
    return members, total


def ctx_bytes(prog: Program) -> int:
    """NAME_CTX_BYTES: the bytes of one instance (recurrent state and working memory)."""
    return _ctx_members(prog)[1]


def _reset_ptr(prog: Program, name: str | None) -> str:
    """An initial state as reset() sees it: a graph input, a constant, or zeros."""
    if not name:
        return "NULL"
    st = prog.storage[name]
    if st.kind == "input":
        return f"(inputs ? (const float *)inputs[{st.index}] : NULL)"
    if st.kind == "const":
        return st.c_name
    return "NULL"


def render(prog: Program, out_dir: Path, target: str, weights: str = "auto") -> None:
    """Write all files of OUT/ into out_dir (which must exist and be empty).

    weights: auto|c|bin, the format of the weights (module docstring).
    """
    model = prog.model
    env = _env()
    name = model.name
    fmt = weights_format(prog, weights)
    blob, blob_entries = _blob(prog) if fmt == "bin" else (b"", [])
    printers = dim_printers(model)
    env.filters["cdim"] = printers["cdim"]
    env.filters["hdim"] = printers["hdim"]
    # The runtime first: its id (hlfgen/namespace.py) names the runtime's CMake target.
    shutil.copytree(resources.runtime_dir(), out_dir / "runtime", ignore=shutil.ignore_patterns("__pycache__", "*.o"))
    (out_dir / "runtime" / "hlf_config.h").write_text(config.config_header())  # from hlfgen/config.py
    ns_text, runtime_id, ns_names = namespace.render_header(
        out_dir / "runtime", prog.nr, "neon" if config.is_aarch64(target) else "scalar"
    )
    (out_dir / "runtime" / namespace.HEADER).write_text(ns_text)
    ctx_members, ctx_bytes = _ctx_members(prog)
    ctx = dict(
        prog=prog,
        model=model,
        name=name,
        NAME=name.upper(),
        target=target,
        ptr=lambda n: _tensor_ptr(prog, n),
        storage=prog.storage,
        floordiv_macro=D.C_FLOORDIV_MACRO,
        **printers,
        work_bytes=work_bytes(prog),
        c_dtype=lambda dt: C_DTYPES[dt][0],
        hlf_dtype=lambda dt: C_DTYPES[dt][1],
        is_layer=lambda op: isinstance(op, RecurrentLayer),
        ident=cnames.identifier,
        arena_vars=_arena_vars(prog),
        passthrough=_passthrough(prog),
        # NAME_INPUT_<x> / NAME_OUTPUT_<x>: unique even where names sanitize alike (cnames.macro_suffixes)
        macro_names={
            "inputs": cnames.macro_suffixes([t.name for t in model.inputs]),
            "outputs": cnames.macro_suffixes([t.name for t in model.outputs]),
        },
        reset_ptr=lambda n: _reset_ptr(prog, n),
        ctx_members=ctx_members,
        ctx_bytes=ctx_bytes,
        weights_format=fmt,
        blob_entries=blob_entries,
        blob_bytes=len(blob),
        # Provenance, the same wherever the model and OUT/ are: the file name only.
        source=cnames.comment(Path(model.source).name),  # printed inside /* comments */
        model_sha256=_file_sha256(model.source),
        hlfgen_version=__version__,
        runtime_id=runtime_id,
    )
    ctx["version_string"] = (
        f"{name}: hlfgen {__version__}, {Path(model.source).name} sha256:{ctx['model_sha256']}, target {target}"
    )
    files = {
        f"{name}.h": "model.h.j2",
        f"{name}.c": "model.c.j2",
        f"{name}_weights.h": "weights.h.j2",
        f"{name}_run.c": "runner.c.j2",
        "CMakeLists.txt": "CMakeLists.txt.j2",
    }
    if fmt == "bin":
        files[f"{name}_weights.S"] = "weights.S.j2"
        (out_dir / f"{name}_weights.bin").write_bytes(blob)
    for fname, tmpl in files.items():
        (out_dir / fname).write_text(env.get_template(tmpl).render(**ctx))
    namespace.check_no_clash(ns_names, (out_dir / f"{name}.h").read_text())
    shutil.copytree(resources.toolchains_dir(), out_dir / "toolchains")
