"""The geometry shared by Conv, MaxPool and AveragePool (ONNX window operators).

One rule for the output extent of a spatial axis, also computed at run time
by hlf_window_init (runtime/hlf_conv.c), which the generated code checks
against the extent planned here:

  explicit pads:  out = floor((in + pb + pe - dilation*(k-1) - 1) / stride) + 1
                  (ceil with ceil_mode, and then a last window that would start
                  in the trailing padding is dropped: onnxruntime's rule)
  VALID:          the same with pads 0
  SAME_UPPER/LOWER: total pad max(0, (ceil(in/stride) - 1)*stride + k - in), its odd
                  half at the end / beginning (onnxruntime: k undilated).

Spatial rank 1 or 2; a 1-D window is the 2-D one with H = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import OpContext

PAD_MODES = {"NOTSET": 0, "VALID": 1, "SAME_UPPER": 2, "SAME_LOWER": 3}  # HLF_PAD_* of hlf_conv.h


@dataclass
class Window:
    rank: int  # spatial axes of the ONNX op: 1 or 2
    kernel: list[int]
    stride: list[int]
    dilation: list[int]
    pads_begin: list[int]
    pads_end: list[int]
    auto_pad: str
    ceil_mode: int

    def as_2d(self, values: list[int], fill: int) -> list[int]:
        return [fill] * (2 - self.rank) + list(values)

    def c_attrs(self, in_dims: list, out_dims: list) -> dict:
        """What templates/ops/window.j2 prints: 2-D pairs (1-D: H = 1)."""
        return {
            "w_in": self.as_2d(in_dims, 1),
            "w_out": self.as_2d(out_dims, 1),
            "w_kernel": self.as_2d(self.kernel, 1),
            "w_stride": self.as_2d(self.stride, 1),
            "w_dilation": self.as_2d(self.dilation, 1),
            "w_pads_begin": self.as_2d(self.pads_begin, 0),
            "w_pads_end": self.as_2d(self.pads_end, 0),
            "w_auto_pad": PAD_MODES[self.auto_pad],
            "w_ceil": self.ceil_mode,
        }


def _ints(ctx: OpContext, name: str, n: int, default: int, minimum: int) -> list[int]:
    v = ctx.attrs.get(name)
    vals = [default] * n if v is None else [int(x) for x in v]
    if len(vals) != n:
        raise ctx.error(f"attribute {name} has {len(vals)} entries; the input has {n} spatial axes")
    if any(x < minimum for x in vals):
        raise ctx.error(f"attribute {name} {vals} has entries below {minimum}")
    return vals


def read_window(ctx: OpContext, kernel: list[int], rank: int, *, dilations: bool, ceil: bool) -> Window:
    """The window attributes of a node with `rank` spatial axes and the given kernel extents."""
    if rank not in (1, 2):
        raise ctx.error(f"{rank} spatial axes; {ctx.op} is supported over 1 or 2 (inputs [N, C, L] or [N, C, H, W])")
    ks = ctx.attrs.get("kernel_shape")
    if ks is not None and [int(k) for k in ks] != list(kernel):
        raise ctx.error(f"kernel_shape {list(ks)} does not match the weights' {list(kernel)}")
    if any(k < 1 for k in kernel):
        raise ctx.error(f"kernel extents {list(kernel)} must be positive")
    stride = _ints(ctx, "strides", rank, 1, 1)
    dilation = _ints(ctx, "dilations", rank, 1, 1) if dilations else [1] * rank
    if not dilations and ctx.attrs.get("dilations") is not None and any(int(d) != 1 for d in ctx.attrs["dilations"]):
        raise ctx.error(f"dilations {list(ctx.attrs['dilations'])} are not supported for {ctx.op}")
    auto_pad = ctx.attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    if auto_pad not in PAD_MODES:
        raise ctx.error(f"auto_pad '{auto_pad}' is not one of {', '.join(PAD_MODES)}")
    pads = ctx.attrs.get("pads")
    if pads is not None and auto_pad != "NOTSET" and any(int(p) for p in pads):
        raise ctx.error(f"pads {list(pads)} given with auto_pad {auto_pad}")
    pads = [0] * (2 * rank) if pads is None or auto_pad != "NOTSET" else [int(p) for p in pads]
    if len(pads) != 2 * rank or any(p < 0 for p in pads):
        raise ctx.error(f"pads {pads} must hold {2 * rank} non-negative entries (begin..., end...)")
    ceil_mode = int(ctx.attrs.get("ceil_mode", 0)) if ceil else 0
    return Window(rank, list(kernel), stride, dilation, pads[:rank], pads[rank:], auto_pad, ceil_mode)


def out_extent(ctx: OpContext, win: Window, axis: int, n):
    """The output extent of spatial axis `axis` for an input extent n (an int, or a dims.Dim:
    a run-time extent such as T gives floor((T + pads - dilation*(k-1) - 1) / stride) + 1)."""
    k, s, d = win.kernel[axis], win.stride[axis], win.dilation[axis]
    keff = d * (k - 1) + 1
    if isinstance(n, int) and n < 0:
        raise ctx.error(f"spatial axis {axis} is the sequence axis; a window over it is not supported yet")
    if isinstance(n, int):
        if win.auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            total = max(0, (-(-n // s) - 1) * s + k - n)
            pb = total // 2 if win.auto_pad == "SAME_UPPER" else total - total // 2
            pe = total - pb
        elif win.auto_pad == "VALID":
            pb = pe = 0
        else:
            pb, pe = win.pads_begin[axis], win.pads_end[axis]
        span = n + pb + pe - keff
        out = (-(-span // s) if win.ceil_mode else span // s) + 1
        if win.ceil_mode and out > 1 and (out - 1) * s >= n + pb:
            out -= 1
        return out
    # A run-time extent: the same rule as an expression, where it is one.
    from .. import dims as D

    if win.auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if d == 1:
            return D.ceildiv(n, s)  # (ceil(n/s) - 1)*s + k - n >= 0 pads, floor((n + pad - k)/s) + 1 = ceil(n/s)
        if k >= s:  # the total pad is never clamped at 0
            return D.ceildiv(n, s) + (k - keff) // s
        raise ctx.error(
            f"auto_pad {win.auto_pad} with dilation {d} and kernel {k} < stride {s} on the "
            f"run-time axis {D.fmt_dim(n)} is not supported"
        )
    pb, pe = (0, 0) if win.auto_pad == "VALID" else (win.pads_begin[axis], win.pads_end[axis])
    span = n + pb + pe - keff
    if not win.ceil_mode:
        return D.floordiv(span, s) + 1
    if pe - keff >= 0:  # the last ceil window always starts in the trailing padding: dropped
        return D.ceildiv(span, s)
    if keff - pe > s - 1:  # it never does
        return D.ceildiv(span, s) + 1
    raise ctx.error(
        f"ceil_mode on the run-time axis {D.fmt_dim(n)}: whether the last window is dropped depends "
        f"on {D.fmt_dim(n)} mod {s}; not supported"
    )


def out_dims(ctx: OpContext, win: Window, in_dims: list) -> list:
    """Output extents of the spatial axes (ints or dims.Dim expressions)."""
    out = []
    for a, n in enumerate(in_dims):
        o = out_extent(ctx, win, a, n)
        if isinstance(o, int) and o < 1:
            raise ctx.error(
                f"spatial axis {a}: the window (kernel {win.kernel[a]}, dilation {win.dilation[a]}) "
                f"does not fit an extent of {n} with its pads"
            )
        out.append(o)
    return out
