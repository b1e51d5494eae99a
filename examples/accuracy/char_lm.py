#!/usr/bin/env python3
"""The paper's accuracy claim, reproduced small: a character-level LSTM language model.

Trains, on CPU, embedding -> 1-layer LSTM -> linear head on the news text that
gensim ships (``gensim/test/test_data/lee_background.cor``, the Lee corpus,
300 documents, 360 KB; gensim is located, never imported, and nothing is
downloaded at run time) under five schemes with the same seed, optimizer,
learning-rate schedule, batches and number of steps:

* dense           nn.LSTM, hidden H, uncompressed;
* small baseline  nn.LSTM with the hidden size reduced until the whole model
                  (embedding + LSTM + head) holds no more parameters than the
                  HLF model (paper §4: "a smaller baseline with the number of
                  parameters equal to that of the compressed baseline");
* LMF             HLFLSTM with j = 0: every gate block is U·V of rank
                  hlf.lmf_rank (the largest rank within the budget);
* HLF             HLFLSTM(compression=cf, k=1): j from Eq. 4 (hlf.hlf_j_for);
* pruning         nn.LSTM with gradual magnitude pruning (Zhu & Gupta 2017
                  schedule, per matrix) to exactly HLF's number of weights per
                  matrix, then fine-tuned with the mask fixed.

Compression applies to the LSTM's input and recurrent weight matrices
(``weight_ih_l0``, ``weight_hh_l0``), per gate block; the embedding, the biases
and the head are left as they are (the paper does not compress embeddings
either).  The table reports validation perplexity per character (and bits per
character) on held-out documents, the LSTM weight parameters (non-zeros for
pruning), their compression against the dense LSTM, the maximum rank per gate
block and the parameters of the whole model.

The trained HLF model (embedding + LSTM + head, token ids in, logits out) is
then exported with ``hlfgen.torch.export``, compiled with hlfgen and compared
with onnxruntime on held-out text (``hlfgen.check.check``).

Quantized weights (first seed; ``--no-quant`` skips it): the trained dense and
HLF models are exported whole, built for the host with ``hlfgen.compile(...,
quantize="none"|"fp16"|"int8")`` and scored on the validation text (the
evaluation streams, cut into windows of ``--eval-chunk`` characters, each run
from the zero state through the compiled model's ``run``; cross-entropy of its
logits in numpy).  The table gives each build's bpc and its change against the
same model's fp32 build; the fp32 build must match PyTorch's bpc on the same
windows within 1e-4 bpc (else the exit status is 1).

    python examples/accuracy/char_lm.py                       # full run, ~3 min on 2 idle cores
    python examples/accuracy/char_lm.py --quick               # smoke run, ~1 min on 2 busy cores
    python examples/accuracy/char_lm.py --seeds 0,1,2 --compression 2.5,5   # docs/accuracy.md
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# An installed hlfgen wins; otherwise the source tree this example lives in.
if importlib.util.find_spec("hlfgen") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

CORPUS_PACKAGE = "gensim"
CORPUS_FILE = "test/test_data/lee_background.cor"
SCHEMES = ("dense", "small baseline", "LMF", "HLF", "pruning")
COMPRESSED = ("small baseline", "LMF", "HLF", "pruning")


# ---------------------------------------------------------------- data

def find_corpus() -> Path | None:
    """The Lee corpus inside the installed gensim package (located, never imported)."""
    spec = importlib.util.find_spec(CORPUS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        p = Path(root) / CORPUS_FILE
        if p.is_file():
            return p
    return None


def load_text(path: Path, val_fraction: float) -> tuple[str, str]:
    """Train / validation text, split by whole documents (one per line): the last ones are held out."""
    docs = [d.strip() for d in path.read_text(encoding="utf-8", errors="replace").splitlines() if d.strip()]
    n_val = max(1, round(len(docs) * val_fraction))
    return "\n".join(docs[:-n_val]) + "\n", "\n".join(docs[-n_val:]) + "\n"


class Vocab:
    """Characters seen in training; anything else maps to slot 0 ('<unk>')."""

    def __init__(self, text: str):
        self.chars = ["<unk>"] + sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.index.get(c, 0) for c in text], np.int64)


# ---------------------------------------------------------------- model

def model_params(vocab: int, embed: int, hidden: int) -> int:
    """Parameters of the dense model: embedding, LSTM weights and biases, head."""
    return vocab * embed + 4 * hidden * (embed + hidden) + 8 * hidden + hidden * vocab + vocab


def small_hidden_for(vocab: int, embed: int, budget: int) -> int:
    """Largest hidden size h whose whole dense model fits in ``budget`` parameters."""
    h = 1
    while model_params(vocab, embed, h + 1) <= budget:
        h += 1
    return h


def build_model(torch, nn, scheme: str, vocab: int, embed: int, hidden: int, cf, k: int):
    """Embedding -> LSTM (dense, or HLF / LMF factored) -> Linear; ``hidden`` is the LSTM's size."""
    from hlfgen.hlf import lmf_rank
    from hlfgen.torch import HLFLSTM, TORCH_GATES, HLFWeight

    if scheme in ("dense", "small baseline", "pruning"):
        rnn = nn.LSTM(embed, hidden)
    elif scheme == "LMF":
        # j = 0: every gate block is U·V; the input and recurrent blocks differ in n when
        # embed != hidden, so each matrix gets its own rank (the largest within the budget).
        r_ih, r_hh = lmf_rank(hidden, embed, cf), lmf_rank(hidden, hidden, cf)
        rnn = HLFLSTM(embed, hidden, j=0, k=r_hh)
        if r_ih != r_hh:
            gates = TORCH_GATES["LSTM"]
            rnn.weight_ih_l0 = HLFWeight(4 * hidden, embed, gates, True, [(0, r_ih)] * len(gates))
            rnn.reset_parameters()
    elif scheme == "HLF":
        rnn = HLFLSTM(embed, hidden, compression=cf, k=k)
    else:
        raise ValueError(scheme)

    class CharLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, embed)
            self.rnn = rnn
            self.head = nn.Linear(hidden, vocab)

        def forward(self, ids):  # [T, B] token ids -> [T, B, V] logits
            y, _ = self.rnn(self.embed(ids))
            return self.head(y)

        def forward_state(self, ids, state=None):
            y, state = self.rnn(self.embed(ids), state)
            return self.head(y), state

    return CharLM()


LSTM_WEIGHTS = ("weight_ih_l0", "weight_hh_l0")


def lstm_weight_info(torch, model) -> tuple[int, str]:
    """(non-zero parameters in the LSTM weight matrices, max rank per gate block) of a model."""
    from hlfgen.torch import HLFLSTM

    rnn = model.rnn
    if isinstance(rnn, HLFLSTM):
        params = sum(w.params for w in rnn.hlf_weights().values())
        ranks = {min(b.j + b.k, b.m, b.n) for w in rnn.hlf_weights().values() for b in w.gates.values()}
    else:
        h = rnn.hidden_size
        mats = [getattr(rnn, n).detach() for n in LSTM_WEIGHTS]
        params = sum(int((m != 0).sum()) for m in mats)
        ranks = {int(torch.linalg.matrix_rank(m[g * h:(g + 1) * h])) for m in mats for g in range(4)}
    return params, "/".join(map(str, sorted(ranks)))


# ---------------------------------------------------------------- pruning

def prune_masks(torch, rnn, keep: dict[str, int], fraction: float) -> dict:
    """Per-matrix magnitude masks keeping numel - fraction·(numel - keep) largest weights (tensors by name)."""
    masks = {}
    for name, want in keep.items():
        w = getattr(rnn, name).detach()
        n_keep = w.numel() - int(round(fraction * (w.numel() - want)))
        idx = torch.argsort(w.abs().flatten(), descending=True, stable=True)[:n_keep]
        m = torch.zeros(w.numel(), dtype=w.dtype)
        m[idx] = 1.0
        masks[name] = m.view_as(w)
    return masks


def zhu_gupta(step: int, start: int, end: int) -> float:
    """Fraction of the final sparsity at ``step``: 1 - (1 - progress)^3 (Zhu & Gupta 2017)."""
    if step < start:
        return 0.0
    if step >= end:
        return 1.0
    return 1.0 - (1.0 - (step - start) / (end - start)) ** 3


def apply_masks(torch, rnn, masks) -> None:
    with torch.no_grad():
        for name, m in masks.items():
            getattr(rnn, name).mul_(m)


# ---------------------------------------------------------------- training

@dataclass
class Result:
    scheme: str
    compression_target: str  # "-" for dense
    seed: int
    hidden: int
    lstm_params: int          # LSTM weight matrices (non-zeros for pruning)
    compression: float        # dense LSTM weights / lstm_params (Eq. 4 for LMF / HLF)
    rank: str                 # maximum rank per gate block
    total_params: int         # whole model (non-zeros for pruning)
    train_loss: float         # nats/char, mean over the last 10% of steps
    val_ppl: float
    val_bpc: float
    train_s: float
    state_dict: str = ""      # saved weights (with --out)
    note: str = ""


@dataclass
class Data:
    train: np.ndarray
    val: np.ndarray
    vocab: int


def evaluate(torch, F, model, val: np.ndarray, streams: int, chunk: int) -> float:
    """Mean cross-entropy (nats/char) over the validation text, read as ``streams`` parallel
    streams in chunks with the state carried over (every character but the first of a stream counts)."""
    n = (len(val) - 1) // streams
    x = torch.from_numpy(val[: n * streams].reshape(streams, n).T.copy())
    y = torch.from_numpy(val[1: n * streams + 1].reshape(streams, n).T.copy())
    model.eval()
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for t in range(0, n, chunk):
            logits, state = model.forward_state(x[t:t + chunk], state)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[t:t + chunk].reshape(-1),
                                     reduction="sum").item()
            count += y[t:t + chunk].numel()
    model.train()
    return total / count


def train_one(torch, nn, F, scheme: str, args, data: Data, seed: int, cf, hidden: int,
              prune_to: dict[str, int] | None = None):
    """Train one scheme; the batches, optimizer and schedule depend only on ``args`` and ``seed``."""
    torch.manual_seed(seed)
    model = build_model(torch, nn, scheme, data.vocab, args.embed, hidden, cf, args.k)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.steps
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    gen = torch.Generator().manual_seed(seed)  # the same batches for every scheme
    data_t = torch.from_numpy(data.train)
    L, B = args.bptt, args.batch
    masks: dict = {}
    p_start, p_end = int(0.2 * steps), int(0.7 * steps)
    p_every = max(1, (p_end - p_start) // 16)
    losses = []
    t0 = time.perf_counter()
    for step in range(steps):
        if scheme == "pruning" and p_start <= step <= p_end and (step - p_start) % p_every == 0:
            masks = prune_masks(torch, model.rnn, prune_to, zhu_gupta(step, p_start, p_end))
            apply_masks(torch, model.rnn, masks)
        starts = torch.randint(0, len(data.train) - L - 1, (B,), generator=gen)
        chunk = data_t[starts[None, :] + torch.arange(L + 1)[:, None]]  # [L+1, B]
        logits = model(chunk[:-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        sched.step()
        apply_masks(torch, model.rnn, masks)
        losses.append(loss.item())
        if args.verbose and (step + 1) % max(1, steps // 10) == 0:
            print(f"    {scheme:<15} step {step + 1:>5}/{steps}  train loss {loss.item():.3f}", flush=True)
    if scheme == "pruning":  # the final mask: exactly HLF's count per matrix
        apply_masks(torch, model.rnn, prune_masks(torch, model.rnn, prune_to, 1.0))
    train_s = time.perf_counter() - t0
    nll = evaluate(torch, F, model, data.val, args.eval_streams, args.eval_chunk)
    params, rank = lstm_weight_info(torch, model)
    dense_lstm = 4 * args.hidden * (args.embed + args.hidden)
    total = sum(p.numel() for p in model.parameters())
    if scheme == "pruning":
        total -= sum(getattr(model.rnn, n).numel() for n in LSTM_WEIGHTS) - params
    note = {"pruning": "non-zeros; sparse storage also needs indices",
            "small baseline": "hidden reduced to match HLF's whole-model parameters"}.get(scheme, "")
    tail = losses[-max(1, steps // 10):]
    res = Result(scheme, "-" if scheme == "dense" else str(args.compression_of[cf]), seed, hidden, params,
                 dense_lstm / params, rank, total, sum(tail) / len(tail), math.exp(nll), nll / math.log(2),
                 train_s, note=note)
    return res, model


def hlf_per_matrix(model) -> dict[str, int]:
    """Parameters of each LSTM weight matrix of an HLF model (the pruning targets)."""
    return {i["name"]: i["params"] for i in model.rnn.hlf_info()}


def save_state(torch, model, res: Result, out: Path | None) -> None:
    if out is None:
        return
    tag = "dense" if res.scheme == "dense" else f"cf{res.compression_target}_{res.scheme.replace(' ', '_')}"
    path = out / f"seed{res.seed}_{tag}.pt"
    torch.save(model.state_dict(), path)
    res.state_dict = str(path)


# ---------------------------------------------------------------- export + parity

def export_and_check(torch, model, val: np.ndarray, path: Path, seq_len: int) -> dict:
    """Export the trained HLF model, compile it with hlfgen, compare with onnxruntime on held-out text."""
    from hlfgen.check import check
    from hlfgen.errors import HlfgenError
    from hlfgen.torch import export

    model.eval()
    ids = torch.from_numpy(val[:seq_len].reshape(seq_len, 1).copy())
    result = {"path": str(path), "seq_len": seq_len, "ok": False, "max_abs": None, "max_rel": None,
              "oracle": None, "error": None}
    try:
        info = export(model, (ids,), path, output_names=["logits"])
        if info is not None and info.get("compiler_error"):
            raise HlfgenError(info["compiler_error"])
        report = check(path, inputs={"X": ids.numpy()})
    except HlfgenError as e:
        result["error"] = str(e)
        print(f"  hlfgen could not compile the exported model: {e}", flush=True)
        return result
    print(f"  exported Embedding -> HLFLSTM -> Linear to {path}", flush=True)
    print("  " + report.format().replace("\n", "\n  "), flush=True)
    result.update(ok=report.ok, oracle=report.oracle, max_abs=max(r.max_abs for r in report.rows),
                  max_rel=max(r.max_rel for r in report.rows))
    return result


# ---------------------------------------------------------------- quantized weights

QUANT_MODES = (("fp32", "none"), ("fp16", "fp16"), ("int8", "int8"))  # (label, hlfgen --quantize)
QUANT_TORCH_TOL = 1e-4  # |bpc(compiled fp32) - bpc(PyTorch)| allowed, bits per character


def eval_windows(val: np.ndarray, streams: int, window: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The validation text as ``streams`` parallel streams (as ``evaluate`` reads it), cut into
    windows of ``window`` characters: (ids [T, streams], next characters [T, streams]) pairs.
    Each window is read from the zero state (the compiled model's ``run``), every position counts."""
    n = (len(val) - 1) // streams
    x = val[: n * streams].reshape(streams, n).T
    y = val[1: n * streams + 1].reshape(streams, n).T
    return [(np.ascontiguousarray(x[t:t + window]), np.ascontiguousarray(y[t:t + window]))
            for t in range(0, n, window)]


def cross_entropy_sum(logits: np.ndarray, targets: np.ndarray) -> float:
    """Sum over positions of -log softmax(logits)[target] (nats), in float64."""
    z = logits.reshape(-1, logits.shape[-1]).astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(z)), targets.reshape(-1)].sum())


def quantized_rows(torch, model, label: str, windows, path: Path) -> tuple[list[dict], dict]:
    """Export ``model`` whole (token ids in, logits out), compile it with hlfgen for the host in fp32,
    fp16 and int8 (``hlfgen.compile(..., quantize=...)``) and score each build on ``windows``.
    Returns the rows (bpc of the compiled model, change against the fp32 build) and PyTorch's
    bpc on the same windows (the oracle of the fp32 row)."""
    import hlfgen
    from hlfgen.errors import HlfgenError
    from hlfgen.inspect import storage
    from hlfgen.torch import export

    model.eval()
    count = sum(y.size for _, y in windows)
    with torch.no_grad():
        torch_nats = sum(cross_entropy_sum(model(torch.from_numpy(x)).numpy(), y) for x, y in windows)
    torch_bpc = torch_nats / count / math.log(2)
    window = max(len(x) for x, _ in windows)
    info = export(model, (torch.from_numpy(windows[0][0]),), path, output_names=["logits"])
    if info is not None and info.get("compiler_error"):
        raise HlfgenError(info["compiler_error"])
    rows: list[dict] = []
    for dtype, mode in QUANT_MODES:
        t0 = time.perf_counter()
        # One C name for every build: ccache keys the runtime's objects on it, so only the first
        # build ever compiles the runtime (about 15 s on 2 busy cores); the later ones take ~1 s.
        compiled = hlfgen.compile(path, max_seq_len=window, quantize=mode, name="char_lm")
        t1 = time.perf_counter()
        nats = sum(cross_entropy_sum(compiled.run(X=x)["logits"], y) for x, y in windows)
        t2 = time.perf_counter()
        del compiled
        bpc = nats / count / math.log(2)
        base = rows[0]["bpc"] if rows else bpc
        rows.append({"scheme": label, "dtype": dtype, "quantize": mode,
                     "weight_bytes": storage(path, mode)["weight_bytes"], "chars": count,
                     "bpc": bpc, "ppl": 2.0 ** bpc, "delta_bpc": bpc - base,
                     "delta_ppl_pct": 100.0 * (2.0 ** (bpc - base) - 1.0),
                     "compile_s": t1 - t0, "eval_s": t2 - t1})
    oracle = {"scheme": label, "torch_bpc": torch_bpc, "fp32_minus_torch": rows[0]["bpc"] - torch_bpc,
              "ok": abs(rows[0]["bpc"] - torch_bpc) <= QUANT_TORCH_TOL}
    model.train()
    return rows, oracle


def format_quant_table(rows: list[dict]) -> str:
    head = (f"{'scheme':<12} {'dtype':>7} {'weight bytes':>12} {'x fp32':>6} {'val bpc':>8} "
            f"{'d bpc':>9} {'val ppl':>8} {'d ppl':>7} {'build s':>7}")
    lines = [head, "-" * len(head)]
    fp32 = {r["scheme"]: r for r in rows if r["dtype"] == "fp32"}
    for r in rows:
        f = fp32[r["scheme"]]
        lines.append(f"{r['scheme']:<12} {r['dtype']:>7} {r['weight_bytes']:>12} "
                     f"{r['weight_bytes'] / f['weight_bytes']:>6.3f} {r['bpc']:>8.4f} {r['delta_bpc']:>+9.5f} "
                     f"{r['ppl']:>8.3f} {r['delta_ppl_pct']:>+6.3f}% {r['compile_s']:>7.1f}")
    return "\n".join(lines)


# ---------------------------------------------------------------- tables

def format_table(results: list[Result]) -> str:
    head = (f"{'scheme':<15} {'hidden':>6} {'LSTM weights':>12} {'compr':>6} {'rank/block':>10} "
            f"{'all params':>10} {'train nll':>9} {'val ppl':>8} {'val bpc':>8} {'train s':>8}  note")
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(f"{r.scheme:<15} {r.hidden:>6} {r.lstm_params:>12} {r.compression:>6.2f} {r.rank:>10} "
                     f"{r.total_params:>10} {r.train_loss:>9.4f} {r.val_ppl:>8.3f} {r.val_bpc:>8.4f} "
                     f"{r.train_s:>8.1f}  {r.note}")
    return "\n".join(lines)


def summarize(results: list[Result], cf_label: str) -> list[dict]:
    """Mean and spread over seeds of one compression target (dense included)."""
    rows = []
    for s in SCHEMES:
        rs = [r for r in results if r.scheme == s and r.compression_target in ("-", cf_label)]
        if not rs:
            continue
        bpc = [r.val_bpc for r in rs]
        ppl = [r.val_ppl for r in rs]
        rows.append({"scheme": s, "seeds": len(rs), "lstm_params": rs[0].lstm_params,
                     "compression": rs[0].compression, "total_params": rs[0].total_params, "rank": rs[0].rank,
                     "ppl_mean": statistics.fmean(ppl), "bpc_mean": statistics.fmean(bpc),
                     "bpc_min": min(bpc), "bpc_max": max(bpc),
                     "bpc_sd": statistics.stdev(bpc) if len(bpc) > 1 else 0.0})
    return rows


def format_summary(rows: list[dict]) -> str:
    head = (f"{'scheme':<15} {'LSTM weights':>12} {'compr':>6} {'rank/block':>10} {'all params':>10} "
            f"{'ppl mean':>8} {'bpc mean':>8} {'bpc sd':>7} {'bpc min..max':>15}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['scheme']:<15} {r['lstm_params']:>12} {r['compression']:>6.2f} {r['rank']:>10} "
                     f"{r['total_params']:>10} {r['ppl_mean']:>8.3f} {r['bpc_mean']:>8.4f} {r['bpc_sd']:>7.4f} "
                     f"{r['bpc_min']:>7.4f}..{r['bpc_max']:.4f}")
    return "\n".join(lines)


def verdicts(rows: list[dict]) -> list[str]:
    """'HLF beats X' lines on the mean validation perplexity over seeds."""
    by = {r["scheme"]: r for r in rows}
    if "HLF" not in by:
        return []
    h = by["HLF"]
    out = []
    for other in ("LMF", "small baseline", "pruning", "dense"):
        if other in by:
            o = by[other]
            word = "beats" if h["ppl_mean"] < o["ppl_mean"] else "does not beat"
            out.append(f"HLF {word} {other}: {h['ppl_mean']:.3f} vs {o['ppl_mean']:.3f} ppl "
                       f"({100 * (o['ppl_mean'] - h['ppl_mean']) / o['ppl_mean']:+.2f}% relative)")
    return out


# ---------------------------------------------------------------- main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="0", help="comma-separated seeds; each trains every scheme (default 0)")
    p.add_argument("--compression", default="2.5",
                   help="comma-separated compression targets of the LSTM weight matrices (Eq. 4), e.g. 2.5,5")
    p.add_argument("--k", type=int, default=1, help="HLF k (rank-1 blocks per gate block); j from Eq. 4")
    p.add_argument("--schemes", default=",".join(SCHEMES),
                   help="comma-separated subset of: " + ", ".join(SCHEMES) + " (HLF is always trained: "
                        "it sets the budgets of the others)")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--steps", type=int, default=1500, help="optimizer steps, the same for every scheme")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--bptt", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--eval-streams", type=int, default=16)
    p.add_argument("--eval-chunk", type=int, default=256)
    p.add_argument("--corpus", type=Path, help="a text file (one document per line) instead of the Lee corpus")
    p.add_argument("--out", type=Path, help="directory for the state dicts and the exported ONNX "
                                            "(default: a temporary one, deleted)")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--no-export", action="store_true",
                   help="skip the export / hlfgen parity step and the quantized builds")
    p.add_argument("--no-quant", action="store_true",
                   help="skip the fp32 / fp16 / int8 builds of the dense and HLF models (validation bpc "
                        "of the compiled models)")
    p.add_argument("--quick", action="store_true", help="smoke run (~1 min): small model, few steps, less text")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.hidden, args.embed, args.steps, args.batch, args.bptt = 32, 16, 60, 16, 32
        args.eval_streams, args.eval_chunk = 4, 64
    args.seed_list = [int(s) for s in args.seeds.split(",") if s.strip()]
    args.cf_labels = [c.strip() for c in args.compression.split(",") if c.strip()]
    args.scheme_list = [s.strip() for s in args.schemes.split(",") if s.strip()]
    unknown = sorted(set(args.scheme_list) - set(SCHEMES))
    if unknown:
        p.error(f"unknown scheme(s) {unknown}; choose from {', '.join(SCHEMES)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import torch
        import torch.nn.functional as F
        from torch import nn
    except ImportError:
        print("needs PyTorch: pip install 'hlfgen[torch]'", file=sys.stderr)
        return 2
    from hlfgen.hlf import hlf_j_for, lmf_rank, parse_cf

    corpus = args.corpus or find_corpus()
    if corpus is None:
        print(f"corpus not found: pip install {CORPUS_PACKAGE} (it ships {CORPUS_FILE}) or pass --corpus",
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    t_start = time.perf_counter()

    train_text, val_text = load_text(Path(corpus), args.val_fraction)
    if args.quick:
        train_text, val_text = train_text[:40000], val_text[:4000]
    vocab = Vocab(train_text)
    data = Data(vocab.encode(train_text), vocab.encode(val_text), len(vocab))
    cfs = [parse_cf(c) for c in args.cf_labels]
    args.compression_of = dict(zip(cfs, args.cf_labels))
    H, E = args.hidden, args.embed
    print(f"corpus: {corpus} ({len(train_text)} train / {len(val_text)} validation characters, "
          f"vocab {len(vocab)})")
    print(f"model: Embedding({len(vocab)}, {E}) -> LSTM(hidden {H}) -> Linear({H}, {len(vocab)}); "
          f"seeds {args.seed_list}; {args.steps} steps of {args.batch} x {args.bptt} chars; Adam lr {args.lr} "
          f"cosine, clip {args.clip}; torch {torch.__version__}, {args.threads} threads")
    for cf, label in zip(cfs, args.cf_labels):
        print(f"compression {label} of the LSTM weight matrices (dense {4 * H * (E + H)} weights): "
              f"LMF rank {lmf_rank(H, E, cf)} (input) / {lmf_rank(H, H, cf)} (recurrent) per gate block; "
              f"HLF k={args.k}, j={hlf_j_for(H, E, args.k, cf)} (input) / {hlf_j_for(H, H, args.k, cf)} "
              f"(recurrent) per gate block (Eq. 4)", flush=True)

    tmp = None
    out = args.out
    if out is None:
        tmp = tempfile.TemporaryDirectory(prefix="hlfgen-accuracy-")
        out = Path(tmp.name)
    out.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    parity: list[dict] = []
    quant: list[dict] = []
    quant_oracle: list[dict] = []
    quant_on = not (args.no_export or args.no_quant)
    windows = eval_windows(data.val, args.eval_streams, args.eval_chunk)

    def add_quant(model, label: str, path: Path) -> None:
        rows, oracle = quantized_rows(torch, model, label, windows, path)
        quant.extend(rows)
        quant_oracle.append(oracle)
        print(f"  {label}: compiled fp32 {rows[0]['bpc']:.6f} bpc, PyTorch {oracle['torch_bpc']:.6f} "
              f"(difference {oracle['fp32_minus_torch']:+.1e}, tolerance {QUANT_TORCH_TOL:g}: "
              f"{'ok' if oracle['ok'] else 'FAIL'}); fp16 {rows[1]['delta_bpc']:+.5f}, "
              f"int8 {rows[2]['delta_bpc']:+.5f} bpc", flush=True)

    try:
        for seed in args.seed_list:
            print(f"\n== seed {seed}", flush=True)
            if "dense" in args.scheme_list:
                res, model = train_one(torch, nn, F, "dense", args, data, seed, None, H)
                save_state(torch, model, res, args.out)
                results.append(res)
                print(f"  dense: val ppl {res.val_ppl:.3f} ({res.val_bpc:.4f} bpc), {res.train_s:.1f} s",
                      flush=True)
                if seed == args.seed_list[0] and quant_on:
                    print("\nfp32 / fp16 / int8 builds of the trained dense model:", flush=True)
                    add_quant(model, "dense", out / f"char_lm_dense_batch{args.eval_streams}.onnx")
            for cf, label in zip(cfs, args.cf_labels):
                # HLF first: its parameter counts set the budgets of the small baseline and pruning.
                res, hlf_model = train_one(torch, nn, F, "HLF", args, data, seed, cf, H)
                save_state(torch, hlf_model, res, args.out)
                runs = [res]
                small_h = small_hidden_for(len(vocab), E, res.total_params)
                for scheme, hidden in (("LMF", H), ("small baseline", small_h), ("pruning", H)):
                    if scheme not in args.scheme_list:
                        continue
                    r, m = train_one(torch, nn, F, scheme, args, data, seed, cf, hidden,
                                     prune_to=hlf_per_matrix(hlf_model))
                    save_state(torch, m, r, args.out)
                    runs.append(r)
                for r in runs:
                    print(f"  cf {label} {r.scheme}: val ppl {r.val_ppl:.3f} ({r.val_bpc:.4f} bpc), "
                          f"{r.lstm_params} LSTM weights, {r.train_s:.1f} s", flush=True)
                results.extend(runs)
                if seed == args.seed_list[0] and not args.no_export:
                    print(f"\nexport + hlfgen parity of the trained HLF model (cf {label}, seed {seed}):",
                          flush=True)
                    p = export_and_check(torch, hlf_model, data.val, out / f"char_lm_hlf_cf{label}.onnx",
                                         64 if args.quick else 128)
                    parity.append({"compression_target": label, "seed": seed, **p})
                    print(f"parity: {'PASS' if p['ok'] else 'FAIL'}", flush=True)
                if seed == args.seed_list[0] and quant_on:
                    print(f"\nfp32 / fp16 / int8 builds of the trained HLF model (cf {label}):", flush=True)
                    if parity[-1]["ok"]:
                        add_quant(hlf_model, f"HLF cf {label}",
                                  out / f"char_lm_hlf_cf{label}_batch{args.eval_streams}.onnx")
                    else:
                        print("  skipped: the fp32 build failed its parity check", flush=True)

        summaries = {}
        for label in args.cf_labels:
            print()
            for seed in args.seed_list:
                rows = [r for s in SCHEMES for r in results
                        if r.scheme == s and r.seed == seed and r.compression_target in ("-", label)]
                print(f"Validation perplexity per character (lower is better), compression {label}, seed {seed}")
                print(format_table(rows))
                print()
            summaries[label] = summarize(results, label)
            if len(args.seed_list) > 1:
                print(f"Mean over seeds {args.seed_list}, compression {label}")
                print(format_summary(summaries[label]))
            for line in verdicts(summaries[label]):
                print(line)
        if quant:
            n_win = len(windows)
            print(f"\nCompiled models (hlfgen.compile, host) with quantized weights, seed {args.seed_list[0]}: "
                  f"validation bpc on {quant[0]['chars']} characters ({args.eval_streams} streams x "
                  f"{n_win} windows of <= {args.eval_chunk}, each from the zero state); d = change against "
                  f"the same model's fp32 build; weight bytes: all weights of the build")
            print(format_quant_table(quant))
            for o in quant_oracle:
                print(f"{o['scheme']}: PyTorch {o['torch_bpc']:.6f} bpc on the same windows, compiled fp32 "
                      f"{o['fp32_minus_torch']:+.1e} ({'ok' if o['ok'] else 'FAIL'}, tolerance {QUANT_TORCH_TOL:g})")
        total_s = time.perf_counter() - t_start
        print(f"total time {total_s:.1f} s")
        if args.json:
            args.json.write_text(json.dumps({
                "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                         if k != "compression_of"},
                "corpus": str(corpus), "vocab": len(vocab), "train_chars": len(train_text),
                "val_chars": len(val_text), "results": [asdict(r) for r in results],
                "summary": summaries, "parity": parity,
                "quantized": {"streams": args.eval_streams, "window": args.eval_chunk,
                              "torch_tol": QUANT_TORCH_TOL, "rows": quant, "oracle": quant_oracle},
                "total_s": total_s}, indent=2))
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0 if all(p["ok"] for p in parity) and all(o["ok"] for o in quant_oracle) else 1


if __name__ == "__main__":
    sys.exit(main())
