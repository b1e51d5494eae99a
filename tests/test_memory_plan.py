"""lower._plan_memory: arena placements never overlap while both tensors are live (fast tier).

The lifetimes are recomputed here from the IR's operation list (the producer's
step to the last reader's step; graph outputs live to the end), independently of
lower.py, and every pair of arena tensors whose lifetimes meet must occupy
disjoint float ranges.  Random chains and diamonds of elementwise operators and
reductions on the runtime data of an LSTM, several layers of them, random sizes.
"""

from __future__ import annotations

import numpy as np
import pytest

from hlfgen.ir import RecurrentLayer
from hlfgen.lower import lower, max_elems
from hlfgen.reader import read_model
from ops_graphs import G

UNARY = ("Relu", "Tanh", "Sigmoid", "Neg", "Abs")
BINARY = ("Add", "Mul", "Sub", "Max")


def _random_graph(seed: int, tmp_path):
    rng = np.random.default_rng(seed)
    g = G(seed=seed)
    live = [g.y]
    for _ in range(int(rng.integers(4, 14))):
        r = rng.random()
        if r < 0.45:
            live.append(g.op(str(rng.choice(UNARY)), live[int(rng.integers(len(live)))]))
        elif r < 0.85:
            a, b = (live[int(i)] for i in rng.integers(len(live), size=2))
            live.append(g.op(str(rng.choice(BINARY)), a, b))
        else:  # a second recurrent layer on an earlier tensor
            w = g.init("W2", rng.normal(0, 0.3, (1, 4 * 7, 7)))
            rr = g.init("R2", rng.normal(0, 0.3, (1, 4 * 7, 7)))
            y = g.op("LSTM", live[int(rng.integers(len(live)))], w, rr, hidden_size=7)
            live.append(g.op("Squeeze", y, g.const("ax", np.array([1], np.int64))))
    for t in rng.choice(live, size=min(len(live), int(rng.integers(1, 4))), replace=False):
        g.output(str(t))
    return read_model(
        g.save(tmp_path / f"plan{seed}.onnx"), batch=int(rng.integers(1, 4)), max_seq_len=int(rng.integers(1, 20))
    )


def _lifetimes(model) -> dict[str, tuple[int, int]]:
    """tensor -> (first step, last step) from the operation list; graph outputs live to the end."""
    first, last = {}, {}
    for s, op in enumerate(model.ops):
        if isinstance(op, RecurrentLayer):
            ins = [n for n in (op.x, op.seq_lens, op.initial_h, op.initial_c) if n]
            outs = [n for n in (op.y, op.y_h, op.y_c) if n]
        else:
            ins, outs = op.inputs, op.outputs
        for n in ins:
            last[n] = s
        for n in outs:
            first.setdefault(n, s)
            last[n] = max(last.get(n, s), s)
    for t in model.outputs:
        last[t.name] = len(model.ops)
    return {n: (first[n], last[n]) for n in first}


@pytest.mark.parametrize("seed", range(40))
def test_live_arena_tensors_never_overlap(seed, tmp_path):
    model = _random_graph(seed, tmp_path)
    prog = lower(model)
    life = _lifetimes(model)
    # a view (alias) shares its base's storage: its life extends the base's
    by_region: dict[tuple[str, int], list[str]] = {}
    for name, st in prog.storage.items():
        if st.kind == "arena":
            by_region.setdefault((st.c_name, st.offset), []).append(name)
    regions = []
    for (_, off), names in by_region.items():
        spans = [life[n] for n in names if n in life]
        if not spans:
            continue
        size = max(max_elems(model.tensors[n].shape, model.max_dims) for n in names)
        regions.append((off, off + size, min(a for a, _ in spans), max(b for _, b in spans), names))
        assert off + size <= prog.arena_floats, f"{names} past the arena's end"
    for i, (lo1, hi1, a1, b1, n1) in enumerate(regions):
        for lo2, hi2, a2, b2, n2 in regions[i + 1 :]:
            if a1 <= b2 and a2 <= b1:  # both live at some step
                assert hi1 <= lo2 or hi2 <= lo1, f"{n1} [{lo1},{hi1}) and {n2} [{lo2},{hi2}) overlap while live"
