"""An independent float64 numpy implementation of ONNX LSTM, GRU and RNN (the spec's
equations, onnxruntime's reading where the spec is silent), the fuzzer's oracle for
what onnxruntime refuses (layout = 1).

Written from the ONNX operator documentation, not from hlfgen's code:
  LSTM  i = f(Xi + Hi + Pi.C + b), f = f(Xf + Hf + Pf.C + b), c~ = g(Xc + Hc + b),
        C' = f.C + i.c~, o = f(Xo + Ho + Po.C' + b), H' = o.h(C')   (gates iofc)
        input_forget=1: f = 1 - i.
  GRU   z = f(Xz + Hz + b), r = f(Xr + Hr + b),
        h~ = g(Xh + (r.H) Rh^T + Rbh + Wbh)       (linear_before_reset = 0)
        h~ = g(Xh + r.(H Rh^T + Rbh) + Wbh)       (linear_before_reset != 0)
        H' = (1 - z).h~ + z.H                     (gates zrh)
  RNN   H' = f(Xi + Hi + b)
clip bounds every activation's input to [-clip, clip].  sequence_lens: entry b runs
its first len[b] steps (a reverse direction from step len[b]-1 down to 0); Y is
zero past len[b]; Y_h/Y_c are the last state, zero when len[b] = 0.
"""

from __future__ import annotations

import numpy as np

# name -> (uses alpha, uses beta, default alpha, default beta), as onnxruntime reads the lists
ACT_PARAMS = {
    "relu": (False, False, 0, 0),
    "tanh": (False, False, 0, 0),
    "sigmoid": (False, False, 0, 0),
    "affine": (True, True, 1.0, 0.0),
    "leakyrelu": (True, False, 0.01, 0),
    "thresholdedrelu": (True, False, 1.0, 0),
    "scaledtanh": (True, True, 1.0, 1.0),
    "hardsigmoid": (True, True, 0.2, 0.5),
    "elu": (True, False, 1.0, 0),
    "softsign": (False, False, 0, 0),
    "softplus": (False, False, 0, 0),
}
DEFAULTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def activation(name: str, alpha: float, beta: float):
    n = name.lower()
    with np.errstate(over="ignore"):
        return {
            "relu": lambda x: np.maximum(x, 0),
            "tanh": np.tanh,
            "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
            "affine": lambda x: alpha * x + beta,
            "leakyrelu": lambda x: np.where(x >= 0, x, alpha * x),
            "thresholdedrelu": lambda x: np.where(x > alpha, x, 0.0),
            "scaledtanh": lambda x: alpha * np.tanh(beta * x),
            "hardsigmoid": lambda x: np.clip(alpha * x + beta, 0, 1),
            "elu": lambda x: np.where(x >= 0, x, alpha * (np.exp(np.minimum(x, 0)) - 1)),
            "softsign": lambda x: x / (1 + np.abs(x)),
            "softplus": lambda x: np.logaddexp(0, x),
        }[n]


def activations(op: str, num_dirs: int, names=None, alphas=None, betas=None):
    """Per direction, the activation functions (f, g, h)."""
    per = len(DEFAULTS[op])
    names = list(names) if names else DEFAULTS[op] * num_dirs
    if len(names) == per and num_dirs == 2:
        names = names * 2
    alphas, betas = list(alphas or []), list(betas or [])
    fns = []
    for nm in names:
        ua, ub, da, db = ACT_PARAMS[nm.lower()]
        a = (alphas.pop(0) if alphas else da) if ua else 0.0
        b = (betas.pop(0) if betas else db) if ub else 0.0
        fns.append(activation(nm, a, b))
    return [fns[d * per : (d + 1) * per] for d in range(num_dirs)]


def run(
    op: str,
    X,
    W,
    R,
    B=None,
    seq_lens=None,
    h0=None,
    c0=None,
    P=None,
    *,
    hidden: int,
    direction: str = "forward",
    layout: int = 0,
    clip=None,
    input_forget: int = 0,
    linear_before_reset: int = 0,
    acts=None,
    alphas=None,
    betas=None,
    stats: dict | None = None,
    dtype=np.float64,
):
    """Y, Y_h, Y_c (Y_c None unless LSTM), in the node's layout, computed in dtype (float64; float32
    gives what the same equations give in single precision).  stats, when given, gets "peak": the
    largest magnitude of any gate pre-activation or state on the way (float32 overflows past 3.4e38,
    so a float32 engine cannot be held to the float64 values of such a run)."""
    X = np.asarray(X, dtype)
    if layout:
        X = X.transpose(1, 0, 2)
        h0 = None if h0 is None else np.asarray(h0, dtype).transpose(1, 0, 2)
        c0 = None if c0 is None else np.asarray(c0, dtype).transpose(1, 0, 2)
    T, Bn, _ = X.shape
    D = 2 if direction == "bidirectional" else 1
    H, G = hidden, GATES[op]
    W, R = np.asarray(W, dtype), np.asarray(R, dtype)
    B = np.zeros((D, 2 * G * H), dtype) if B is None else np.asarray(B, dtype)
    P = np.zeros((D, 3 * H), dtype) if P is None else np.asarray(P, dtype)
    lens = np.full(Bn, T) if seq_lens is None else np.asarray(seq_lens).astype(int)
    fns = activations(op, D, acts, alphas, betas)
    clipf = (lambda v: np.clip(v, -clip, clip)) if clip is not None else (lambda v: v)
    peak = 0.0
    Y = np.zeros((T, D, Bn, H), dtype)
    Yh = np.zeros((D, Bn, H), dtype)
    Yc = np.zeros((D, Bn, H), dtype)
    for d in range(D):
        rev = direction == "reverse" or d == 1
        f = fns[d][0]
        g = fns[d][1] if op != "RNN" else None
        hfn = fns[d][2] if op == "LSTM" else None
        Wb, Rb = B[d, : G * H], B[d, G * H :]
        for b in range(Bn):
            h = np.zeros(H, dtype) if h0 is None else np.asarray(h0, dtype)[d, b].copy()
            c = np.zeros(H, dtype) if c0 is None else np.asarray(c0, dtype)[d, b].copy()
            steps = range(lens[b] - 1, -1, -1) if rev else range(lens[b])
            for t in steps:
                x = X[t, b]
                xw = W[d] @ x + Wb
                if op == "LSTM":
                    hr = R[d] @ h + Rb
                    pre = xw + hr
                    i = f(clipf(pre[:H] + P[d, :H] * c))
                    fg = 1 - i if input_forget else f(clipf(pre[2 * H : 3 * H] + P[d, 2 * H :] * c))
                    ct = g(clipf(pre[3 * H :]))
                    c = fg * c + i * ct
                    o = f(clipf(pre[H : 2 * H] + P[d, H : 2 * H] * c))
                    h = o * hfn(c)
                    peak = max(peak, np.abs(pre).max(), np.abs(P[d] * np.concatenate([c, c, c])).max(), np.abs(c).max())
                elif op == "GRU":
                    Rz, Rr, Rh = R[d][:H], R[d][H : 2 * H], R[d][2 * H :]
                    z = f(clipf(xw[:H] + Rz @ h + Rb[:H]))
                    r = f(clipf(xw[H : 2 * H] + Rr @ h + Rb[H : 2 * H]))
                    if linear_before_reset:
                        ht = g(clipf(xw[2 * H :] + r * (Rh @ h + Rb[2 * H :])))
                    else:
                        ht = g(clipf(xw[2 * H :] + Rh @ (r * h) + Rb[2 * H :]))
                    h = (1 - z) * ht + z * h
                    peak = max(peak, np.abs(xw).max(), np.abs(R[d] @ h).max())
                else:
                    h = f(clipf(xw + R[d] @ h + Rb))
                peak = max(peak, np.abs(xw).max(), np.abs(h).max())
                Y[t, d, b] = h
            if lens[b] > 0:
                Yh[d, b], Yc[d, b] = h, c
    if stats is not None:
        stats["peak"] = float(peak)
    if layout:
        return Y.transpose(2, 0, 1, 3), Yh.transpose(1, 0, 2), (Yc.transpose(1, 0, 2) if op == "LSTM" else None)
    return Y, Yh, (Yc if op == "LSTM" else None)
