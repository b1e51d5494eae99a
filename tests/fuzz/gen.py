"""Random VALID models for the fuzzer: many independent recurrent layers per ONNX graph
(one build checks them all), every LSTM/GRU/RNN attribute and the weight structures of
tests/models.py (dense, HLF per gate / stacked, LMF, mixed, PyTorch reorder, split
factors, factors routed through Transpose/Reshape/...).

A case is (seed, index): ``case_config(seed, i)`` is a pure function, so a failing
case replays from its number alone.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

import models

KINDS = ("lstm", "gru", "rnn")
ACTS = [
    "Relu",
    "Tanh",
    "Sigmoid",
    "Affine",
    "LeakyRelu",
    "ThresholdedRelu",
    "ScaledTanh",
    "HardSigmoid",
    "Elu",
    "Softsign",
    "Softplus",
]
# Which activations take alpha / beta (the fuzzer always passes both lists in full).
TAKES = {
    "Affine": (1, 1),
    "LeakyRelu": (1, 0),
    "ThresholdedRelu": (1, 0),
    "ScaledTanh": (1, 1),
    "HardSigmoid": (1, 1),
    "Elu": (1, 0),
}


def _weights(rng, kind: str, hidden: int):
    G = models.NUM_GATES[kind]
    choice = rng.integers(0, 8)
    j = int(rng.integers(0, max(1, hidden // 2) + 1))
    k = int(rng.integers(1, max(2, hidden // 2) + 1))
    if choice == 0:
        return models.dense()
    if choice == 1:
        return models.hlf_per_gate(j, k)
    if choice == 2:
        return models.hlf_stacked(j, k)
    if choice == 3:
        return models.lmf(k)
    if choice == 4:
        return models.mixed(
            [None if rng.random() < 0.4 else (int(rng.integers(0, hidden // 2 + 1)), k) for _ in range(G)]
        )
    if choice == 5:
        return models.torch_reorder(j, k, per_gate=bool(rng.integers(0, 2)))
    if choice == 6:
        return models.split_factors(j, k)
    route = [str(r) for r in rng.choice(list(models.ROUTES), size=1, replace=False)]
    if "constant" in route:  # 'constant' must be the innermost step
        route.remove("constant")
        route.append("constant")
    return models.hlf_per_gate(j, k, route=tuple(route))


def case_config(seed: int, index: int) -> dict:
    """The random configuration of case `index` of run `seed` (everything but the batch and T)."""
    rng = np.random.default_rng([seed, index])
    kind = KINDS[int(rng.integers(0, 3))]
    hidden = int(rng.integers(1, 14))
    direction = ["forward", "reverse", "bidirectional"][int(rng.integers(0, 3))]
    D = 2 if direction == "bidirectional" else 1
    per = models.NUM_ACTS[kind]
    cfg = dict(
        kind=kind,
        input_size=int(rng.integers(1, 12)),
        hidden=hidden,
        direction=direction,
        layout=int(rng.integers(0, 2)),
        with_bias=bool(rng.random() < 0.8),
        bias_torch=bool(rng.random() < 0.2),
        seq_lens=bool(rng.random() < 0.4),
        initial_h=bool(rng.random() < 0.4),
        initial_c=bool(rng.random() < 0.4) and kind == "lstm",
        peepholes=bool(rng.random() < 0.4) and kind == "lstm",
        clip=float(rng.uniform(0.5, 3)) if rng.random() < 0.3 else None,
        input_forget=int(rng.random() < 0.3) if kind == "lstm" else 0,
        linear_before_reset=int(rng.random() < 0.5) if kind == "gru" else 0,
        weights=_weights(rng, kind, hidden),
        r_weights=_weights(rng, kind, hidden),
        outputs=tuple(o for o in models.STATE_OUTPUTS[kind] if rng.random() < 0.7) or ("Y",),
    )
    if rng.random() < 0.5:
        acts = [ACTS[int(i)] for i in rng.integers(0, len(ACTS), size=per * D)]
        na = sum(TAKES.get(a, (0, 0))[0] for a in acts)
        nb = sum(TAKES.get(a, (0, 0))[1] for a in acts)
        cfg.update(
            activations=acts,
            activation_alpha=[float(v) for v in rng.uniform(0.1, 1.5, na)] or None,
            activation_beta=[float(v) for v in rng.uniform(-0.5, 1.0, nb)] or None,
        )
    else:
        cfg.update(activations=None, activation_alpha=None, activation_beta=None)
    return cfg


def group_model(seed: int, cases: list[int], batch: int) -> tuple[onnx.ModelProto, dict[int, dict]]:
    """One ONNX graph holding the layers of `cases`, each with its own inputs c<i>_X, ... and outputs c<i>_Y, ..."""
    rng = np.random.default_rng([seed, 10**6 + cases[0]])
    g = models._Graph(14, rng)
    ginputs, goutputs, info = [], [], {}
    for ci in cases:
        cfg = case_config(seed, ci)
        kind, H, layout = cfg["kind"], cfg["hidden"], cfg["layout"]
        D = 2 if cfg["direction"] == "bidirectional" else 1
        p = f"c{ci}_"
        x_shape = ["T", batch, cfg["input_size"]] if layout == 0 else [batch, "T", cfg["input_size"]]
        st_shape = [D, batch, H] if layout == 0 else [batch, D, H]
        ginputs.append(helper.make_tensor_value_info(p + "X", TensorProto.FLOAT, x_shape))
        if cfg["seq_lens"]:
            ginputs.append(helper.make_tensor_value_info(p + "seq", TensorProto.INT32, [batch]))
        if cfg["initial_h"]:
            ginputs.append(helper.make_tensor_value_info(p + "h0", TensorProto.FLOAT, st_shape))
        if cfg["initial_c"]:
            ginputs.append(helper.make_tensor_value_info(p + "c0", TensorProto.FLOAT, st_shape))
        outs = models._layer(
            g,
            kind=kind,
            x=p + "X",
            input_size=cfg["input_size"],
            hidden=H,
            direction=cfg["direction"],
            batch=batch,
            layout=layout,
            weights=cfg["weights"],
            r_weights=cfg["r_weights"],
            with_bias=cfg["with_bias"],
            bias_torch=cfg["bias_torch"],
            seq_lens=p + "seq" if cfg["seq_lens"] else None,
            initial_h=p + "h0" if cfg["initial_h"] else None,
            initial_c=p + "c0" if cfg["initial_c"] else None,
            with_peepholes=cfg["peepholes"],
            clip=cfg["clip"],
            input_forget=cfg["input_forget"],
            activations=cfg["activations"],
            activation_alpha=cfg["activation_alpha"],
            activation_beta=cfg["activation_beta"],
            linear_before_reset=cfg["linear_before_reset"],
            outputs=cfg["outputs"],
            explicit_defaults=False,
            name=f"c{ci}",
        )
        node = g.nodes[-1]
        renamed = [p + o.split(".")[-1] if o else "" for o in outs]
        del node.output[:]
        node.output.extend(renamed)
        y_shape = ["T", D, batch, H] if layout == 0 else [batch, "T", D, H]
        for o in renamed:
            if o:
                goutputs.append(
                    helper.make_tensor_value_info(o, TensorProto.FLOAT, y_shape if o.endswith("_Y") else st_shape)
                )
        info[ci] = dict(cfg, node=node, D=D)
    graph = helper.make_graph(g.nodes, f"fuzz_{seed}_{cases[0]}", ginputs, goutputs, initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    return model, info


def random_feeds(model: onnx.ModelProto, info: dict, T: int, batch: int, seed: int) -> dict:
    """Feeds of every graph input, each drawn from its own case's stream (inputs are named c<case>_...),
    so a case replayed alone (HLF_FUZZ_CASES) sees exactly the data it saw in its group."""
    feeds = {}
    for gi in model.graph.input:
        rng = np.random.default_rng([seed, int(gi.name[1:].split("_")[0]), sum(gi.name.encode()), 7])
        dims = [T if (d.dim_param == "T") else d.dim_value for d in gi.type.tensor_type.shape.dim]
        if gi.type.tensor_type.elem_type == TensorProto.INT32:
            feeds[gi.name] = rng.integers(0, T + 1, size=dims).astype(np.int32)
        else:
            feeds[gi.name] = rng.normal(0, 1, size=dims).astype(np.float32)
    return feeds
