#!/usr/bin/env python3
"""The paper's accuracy claim, reproduced small: a character-level LSTM language model.

Trains, on CPU, embedding -> 1-layer LSTM -> linear head on the news text that
gensim ships (``gensim/test/test_data/lee_background.cor``, the Lee corpus,
~360 KB; nothing is downloaded at run time) under five schemes with the same
seed, optimizer, learning-rate schedule, batches and number of steps:

* dense           nn.LSTM, hidden H, uncompressed;
* small baseline  nn.LSTM with the hidden size reduced until its LSTM weight
                  matrices hold no more parameters than HLF's (paper §4);
* LMF             HLFLSTM with j = 0 and rank r = hlf.lmf_rank (every gate block);
* HLF             HLFLSTM(compression=cf, k=1): j from Eq. 4 (hlf.hlf_j_for);
* pruning         nn.LSTM with gradual magnitude pruning (Zhu & Gupta 2017
                  schedule, per matrix) to exactly HLF's number of weights,
                  then fine-tuned with the mask fixed.

Compression applies to the LSTM's input and recurrent weight matrices
(``weight_ih_l0``, ``weight_hh_l0``); the embedding, the biases and the head
are left as they are (the paper does not compress embeddings either).  The
table reports validation perplexity per character (and bits per character) on
held-out documents, the LSTM weight parameters (non-zeros for pruning), their
compression against the dense LSTM, and the maximum rank per gate block.

The trained HLF model (embedding + LSTM + head, token ids in, logits out) is
then exported with ``hlfgen.torch.export``, compiled with hlfgen and compared
with onnxruntime on held-out text (``hlfgen.check.check``).

    python examples/accuracy/char_lm.py            # full run, ~5-10 min on 2 cores
    python examples/accuracy/char_lm.py --quick    # tiny smoke run, < 60 s
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
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
    """Characters seen in training; anything else maps to the rarest-character slot 0 ('<unk>')."""

    def __init__(self, text: str):
        self.chars = ["<unk>"] + sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.index.get(c, 0) for c in text], np.int64)


# ---------------------------------------------------------------- model

def build_model(torch, nn, scheme: str, vocab: int, embed: int, hidden: int, cf, k: int, small_hidden: int):
    from hlfgen.hlf import lmf_rank
    from hlfgen.torch import HLFLSTM, TORCH_GATES, HLFWeight

    if scheme in ("dense", "pruning"):
        rnn, h = nn.LSTM(embed, hidden), hidden
    elif scheme == "small baseline":
        rnn, h = nn.LSTM(embed, small_hidden), small_hidden
    elif scheme == "LMF":
        # j = 0: every gate block is U·V of rank lmf_rank(m, n, cf); the input and recurrent blocks
        # differ in n when embed != hidden, so each matrix gets its own rank.
        r_ih, r_hh = lmf_rank(hidden, embed, cf), lmf_rank(hidden, hidden, cf)
        rnn, h = HLFLSTM(embed, hidden, j=0, k=r_hh), hidden
        if r_ih != r_hh:
            gates = TORCH_GATES["LSTM"]
            rnn.weight_ih_l0 = HLFWeight(4 * hidden, embed, gates, True, [(0, r_ih)] * len(gates))
            rnn.reset_parameters()
    elif scheme == "HLF":
        rnn, h = HLFLSTM(embed, hidden, compression=cf, k=k), hidden
    else:
        raise ValueError(scheme)

    class CharLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, embed)
            self.rnn = rnn
            self.head = nn.Linear(h, vocab)

        def forward(self, ids):  # [T, B] token ids -> [T, B, V] logits
            y, _ = self.rnn(self.embed(ids))
            return self.head(y)

        def forward_state(self, ids, state=None):
            y, state = self.rnn(self.embed(ids), state)
            return self.head(y), state

    return CharLM()


def lstm_weight_info(model) -> tuple[int, str]:
    """(parameters in the LSTM weight matrices, max rank per gate block) of a model."""
    from hlfgen.torch import HLFLSTM

    rnn = model.rnn
    if isinstance(rnn, HLFLSTM):
        params = sum(w.params for w in rnn.hlf_weights().values())
        ranks = sorted({min(b.j + b.k, b.m, b.n) for w in rnn.hlf_weights().values() for b in w.gates.values()})
        return params, "/".join(map(str, ranks))
    params = rnn.weight_ih_l0.numel() + rnn.weight_hh_l0.numel()
    return params, "/".join(map(str, sorted({min(rnn.hidden_size, rnn.input_size), rnn.hidden_size})))


def small_hidden_for(embed: int, budget: int) -> int:
    """Largest hidden h whose LSTM weights 4h·(embed + h) fit in budget."""
    h = 1
    while 4 * (h + 1) * (embed + h + 1) <= budget:
        h += 1
    return h


# ---------------------------------------------------------------- pruning

def prune_masks(torch, rnn, keep: dict[str, int], fraction: float) -> dict[str, "torch.Tensor"]:
    """Per-matrix magnitude masks keeping numel - fraction·(numel - keep) largest weights."""
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


# ---------------------------------------------------------------- training

@dataclass
class Result:
    scheme: str
    hidden: int
    lstm_params: int
    compression: float
    rank: str
    total_params: int
    val_ppl: float
    val_bpc: float
    train_s: float
    note: str = ""


def evaluate(torch, F, model, val: np.ndarray, streams: int, chunk: int) -> float:
    """Mean cross-entropy (nats/char) over the validation text, as ``streams`` parallel
    streams read in chunks with the state carried over (every character but the first counts)."""
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


def train_one(torch, nn, F, scheme: str, args, data, cf, budget_per_matrix: dict[str, int] | None,
              small_hidden: int, dense_params: int) -> tuple[Result, object, dict[str, int]]:
    train, val, vocab = data
    torch.manual_seed(args.seed)
    model = build_model(torch, nn, scheme, vocab, args.embed, args.hidden, cf, args.k, small_hidden)
    params, rank = lstm_weight_info(model)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.steps
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    gen = torch.Generator().manual_seed(args.seed)  # same batches for every scheme
    data_t = torch.from_numpy(train)
    L, B = args.bptt, args.batch
    masks: dict[str, torch.Tensor] = {}
    keep = budget_per_matrix or {}
    p_start, p_end = int(0.2 * steps), int(0.7 * steps)
    p_every = max(1, (p_end - p_start) // 16)
    t0 = time.perf_counter()
    for step in range(steps):
        if scheme == "pruning" and p_start <= step <= p_end and (step - p_start) % p_every == 0:
            masks = prune_masks(torch, model.rnn, keep, zhu_gupta(step, p_start, p_end))
            with torch.no_grad():
                for name, m in masks.items():
                    getattr(model.rnn, name).mul_(m)
        starts = torch.randint(0, len(train) - L - 1, (B,), generator=gen)
        idx = starts[None, :] + torch.arange(L + 1)[:, None]  # [L+1, B]
        chunk = data_t[idx]
        logits = model(chunk[:-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        sched.step()
        if masks:
            with torch.no_grad():
                for name, m in masks.items():
                    getattr(model.rnn, name).mul_(m)
        if args.verbose and (step + 1) % max(1, steps // 10) == 0:
            print(f"    {scheme:<15} step {step + 1:>5}/{steps}  train loss {loss.item():.3f}", flush=True)
    if scheme == "pruning":  # the final mask: exactly HLF's count per matrix
        masks = prune_masks(torch, model.rnn, keep, 1.0)
        with torch.no_grad():
            for name, m in masks.items():
                getattr(model.rnn, name).mul_(m)
        params = sum(int((getattr(model.rnn, n) != 0).sum()) for n in keep)
        w = {n: getattr(model.rnn, n).detach() for n in keep}
        rank = "/".join(map(str, sorted({int(torch.linalg.matrix_rank(m[g * args.hidden:(g + 1) * args.hidden]))
                                         for m in w.values() for g in range(4)})))
    train_s = time.perf_counter() - t0
    nll = evaluate(torch, F, model, val, args.eval_streams, args.eval_chunk)
    total = sum(p.numel() for p in model.parameters())
    if scheme == "pruning":
        total -= sum(getattr(model.rnn, n).numel() for n in keep) - params
    note = {"pruning": "non-zeros; sparse storage also needs indices",
            "small baseline": f"hidden {small_hidden}"}.get(scheme, "")
    res = Result(scheme, model.rnn.hidden_size, params, dense_params / params, rank, total,
                 math.exp(nll), nll / math.log(2), train_s, note)
    per_matrix = {}
    if scheme == "HLF":
        per_matrix = {i["name"]: i["params"] for i in model.rnn.hlf_info()}
    return res, model, per_matrix


# ---------------------------------------------------------------- export + parity

def export_and_check(torch, model, val: np.ndarray, out_dir: Path, seq_len: int) -> dict:
    """Export the trained HLF model, compile it with hlfgen, compare with onnxruntime on held-out text."""
    from hlfgen.check import check
    from hlfgen.errors import HlfgenError
    from hlfgen.torch import export

    model.eval()
    ids = torch.from_numpy(val[:seq_len].reshape(seq_len, 1).copy())
    path = out_dir / "char_lm_hlf.onnx"
    what = "whole model (Embedding -> HLFLSTM -> Linear)"
    feeds = {"X": ids.numpy()}
    try:
        info = export(model, (ids,), path, output_names=["logits"])
        if info is not None and info.get("compiler_error"):
            raise HlfgenError(info["compiler_error"])
        report = check(path, inputs=feeds)
    except HlfgenError as e:  # the compiler rejected a glue operator: the LSTM alone
        print(f"  whole model not compiled ({e}); exporting the LSTM alone", flush=True)
        what = "LSTM alone (HLFLSTM; embedding and head stay in PyTorch)"
        path = out_dir / "char_lm_hlf_lstm.onnx"
        with torch.no_grad():
            x = model.embed(ids)
        export(model.rnn, (x,), path)
        feeds = {"X": x.numpy()}
        report = check(path, inputs=feeds)
    print(f"  exported: {what}\n  file: {path}", flush=True)
    print("  " + report.format().replace("\n", "\n  "), flush=True)
    return {"path": str(path), "what": what, "ok": report.ok,
            "max_abs": max((r.max_abs for r in report.rows), default=0.0), "oracle": report.oracle}


# ---------------------------------------------------------------- main

def format_table(results: list[Result], dense_params: int) -> str:
    head = (f"{'scheme':<15} {'hidden':>6} {'LSTM weights':>12} {'compr':>6} {'rank/block':>10} "
            f"{'all params':>10} {'val ppl':>8} {'val bpc':>8} {'train s':>8}  note")
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(f"{r.scheme:<15} {r.hidden:>6} {r.lstm_params:>12} {r.compression:>6.2f} {r.rank:>10} "
                     f"{r.total_params:>10} {r.val_ppl:>8.3f} {r.val_bpc:>8.4f} {r.train_s:>8.1f}  {r.note}")
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compression", default="3", help="compression of the LSTM weight matrices (Eq. 4), e.g. 3 or 2.5")
    p.add_argument("--k", type=int, default=1, help="HLF k (rank-1 blocks); j from Eq. 4")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--embed", type=int, default=128)
    p.add_argument("--steps", type=int, default=1200, help="optimizer steps, the same for every scheme")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--bptt", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--eval-streams", type=int, default=16)
    p.add_argument("--eval-chunk", type=int, default=256)
    p.add_argument("--schemes", default=",".join(SCHEMES), help="comma-separated subset of: " + ", ".join(SCHEMES))
    p.add_argument("--corpus", type=Path, help="a text file instead of gensim's lee_background.cor")
    p.add_argument("--out", type=Path, help="directory for the exported ONNX (default: a temporary one)")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--no-export", action="store_true", help="skip the export / hlfgen parity step")
    p.add_argument("--quick", action="store_true", help="tiny smoke run (< 60 s): small model, few steps, less text")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.hidden, args.embed, args.steps, args.batch, args.bptt = 32, 16, 60, 16, 32
        args.eval_streams, args.eval_chunk = 4, 64
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
    train, val = vocab.encode(train_text), vocab.encode(val_text)
    cf = parse_cf(args.compression)
    H, E = args.hidden, args.embed
    dense_params = 4 * H * (E + H)
    j_ih, j_hh = hlf_j_for(H, E, args.k, cf), hlf_j_for(H, H, args.k, cf)
    print(f"corpus: {corpus} ({len(train_text)} train / {len(val_text)} validation characters, "
          f"vocab {len(vocab)})")
    print(f"model: Embedding({len(vocab)}, {E}) -> LSTM(hidden {H}) -> Linear({H}, {len(vocab)}); "
          f"seed {args.seed}; {args.steps} steps of {args.batch} x {args.bptt} chars; Adam lr {args.lr} cosine; "
          f"torch {torch.__version__}, {args.threads} threads")
    print(f"compression {args.compression} of the LSTM weight matrices (dense {dense_params} weights): "
          f"LMF rank {lmf_rank(H, E, cf)} (input) / {lmf_rank(H, H, cf)} (recurrent) per gate block; "
          f"HLF k={args.k}, j={j_ih} (input) / {j_hh} (recurrent) per gate block (Eq. 4)", flush=True)

    schemes = [s.strip() for s in args.schemes.split(",") if s.strip()]
    unknown = [s for s in schemes if s not in SCHEMES]
    if unknown:
        print(f"unknown scheme(s) {unknown}; want {SCHEMES}", file=sys.stderr)
        return 2
    # HLF first: its per-matrix parameter counts set the budget of the small baseline and pruning.
    order = sorted(schemes, key=lambda s: 0 if s == "HLF" else 1)
    data = (train, val, len(vocab))
    results: dict[str, Result] = {}
    hlf_model, budget = None, None
    from hlfgen.torch import HLFLSTM

    probe = HLFLSTM(E, H, compression=cf, k=args.k)
    budget = {i["name"]: i["params"] for i in probe.hlf_info()}
    small_h = small_hidden_for(E, sum(budget.values()))
    for s in order:
        print(f"training {s} ...", flush=True)
        res, model, _ = train_one(torch, nn, F, s, args, data, cf, budget, small_h, dense_params)
        print(f"  {s}: val ppl {res.val_ppl:.3f} ({res.val_bpc:.4f} bpc), {res.lstm_params} LSTM weights, "
              f"{res.train_s:.1f} s", flush=True)
        results[s] = res
        if s == "HLF":
            hlf_model = model
    ordered = [results[s] for s in SCHEMES if s in results]
    print()
    print(f"Validation perplexity per character (lower is better), compression {args.compression}, seed {args.seed}")
    print(format_table(ordered, dense_params))

    verdict = {}
    if "HLF" in results:
        h = results["HLF"]
        for other in ("LMF", "small baseline", "pruning", "dense"):
            if other in results:
                o = results[other]
                verdict[other] = {"hlf_better": h.val_ppl < o.val_ppl, "delta_ppl": o.val_ppl - h.val_ppl,
                                  "rel": (o.val_ppl - h.val_ppl) / o.val_ppl}
                word = "beats" if h.val_ppl < o.val_ppl else "does not beat"
                print(f"HLF {word} {other}: {h.val_ppl:.3f} vs {o.val_ppl:.3f} ppl "
                      f"({100 * (o.val_ppl - h.val_ppl) / o.val_ppl:+.2f}% relative)")

    parity = None
    if hlf_model is not None and not args.no_export:
        print("\nexport + hlfgen parity of the trained HLF model:", flush=True)
        seq = 64 if args.quick else 128
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            parity = export_and_check(torch, hlf_model, val, args.out, seq)
        else:
            with tempfile.TemporaryDirectory(prefix="hlfgen-accuracy-") as tmp:
                parity = export_and_check(torch, hlf_model, val, Path(tmp), seq)
        print(f"parity: {'PASS' if parity['ok'] else 'FAIL'}")
    total_s = time.perf_counter() - t_start
    print(f"total time {total_s:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "corpus": str(corpus), "results": [asdict(r) for r in ordered], "hlf_vs": verdict,
            "parity": parity, "total_s": total_s}, indent=2))
    if parity is not None and not parity["ok"]:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
