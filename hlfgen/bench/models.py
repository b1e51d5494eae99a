"""Sizes, compression factors and the ONNX models of `hlfgen bench`; fingerprints of builds; variants."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from hlfgen.config import QUANTIZE_MODES

STEPS = 35  # PTB-medium's unrolled length: T = 35, batch 1
# Instruction counts run T = 16 steps (the binaries are the T <= 35 ones): qemu time is linear in the
# steps, and per-step counts at T = 16 are within 1.2 % of T = 35 (lstm512 dense 841001 vs 851823,
# HLF CF 2.5 368908 vs 373222: the GEMM of the input projection handles a remainder of T mod 8).
INSN_STEPS = 16
MODELS_VERSION = "1"  # bump when make_model changes: the ONNX files of an earlier run are then rebuilt
CFS = ("2.5", "10/3", "5")
SCHEMES = ("dense", "small", "lmf", "hlf", "pruned")
PRUNED_MODES = ("auto", "csr", "block")
QUANT_MODES = QUANTIZE_MODES  # --quantize: weight storage of the dense and HLF builds (docs/quantization.md)


@dataclass(frozen=True)
class Size:
    name: str
    kind: str
    input_size: int
    hidden: int
    direction: str = "forward"
    layers: int = 1

    @property
    def label(self) -> str:
        bi = "bi" if self.direction == "bidirectional" else ""
        stack = f" x {self.layers} layers" if self.layers > 1 else ""
        return f"{bi}{self.kind.upper()} {self.hidden}{stack}"


SIZES = {
    s.name: s
    for s in (
        Size("lstm650x2", "lstm", 650, 650, layers=2),
        Size("lstm512", "lstm", 512, 512),
        Size("bilstm256", "lstm", 256, 256, "bidirectional"),
        Size("lstm128", "lstm", 128, 128),
        Size("gru650x2", "gru", 650, 650, layers=2),
        Size("gru512", "gru", 512, 512),
        Size("bigru256", "gru", 256, 256, "bidirectional"),
        Size("gru128", "gru", 128, 128),
    )
}
QUICK_SIZES = ("lstm128",)
QUICK_CFS = ("2.5",)


def cf_label(cf: str | None) -> str:
    if cf is None:
        return "1"
    f = Fraction(cf)
    return f"{float(f):.3g}" if f.denominator != 1 else str(f.numerator)


def cf_slug(cf: str) -> str:
    return cf_label(cf).replace(".", "p")


# ---------------------------------------------------------------------------
# Fingerprints: a build is reused when its model file and hlfgen are unchanged
# ---------------------------------------------------------------------------


def _hash_tree(h, root: Path, suffixes=(".py", ".c", ".h", ".j2", ".cmake", ".txt"), skip=()) -> None:
    for p in sorted(root.rglob("*")):
        if (
            p.is_file()
            and p.suffix in suffixes
            and "__pycache__" not in p.parts
            and p.relative_to(root).parts[0] not in skip
        ):
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())


def hlfgen_fingerprint() -> str:
    from hlfgen import resources

    h = hashlib.sha256()
    _hash_tree(h, Path(__file__).resolve().parent.parent, skip=(Path(__file__).parent.name,))  # bench/ makes no C
    for d in (resources.runtime_dir(), resources.templates_dir(), resources.toolchains_dir()):
        _hash_tree(h, Path(d))
    for tool in ("gcc", "aarch64-linux-gnu-gcc"):
        h.update(
            subprocess.run([tool, "--version"], capture_output=True, text=True).stdout.encode()
            if shutil.which(tool)
            else b"-"
        )
    return h.hexdigest()[:16]


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


def _prefixed(model, prefix: str, rename_io: dict[str, str]):
    """Copies of the graph's nodes and initializers with every internal name prefixed."""
    import copy

    g = model.graph
    names = {t.name for t in g.initializer} | {o for n in g.node for o in n.output}

    def ren(x: str) -> str:
        if x in rename_io:
            return rename_io[x]
        return prefix + x if x in names else x

    nodes = []
    for n in g.node:
        n = copy.deepcopy(n)
        n.input[:] = [ren(x) if x else x for x in n.input]
        n.output[:] = [ren(x) if x else x for x in n.output]
        n.name = prefix + n.name
        nodes.append(n)
    inits = []
    for t in g.initializer:
        t = copy.deepcopy(t)
        t.name = ren(t.name)
        inits.append(t)
    return nodes, inits


def stack_layers(m1, m2, kind: str):
    """Two single-layer example models as one 2-layer model: m1's Y (squeezed) feeds m2's X."""
    import onnx
    from onnx import helper, numpy_helper

    n1, i1 = _prefixed(m1, "l0.", {"Y": "l0.Y", "Y_h": "l0.Y_h", "Y_c": "l0.Y_c"})
    n2, i2 = _prefixed(m2, "l1.", {"X": "l1.X", "Y": "Y", "Y_h": "Y_h", "Y_c": "Y_c"})
    rec = next(n for n in n1 if n.op_type in ("LSTM", "GRU", "RNN"))
    del rec.output[1:]  # layer 0's final states are not graph outputs
    axes = numpy_helper.from_array(np.array([1], np.int64), "l0.squeeze_axes")
    squeeze = helper.make_node("Squeeze", ["l0.Y", "l0.squeeze_axes"], ["l1.X"], name="l0.squeeze")
    x = m1.graph.input[0]
    outs = [o for o in m2.graph.output]
    graph = helper.make_graph(
        n1 + [squeeze] + n2, f"hlfgen_bench_{kind}_2layers", [x], outs, initializer=i1 + [axes] + i2
    )
    model = helper.make_model(
        graph, opset_imports=list(m1.opset_import), producer_name="hlfgen", ir_version=m1.ir_version
    )
    props = {p.key: p.value for p in m1.metadata_props}
    helper.set_model_props(model, props)
    model.doc_string = "2 layers: " + m1.doc_string + " | " + m2.doc_string
    onnx.checker.check_model(model)
    return model


def small_hidden_stacked(input_size: int, hidden: int, layers: int, cf: str) -> int:
    """Largest h with the W+R parameters of `layers` layers of hidden h <= those of hidden H / CF."""
    dense = hidden * (input_size + hidden) + (layers - 1) * hidden * 2 * hidden
    budget = Fraction(dense) / Fraction(cf)
    h = hidden
    while h > 1 and h * (input_size + h) + (layers - 1) * 2 * h * h > budget:
        h -= 1
    return h


def make_model(size: Size, scheme: str, cf: str | None, k: int, path: Path) -> None:
    """The ONNX file of one (size, scheme, CF): hlfgen.example's schemes, stacked for 2 layers."""
    import onnx

    from hlfgen.example import make_example_model

    cfv = cf or "1"
    common = dict(kind=size.kind, direction=size.direction, k=k)
    if size.layers == 1:
        m = make_example_model(
            input_size=size.input_size, hidden_size=size.hidden, compression=cfv, seed=0, scheme=scheme, **common
        )
    elif size.layers == 2:
        if scheme == "small":  # one h for both layers, over the parameters of both
            h = small_hidden_stacked(size.input_size, size.hidden, 2, cfv)
            m1 = make_example_model(input_size=size.input_size, hidden_size=h, seed=0, scheme="dense", **common)
            m2 = make_example_model(input_size=h, hidden_size=h, seed=1, scheme="dense", **common)
        else:
            m1 = make_example_model(
                input_size=size.input_size, hidden_size=size.hidden, compression=cfv, seed=0, scheme=scheme, **common
            )
            m2 = make_example_model(
                input_size=size.hidden, hidden_size=size.hidden, compression=cfv, seed=1, scheme=scheme, **common
            )
        m = stack_layers(m1, m2, size.kind)
    else:
        raise ValueError(f"{size.name}: {size.layers} layers not supported")
    onnx.checker.check_model(m)
    tmp = path.with_suffix(".tmp")
    onnx.save(m, tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# Variants: what is built and timed for each size
# ---------------------------------------------------------------------------


@dataclass
class Variant:
    size: str
    scheme: str  # dense small lmf hlf hlf-k<K> pruned
    cf: str | None
    k: int
    modes: tuple[str, ...] = ("auto",)
    # weight storage (QUANT_MODES); not in the repr: the repr stamps the ONNX file, which a quantized build shares
    quantize: str = field(default="none", repr=False)

    @property
    def model_key(self) -> str:
        """The ONNX file's name: the fp32 and quantized builds of a model read the same file."""
        return f"{self.size}_{self.scheme}" + (f"_cf{cf_slug(self.cf)}" if self.cf else "")

    @property
    def key(self) -> str:
        return self.model_key + ("" if self.quantize == "none" else f"_{self.quantize}")


def variants(sizes, cfs, ks, quantize=("none",)) -> list[Variant]:
    """Every variant of each size; the dense and HLF ones also once per quantized mode in `quantize`."""
    quant = [q for q in QUANT_MODES if q in quantize and q != "none"]
    bad = set(quantize) - set(QUANT_MODES)
    if bad:
        raise ValueError(f"unknown --quantize {', '.join(sorted(bad))} (choose from {', '.join(QUANT_MODES)})")
    out = []
    for s in sizes:
        out.append(Variant(s, "dense", None, 1))
        out += [Variant(s, "dense", None, 1, quantize=q) for q in quant]
        for cf in cfs:
            out.append(Variant(s, "small", cf, 1))
            out.append(Variant(s, "lmf", cf, 1))
            for k in ks:
                hlf = "hlf" if k == 1 else f"hlf-k{k}"
                out.append(Variant(s, hlf, cf, k))
                out += [Variant(s, hlf, cf, k, quantize=q) for q in quant]
            out.append(Variant(s, "pruned", cf, 1, PRUNED_MODES))
    return out


def log(msg: str) -> None:
    """A time-stamped progress line on stderr (all of the bench's modules log through this)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
