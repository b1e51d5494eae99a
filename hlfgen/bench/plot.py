"""Figure 2 of `hlfgen bench`: speed-up over dense against compression (matplotlib, optional)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from .models import SIZES, log

MARKERS = {
    "dense": ("s", "black"),
    "small": ("v", "tab:gray"),
    "lmf": ("^", "tab:blue"),
    "hlf": ("o", "tab:red"),
    "pruned": ("x", "tab:green"),
    "pruned-sparse": ("+", "tab:olive"),
}
NAMES = {
    "dense": "Baseline",
    "small": "SB",
    "lmf": "LMF",
    "hlf": "HLF",
    "pruned": "P (fastest build)",
    "pruned-sparse": "P (sparse kernels)",
}


def write_plot(result: dict, path: Path) -> str:
    """Figure 2 style: speed-up over dense against compression, one marker per scheme, a panel per size."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        msg = "matplotlib not installed (pip install 'hlfgen[bench]'): no PNG"
        log(msg)
        return msg
    sizes = result["config"]["sizes"]
    has_insn = any("insn_speedup" in s for s in result["summary"])
    nmetric = 2 if has_insn else 1
    ncols = min(4, len(sizes))
    size_rows = -(-len(sizes) // ncols)
    fig, axes = plt.subplots(
        size_rows * nmetric, ncols, figsize=(3.6 * ncols, 3.0 * size_rows * nmetric), squeeze=False
    )
    for ax in axes.flat:
        ax.set_visible(False)
    for i, size in enumerate(sizes):
        col = i % ncols
        for m, (key, title) in enumerate((("speedup", "host time"), ("insn_speedup", "AArch64 insns"))[:nmetric]):
            ax = axes[(i // ncols) * nmetric + m][col]
            ax.set_visible(True)
            for scheme, (mk, color) in MARKERS.items():
                pts = [
                    (1.0 if s["cf"] is None else float(Fraction(s["cf"])), s[key])
                    for s in result["summary"]
                    if s["size"] == size and s["scheme"] == scheme and key in s
                ]
                if pts:
                    xs, ys = zip(*sorted(pts))
                    ax.plot(xs, ys, marker=mk, color=color, label=NAMES[scheme], linestyle="-" if len(xs) > 1 else "")
            eq5 = sorted(
                (float(Fraction(s["cf"])), s["eq5"])
                for s in result["summary"]
                if s["size"] == size and s["scheme"] == "hlf" and s.get("eq5")
            )
            if eq5:
                ax.plot(*zip(*eq5), color="tab:red", linestyle=":", label="Eq. 5")
            ax.axhline(1.0, color="black", linewidth=0.5)
            ax.set_title(f"{SIZES[size].label}: {title}", fontsize=9)
            ax.set_xlabel("compression factor", fontsize=8)
            if col == 0:
                ax.set_ylabel("speed-up over dense", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(
        "Speed-up over the dense baseline against compression (cf. hlf-paper Figure 2; "
        f"batch 1, T = {result['config']['steps']})",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path.name)
