#!/usr/bin/env python3
"""The accuracy comparison, done fairly: a learning-rate sweep per scheme, held-out test text, seeds.

Protocol (one command; ``--quick`` is a smoke run of the same code path):

1. **Data, three ways.** Train on the first 270 documents of gensim's
   ``lee_background.cor``, validate on its last 30, and test once on gensim's
   ``lee.cor`` (50 other documents). The script checks that no test document
   occurs in the training corpus, and reports how many 50-character windows
   of the test text also occur in the training text.
2. **Learning rate per scheme**, chosen on validation: every scheme (dense,
   small baseline, LMF, HLF with k in {1, 2, 4, 8}, pruning) trains with each
   rate of the grid for ``--sweep-steps`` steps on seed 0; a best rate at an
   edge of the grid extends the grid by a factor of 2 that way (at most
   ``--max-extend`` times).
3. **Best k of HLF** on validation (its best-rate validation loss).
4. **Final training** at each scheme's rate for ``--steps`` steps and fresh
   seeds (1..5), for dense, the small baseline, LMF, HLF k = 1, HLF k = 4,
   HLF at the best k and pruning; every model is evaluated ONCE on the test
   text (bits per character).
5. **Report**: test bpc mean ± sd, paired per-seed differences HLF - LMF,
   HLF - small baseline and dense - LMF (the control: can rank matter here at
   all?) with 95% t intervals.

Budgets: the small baseline's hidden size and the pruning targets come from
the HLF k = 1 model (as in char_lm.py, the paper's rank-maximizing choice);
HLF at other k has the same compression by Eq. 4 (j solved per k).

Training itself (model, optimizer, schedule, batches, evaluation) is
char_lm.py's, unchanged.

    python examples/accuracy/fair.py --json fair.json          # the full protocol (docs/accuracy.md)
    python examples/accuracy/fair.py --quick                    # smoke run, < 1 min
    python examples/accuracy/fair.py --report fair.json         # the tables of a run, as markdown
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import char_lm  # noqa: E402  (the training code of this example)

TRAIN_FILE = "test/test_data/lee_background.cor"
TEST_FILE = "test/test_data/lee.cor"
N_TRAIN_DOCS = 270
GRID = (5e-3, 1e-2, 2e-2, 4e-2)
KS = (1, 2, 4, 8)
BASE_SCHEMES = ("dense", "small baseline", "LMF", "pruning")
# two-sided 95% Student t quantiles by degrees of freedom (scipy is not needed)
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


# ---------------------------------------------------------------- data

def corpus_file(rel: str) -> Path | None:
    spec = importlib.util.find_spec(char_lm.CORPUS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        p = Path(root) / rel
        if p.is_file():
            return p
    return None


def read_docs(path: Path) -> list[str]:
    return [d.strip() for d in path.read_text(encoding="utf-8", errors="replace").splitlines() if d.strip()]


def split(train_path: Path, test_path: Path, n_train: int) -> tuple[str, str, str, dict]:
    """(train, validation, test) text and an overlap report; raises if a test document is in training."""
    docs = read_docs(train_path)
    test_docs = read_docs(test_path)
    if len(docs) <= n_train:
        raise SystemExit(f"{train_path}: {len(docs)} documents, need more than {n_train}")
    train_docs, val_docs = docs[:n_train], docs[n_train:]
    corpus = "\n".join(docs)
    shared = [i for i, d in enumerate(test_docs) if d in corpus]
    if shared:
        raise SystemExit(f"test documents {shared} of {test_path} occur in {train_path}: no clean test set")
    train = "\n".join(train_docs) + "\n"
    test = "\n".join(test_docs) + "\n"
    w = 50
    train_windows = {train[i:i + w] for i in range(len(train) - w + 1)}
    test_windows = [test[i:i + w] for i in range(0, len(test) - w + 1, w)]
    overlap = sum(t in train_windows for t in test_windows)
    report = {"train_docs": len(train_docs), "val_docs": len(val_docs), "test_docs": len(test_docs),
              "test_docs_in_training": 0, "test_windows": len(test_windows), "test_windows_in_training": overlap}
    return train, "\n".join(val_docs) + "\n", test, report


# ---------------------------------------------------------------- jobs

@dataclass(frozen=True)
class Job:
    scheme: str  # "dense", "small baseline", "LMF", "pruning" or "HLF"
    k: int  # HLF k (the others: 1, unused)
    lr: float
    seed: int
    steps: int
    final: bool  # evaluate on the test text too

    @property
    def label(self) -> str:
        return lab(self.scheme, self.k)


_STATE: dict = {}


def _init_worker(args, texts, threads):
    import torch

    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    train, val, test = texts
    vocab = char_lm.Vocab(train)
    _STATE.update(args=args, data=char_lm.Data(vocab.encode(train), vocab.encode(val), len(vocab)),
                  test=vocab.encode(test), vocab=len(vocab))


def budgets(args, vocab: int) -> tuple[int, dict[str, int]]:
    """Small-baseline hidden size and per-matrix pruning targets, from the HLF k = 1 model."""
    import torch
    from torch import nn

    cf = args.cf
    hlf = char_lm.build_model(torch, nn, "HLF", vocab, args.embed, args.hidden, cf, 1)
    total = sum(p.numel() for p in hlf.parameters())
    return char_lm.small_hidden_for(vocab, args.embed, total), char_lm.hlf_per_matrix(hlf)


def run_job(job: Job) -> dict:
    import torch
    import torch.nn.functional as F
    from torch import nn

    args, data = _STATE["args"], _STATE["data"]
    a = copy.copy(args)
    a.lr, a.steps, a.k, a.verbose = job.lr, job.steps, job.k, False
    a.compression_of = {args.cf: args.compression}
    small_h, prune_to = budgets(args, data.vocab)
    hidden = small_h if job.scheme == "small baseline" else args.hidden
    cf = None if job.scheme == "dense" else args.cf
    res, model = char_lm.train_one(torch, nn, F, job.scheme, a, data, job.seed, cf, hidden,
                                   prune_to=prune_to if job.scheme == "pruning" else None)
    out = {"scheme": job.label, "k": job.k, "lr": job.lr, "seed": job.seed, "steps": job.steps,
           "hidden": hidden, "lstm_params": res.lstm_params, "total_params": res.total_params,
           "compression": res.compression, "rank": res.rank, "val_nll": res.val_bpc * math.log(2),
           "val_bpc": res.val_bpc, "train_s": res.train_s, "diverged": not math.isfinite(res.val_bpc)}
    if job.final:
        nll = char_lm.evaluate(torch, F, model, _STATE["test"], args.eval_streams, args.eval_chunk)
        out["test_bpc"] = nll / math.log(2)
    return out


def lab(scheme: str, k: int) -> str:
    return f"HLF k={k}" if scheme == "HLF" else scheme


def _val(r: dict) -> float:
    return math.inf if r["diverged"] else r["val_bpc"]


def run_all(pool, jobs: list[Job], log) -> list[dict]:
    results = []
    for r in pool.map(run_job, jobs):
        tail = f", test {r['test_bpc']:.4f}" if "test_bpc" in r else ""
        log(f"  {r['scheme']:<15} lr {r['lr']:<7g} seed {r['seed']} {r['steps']} steps: "
            f"val {r['val_bpc']:.4f} bpc{tail} ({r['train_s']:.0f} s)")
        results.append(r)
    return results


# ---------------------------------------------------------------- statistics

def t_interval(xs: list[float]) -> tuple[float, float, float]:
    """mean, and the 95% Student t interval of the mean."""
    m = statistics.fmean(xs)
    if len(xs) < 2:
        return m, float("nan"), float("nan")
    half = T975.get(len(xs) - 1, 1.96) * statistics.stdev(xs) / math.sqrt(len(xs))
    return m, m - half, m + half


def paired(final: list[dict], a: str, b: str) -> dict | None:
    """Per-seed test-bpc difference a - b (negative: a is better)."""
    by = {(r["scheme"], r["seed"]): r["test_bpc"] for r in final}
    seeds = sorted({s for (_, s) in by if (a, s) in by and (b, s) in by})
    if not seeds:
        return None
    d = [by[(a, s)] - by[(b, s)] for s in seeds]
    m, lo, hi = t_interval(d)
    return {"a": a, "b": b, "seeds": seeds, "diffs": d, "mean": m, "lo": lo, "hi": hi,
            "verdict": ("a better" if hi < 0 else "b better" if lo > 0 else "not resolved")}


# ---------------------------------------------------------------- markdown

def markdown(data: dict) -> str:
    """The tables of docs/accuracy.md, from a --json file of a run."""
    sweep = data["sweep"]
    rates = sorted({r["lr"] for r in sweep})
    schemes = list(dict.fromkeys(r["scheme"] for r in sweep))
    best = {}
    for key, lr in data["best_lr"].items():
        s, k = key.split("|")
        best[lab(s, int(k))] = lr
    out = ["Validation bits per character after the sweep's training (seed 0; **bold**: chosen rate; - not run)", "",
           "| scheme | " + " | ".join(f"{lr:g}" for lr in rates) + " |", "|---|" + "---:|" * len(rates)]
    for s in schemes:
        cells = []
        for lr in rates:
            r = next((r for r in sweep if r["scheme"] == s and r["lr"] == lr), None)
            v = "-" if r is None else ("diverged" if r["diverged"] else f"{r['val_bpc']:.4f}")
            cells.append(f"**{v}**" if r is not None and lr == best[s] else v)
        out.append(f"| {s} | " + " | ".join(cells) + " |")
    seeds = sorted({r["seed"] for r in data["final"]})
    out += ["", f"Test bits per character (lee.cor), {len(seeds)} seeds {seeds}, mean ± sd", "",
            "| scheme | rate | LSTM weights | compression | rank/block | all params | test bpc | val bpc |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in data["summary"]:
        out.append(f"| {r['scheme']} | {r['lr']:g} | {r['lstm_params']} | {r['compression']:.2f} | {r['rank']} | "
                   f"{r['total_params']} | {r['test_bpc_mean']:.4f} ± {r['test_bpc_sd']:.4f} | "
                   f"{r['val_bpc_mean']:.4f} |")
    out += ["", "Paired per-seed differences of test bpc (a − b; negative: a is better), 95% t interval", "",
            "| a − b | mean | 95% interval | per seed | verdict |", "|---|---:|---|---|---|"]
    for c in data["comparisons"]:
        verdict = {"a better": f"{c['a']} better", "b better": f"{c['b']} better"}.get(c["verdict"], c["verdict"])
        out.append(f"| {c['a']} − {c['b']} | {c['mean']:+.4f} | [{c['lo']:+.4f}, {c['hi']:+.4f}] | "
                   + " ".join(f"{d:+.3f}" for d in c["diffs"]) + f" | {verdict} |")
    return "\n".join(out)


# ---------------------------------------------------------------- main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid", default=",".join(f"{g:g}" for g in GRID), help="learning-rate grid")
    p.add_argument("--ks", default=",".join(map(str, KS)), help="HLF k values swept")
    p.add_argument("--sweep-steps", type=int, default=1500)
    p.add_argument("--steps", type=int, default=3000, help="steps of the final training")
    p.add_argument("--seeds", default="1,2,3,4,5", help="seeds of the final training (the sweep uses 0)")
    p.add_argument("--compression", default="2.5")
    p.add_argument("--max-extend", type=int, default=2, help="grid extensions per scheme at an edge")
    p.add_argument("--jobs", type=int, default=2, help="training processes at once")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--json", type=Path, help="write everything measured here")
    p.add_argument("--quick", action="store_true", help="smoke run: tiny model and steps, 2 rates, k 1 and 4")
    p.add_argument("--report", type=Path, help="print the markdown tables of a --json file and exit")
    a = p.parse_args(argv)
    if a.report:
        return a
    # the training settings of char_lm.py, unchanged
    base = char_lm.parse_args(["--hidden", str(a.hidden), "--embed", str(a.embed)] + (["--quick"] if a.quick else []))
    for key in ("batch", "bptt", "clip", "eval_streams", "eval_chunk"):
        setattr(a, key, getattr(base, key))
    if a.quick:
        a.hidden, a.embed = base.hidden, base.embed
        a.grid, a.ks, a.sweep_steps, a.steps, a.seeds, a.max_extend = "1e-2,4e-2", "1,4", 30, 40, "1,2", 1
    from hlfgen.hlf import parse_cf

    a.cf = parse_cf(a.compression)
    a.grid_list = sorted(float(g) for g in a.grid.split(","))
    a.k_list = [int(k) for k in a.ks.split(",")]
    a.seed_list = [int(s) for s in a.seeds.split(",")]
    return a


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.report:
        print(markdown(json.loads(args.report.read_text())))
        return 0
    t0 = time.perf_counter()
    log_lines: list[str] = []

    def log(s=""):
        print(s, flush=True)
        log_lines.append(s)

    train_p, test_p = corpus_file(TRAIN_FILE), corpus_file(TEST_FILE)
    if train_p is None or test_p is None:
        print(f"corpus not found: pip install {char_lm.CORPUS_PACKAGE} (it ships {TRAIN_FILE} and {TEST_FILE})",
              file=sys.stderr)
        return 2
    train, val, test, overlap = split(train_p, test_p, N_TRAIN_DOCS)
    if args.quick:
        train, val, test = train[:40000], val[:4000], test[:4000]
    texts = (train, val, test)
    log(f"train {len(train)} chars ({N_TRAIN_DOCS} docs of {train_p.name}), validation {len(val)}, "
        f"test {len(test)} ({test_p.name})")
    log(f"overlap check: {overlap['test_docs_in_training']} test documents in the training corpus; "
        f"{overlap['test_windows_in_training']} of {overlap['test_windows']} 50-char test windows occur in training")
    schemes = [("dense", 1), ("small baseline", 1), ("LMF", 1), ("pruning", 1)] + [("HLF", k) for k in args.k_list]
    log(f"model: Embedding -> LSTM({args.hidden}) -> Linear, embed {args.embed}, compression {args.compression}; "
        f"sweep {args.sweep_steps} steps on seed 0, grid {args.grid_list}; final {args.steps} steps, "
        f"seeds {args.seed_list}; {args.jobs} processes x {args.threads} torch threads")

    sweep: list[dict] = []
    with ProcessPoolExecutor(args.jobs, initializer=_init_worker, initargs=(args, texts, args.threads)) as pool:
        # 1-2: learning-rate sweep on validation, grids extended at an edge
        grids = {sk: list(args.grid_list) for sk in schemes}
        pending = [(sk, lr) for sk in schemes for lr in grids[sk]]
        extend = dict.fromkeys(schemes, 0)
        log("\n== learning-rate sweep (validation bpc, seed 0)")
        while pending:
            jobs = [Job(s, k, lr, 0, args.sweep_steps, False) for (s, k), lr in pending]
            sweep += run_all(pool, jobs, log)
            pending = []
            for sk in schemes:
                rows = sorted((r for r in sweep if r["scheme"] == lab(*sk)), key=lambda r: r["lr"])
                best = min(rows, key=_val)
                if extend[sk] >= args.max_extend:
                    continue
                if best["lr"] == rows[0]["lr"]:
                    pending.append((sk, rows[0]["lr"] / 2))
                elif best["lr"] == rows[-1]["lr"]:
                    pending.append((sk, rows[-1]["lr"] * 2))
                else:
                    continue
                extend[sk] += 1
                log(f"  {lab(*sk)}: best at the edge "
                    f"{best['lr']:g}, extending to {pending[-1][1]:g}")
        best_lr = {}
        for s, k in schemes:
            best_lr[(s, k)] = min((r for r in sweep if r["scheme"] == lab(s, k)), key=_val)["lr"]
        best_k = min(args.k_list, key=lambda k: min(_val(r) for r in sweep if r["scheme"] == lab("HLF", k)))
        log("\nchosen rates: " + ", ".join(f"{lab(s, k)} {lr:g}" for (s, k), lr in best_lr.items()))
        log(f"best k on validation: {best_k}")

        # 4: final training with fresh seeds, each model tested once
        final_k = sorted({1, 4, best_k} & set(args.k_list)) or [best_k]
        finals = [(s, 1) for s in BASE_SCHEMES] + [("HLF", k) for k in final_k]
        log(f"\n== final training ({args.steps} steps, seeds {args.seed_list}; test bpc)")
        jobs = [Job(s, k, best_lr[(s, k)], seed, args.steps, True) for seed in args.seed_list for s, k in finals]
        final = run_all(pool, jobs, log)

    # 5: report
    log("\n== test bits per character (mean ± sd over seeds)")
    summary = []
    for s, k in finals:
        name = lab(s, k)
        rs = [r for r in final if r["scheme"] == name]
        b = [r["test_bpc"] for r in rs]
        row = {"scheme": name, "lr": best_lr[(s, k)], "lstm_params": rs[0]["lstm_params"],
               "total_params": rs[0]["total_params"], "compression": rs[0]["compression"], "rank": rs[0]["rank"],
               "test_bpc_mean": statistics.fmean(b), "test_bpc_sd": statistics.stdev(b) if len(b) > 1 else 0.0,
               "val_bpc_mean": statistics.fmean(r["val_bpc"] for r in rs), "seeds": len(rs)}
        summary.append(row)
        log(f"  {name:<15} lr {row['lr']:<7g} LSTM weights {row['lstm_params']:>6} (x{row['compression']:.2f}) "
            f"all {row['total_params']:>6}: test {row['test_bpc_mean']:.4f} ± {row['test_bpc_sd']:.4f} bpc "
            f"(val {row['val_bpc_mean']:.4f})")
    comparisons = []
    hlf_labels = [lab("HLF", k) for k in final_k]
    for a_, b_ in [(h, o) for h in hlf_labels for o in ("LMF", "small baseline", "pruning")] + [("dense", "LMF")]:
        c = paired(final, a_, b_)
        if c:
            comparisons.append(c)
    log("\n== paired per-seed differences of test bpc (a - b; negative: a better), 95% t interval")
    for c in comparisons:
        log(f"  {c['a']:<10} - {c['b']:<15} {c['mean']:+.4f}  [{c['lo']:+.4f}, {c['hi']:+.4f}]  {c['verdict']}")
    total_s = time.perf_counter() - t0
    log(f"\ntotal wall time {total_s:.0f} s ({os.cpu_count()} CPUs)")
    if args.json:
        args.json.write_text(json.dumps({
            "args": {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, list))},
            "overlap": overlap, "sweep": sweep, "best_lr": {f"{s}|{k}": v for (s, k), v in best_lr.items()},
            "best_k": best_k, "final": final, "summary": summary, "comparisons": comparisons,
            "total_s": total_s, "log": log_lines}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
