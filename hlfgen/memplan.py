"""The memory plan: runtime tensors get offsets in one arena (float), reused when lifetimes do
not overlap (first fit over the tensors live at the same time); graph inputs and outputs use the
caller's buffers, constants their arrays, views their base's storage, integer tensors their own
buffers.  tests/test_memory_plan.py checks that no two live tensors share floats.
"""

from __future__ import annotations


from .ir import Node, RecurrentLayer
from .program import Program, TensorStorage, _align, max_elems


# ------------------------------------------------------------------ memory plan
def _plan_memory(prog: Program) -> None:
    model = prog.model
    T = model.max_dims
    st = prog.storage
    for i, t in enumerate(model.inputs):
        st[t.name] = TensorStorage(t.name, f"in{i}", "input", index=i, dtype=t.dtype, dims=t.shape)
    out_index = {t.name: i for i, t in enumerate(model.outputs)}
    for name, arr in model.constants.items():
        sym = f"const{len(prog.const_arrays)}"
        prog.const_arrays.append((sym, "int32_t" if arr.dtype.kind in "iu" else "float", arr.reshape(-1).tolist()))
        st[name] = TensorStorage(name, sym, "const", dtype=str(arr.dtype), dims=arr.shape)

    # Lifetimes of arena tensors: [producer step, last consumer step].
    def reads(op):
        if isinstance(op, RecurrentLayer):
            return [n for n in (op.x, op.seq_lens, op.initial_h, op.initial_c) if n]
        return op.inputs

    def writes(op):
        if isinstance(op, RecurrentLayer):
            return [n for n in (op.y, op.y_h, op.y_c) if n]
        return op.outputs

    alias: dict[str, str] = {}
    for op in model.ops:
        if isinstance(op, Node) and op.alias and op.outputs[0] not in out_index:
            alias[op.outputs[0]] = alias.get(op.inputs[0], op.inputs[0])
    life: dict[str, list[int]] = {}
    for s, op in enumerate(model.ops):
        for n in writes(op):
            root = alias.get(n, n)
            if root in st:  # a view of a graph input or constant: that storage, nothing to place
                continue
            life.setdefault(root, [s, s])
        for n in reads(op):
            root = alias.get(n, n)
            if root in life:
                life[root][1] = s
    for n in list(out_index):
        root = alias.get(n, n)
        if root in life:
            life[root][1] = len(model.ops)

    placed: list[tuple[int, int, int, int]] = []  # (offset, size, start, end)
    arena = 0
    for root, (a, b) in sorted(life.items(), key=lambda kv: kv[1][0]):
        if root in out_index:
            i = out_index[root]
            st[root] = TensorStorage(
                root, f"out{i}", "output", index=i, dtype=model.tensors[root].dtype, dims=model.tensors[root].shape
            )
            continue
        if model.tensors[root].dtype != "float32":  # the arena is float: an integer tensor has its own buffer
            c_name = f"b_{len(prog.buffers)}"  # its own counter: unique whatever else is named
            prog.buffers.append((c_name, model.tensors[root].dtype, max_elems(model.tensors[root].shape, T)))
            st[root] = TensorStorage(
                root, c_name, "buffer", dtype=model.tensors[root].dtype, dims=model.tensors[root].shape
            )
            continue
        size = _align(max_elems(model.tensors[root].shape, T))
        busy = sorted((o, o + sz) for o, sz, s0, s1 in placed if not (s1 < a or s0 > b))
        off = 0
        for lo, hi in busy:
            if off + size <= lo:
                break
            off = max(off, hi)
        placed.append((off, size, a, b))
        arena = max(arena, off + size)
        st[root] = TensorStorage(root, f"t_{len(st)}", "arena", offset=off, dims=model.tensors[root].shape)
    for n, root in alias.items():
        if root in st:
            base = st[root]
            st[n] = TensorStorage(
                n, base.c_name, base.kind, base.index, base.offset, base.dtype, model.tensors[n].shape
            )
    prog.arena_floats = arena
