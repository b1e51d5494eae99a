"""Algorithm 1 of the paper as kernel calls: a product of a factored matrix with a vector (or a GEMM
over several vectors) becomes one GEMV A'·x per dense segment (line 1), one t = C·x per distinct C
(line 2) and one B·t per low-rank segment (line 3); B·C is never formed.  Sparse segments use the
sparse kernels; --quantize int8 quantizes each kernel's input vector first.
"""

from __future__ import annotations


import numpy as np

from . import quant, sparse
from .ir import Dense, FactoredMatrix
from .program import IndexArray, MatCall, MatPlan, Program, WeightArray, add_matrix


# ------------------------------------------------------------------ Algorithm 1
class _MatLowering:
    """Algorithm 1 for the matrices of one layer direction (W or R)."""

    def __init__(self, prog: Program, prefix: str):
        self.prog = prog
        self.prefix = prefix
        self.count = 0
        self.max_rank = 0  # largest stacked C (floats of t per vector)
        self.max_dense = 0  # largest stacked A' (floats of the dense temporary)
        self.nvec = 1  # vectors per call (GEMM: T * batch), for the int8 input buffers
        self.qneed: dict[str, int] = {}  # int8 mode: scratch floats of each quantized-input buffer
        self.dtypes: dict[str, str] = {}  # weight symbol -> its dtype (add_matrix)

    def quantize_input(self, calls: list, src: str, n: int, ld: int, gemm: bool, name: str) -> tuple[str, str, int]:
        """int8: a call quantizing src (n floats per vector, leading dimension ld) into scratch buffer name.

        Returns the int8 buffer's C expression, its scales' name and its leading dimension; the
        buffer has 16 bytes of slack so a B·t reading t + offset stays inside (hlf_qkernels.h).
        """
        ldq = quant.qs8_padded(n) + quant.QS8_KC
        nv = self.nvec if gemm else 1
        for buf, floats in ((name, -(-nv * ldq // 4)), (f"{name}s", nv)):
            self.qneed[buf] = max(self.qneed.get(buf, 0), floats)
        buf = f"(int8_t *){name}"
        calls.append(
            MatCall(
                "",
                n,
                n,
                src,
                buf,
                f"int8: quantize {src} per vector (scale max|v| / 127)",
                ldx=ld,
                ldy=ldq,
                kind="quant",
                scale=f"{name}s",
            )
        )
        return buf, f"{name}s", ldq

    def matvec(self, w: str, m: int, n: int, src: str, dst: str, comment: str, q, **kw) -> MatCall:
        """A dense kernel call in w's dtype; q() gives (int8 buffer, scales, ldq) of src, quantizing it on first use."""
        kd = {"float32": "f32", "float16": "f16", "int8": "qs8"}[self.dtypes[w]]
        if kd != "qs8":
            return MatCall(w, m, n, src, dst, comment, dtype=kd, **kw)
        buf, scales, ldq = q()
        off = src.split(" + ", 1)[1] if " + " in src else ""
        kw["ldx"] = ldq
        return MatCall(
            w, m, n, f"{buf} + {off}" if off else buf, dst, comment, dtype=kd, scale=f"{w}_s", xs=scales, **kw
        )

    def weight(self, data: np.ndarray, what: str, comment: str) -> str:
        sym = f"{self.prefix}_{what}{self.count}"
        self.count += 1
        self.dtypes[sym] = add_matrix(self.prog, sym, data, comment)
        return sym

    def sparse_call(
        self, seg: Dense, pos: int, n: int, src: str, dst: str, *, gemm: bool, ld_src: int, ld_dst: int
    ) -> tuple[MatCall | None, int] | None:
        """The sparse kernel call for a dense segment, or None when it stays dense (sparse.choose).

        Returns (call, multiply-adds per vector); call is None for an all-zero segment (nothing to add).
        """
        ch = sparse.choose(seg.data, self.prog.sparse, nr=self.prog.nr, target=self.prog.target, gemm=gemm)
        zf = sparse.zero_fraction(seg.data)
        if ch.costs is not None or zf > 0:
            self.prog.sparse_choices.append(
                {
                    "rows": f"{self.prefix} {pos}..{pos + seg.rows - 1}",
                    "shape": [seg.rows, n],
                    "zero_fraction": zf,
                    "gemm": gemm,
                    "kernel": ch.kind + (str(ch.br) if ch.br else ""),
                    "costs": ch.costs,
                }
            )
        if ch.kind == "dense":
            return None
        base = f"{self.prefix}_S{self.count}"
        self.count += 1
        rows = f"rows {pos}..{pos + seg.rows - 1} ({seg.rows}x{n}, {100 * zf:.1f}% zeros)"
        if ch.kind == "csr":
            c = sparse.pack_csr(seg.data)
            ptr, idx, vals, what = c.row_ptr, c.col_idx, c.values, f"CSR, {c.nnz} nonzeros"
            ops = c.nnz
        else:
            b = sparse.pack_bcsr(seg.data, ch.br)
            ptr, idx, vals, what = b.block_ptr, b.block_col, b.values, f"BCSR {ch.br}x1, {b.blocks} blocks"
            ops = b.blocks * ch.br
        if not vals.size:
            return None, 0
        self.prog.weights.append(WeightArray(base, vals, f"A' {rows}: {what}, values"))
        self.prog.index_arrays.append(
            IndexArray(
                f"{base}_ptr",
                "uint32_t",
                ptr,
                f"A' {rows}: {what}, " + ("row pointers" if ch.kind == "csr" else "block-row pointers"),
            )
        )
        self.prog.index_arrays.append(
            IndexArray(
                f"{base}_col",
                "uint16_t",
                idx,
                f"A' {rows}: {what}, " + ("column of each nonzero" if ch.kind == "csr" else "column of each block"),
            )
        )
        call = MatCall(
            base,
            seg.rows,
            n,
            src,
            dst,
            f"Algorithm 1 line 1: O[{pos}:{pos + seg.rows}] = A'·x (sparse {what}, {seg.rows}x{n})",
            ldx=ld_src,
            ldy=ld_dst,
            kind=ch.kind,
            ptr=f"{base}_ptr",
            idx=f"{base}_col",
            br=ch.br,
        )
        return call, ops

    def plan(
        self,
        mat: FactoredMatrix,
        targets: list[tuple[int, int, str]],
        src: str,
        tmp: str,
        *,
        gemm: bool,
        ld_src: int = 0,
        ld_dst: int = 0,
    ) -> MatPlan:
        """Calls computing rows [a, b) of mat times src into dst, for each target (a, b, dst).

        Products that share the input are fused: all C blocks are stacked
        into one matrix (one GEMV gives t for every low-rank segment), and for
        a GEMV several dense blocks are stacked into one, computed into the
        temporary "ad" and added to their rows.  ``tmp`` holds t = C·x.  With
        gemm=True, src/dst/tmp are row-major matrices (leading dimensions
        ld_src, ld_dst; tmp's is the stacked rank).
        """
        n = mat.cols
        dense: list[tuple] = []
        lowrank: list[tuple] = []
        for a, b, dst in targets:
            pos = a
            for seg in mat.row_range(a, b).segments:
                d = f"{dst} + {pos - a}" if pos != a else dst
                (dense if isinstance(seg, Dense) else lowrank).append((seg, pos, d))
                pos += seg.rows
        calls: list[MatCall] = []
        ops = 0

        # Algorithm 1 line 1, sparse: a dense segment that is mostly zeros (a
        # pruned matrix) may go to a sparse kernel (hlfgen/sparse.py decides).
        kept = []
        for seg, pos, d in dense:
            sp = self.sparse_call(seg, pos, n, src, d, gemm=gemm, ld_src=ld_src, ld_dst=ld_dst)
            if sp is None:
                kept.append((seg, pos, d))
                continue
            call, nmac = sp
            if call is not None:
                calls.append(call)
            ops += nmac
        dense = kept

        # int8: the input of this product quantized once, before the first int8 call reading it
        cache: dict[str, tuple] = {}

        def quantized(vec: str, width: int, ld: int, name: str):
            def get():
                if name not in cache:
                    cache[name] = self.quantize_input(calls, vec, width, ld, gemm, name)
                return cache[name]

            return get

        qsrc = quantized(src, n, ld_src or n, "qx" if gemm else "qh")

        # Algorithm 1 line 1: O[dense rows] = A'·x
        if gemm or len(dense) <= 1:
            for seg, pos, d in dense:
                w = self.weight(seg.data, "A", f"A' rows {pos}..{pos + seg.rows - 1}: dense, {seg.rows}x{n}")
                calls.append(
                    self.matvec(
                        w,
                        seg.rows,
                        n,
                        src,
                        d,
                        f"Algorithm 1 line 1: O[{pos}:{pos + seg.rows}] = A'·x (dense {seg.rows}x{n})",
                        qsrc,
                        ldx=ld_src,
                        ldy=ld_dst,
                    )
                )
        else:
            total = sum(seg.rows for seg, _, _ in dense)
            self.max_dense = max(self.max_dense, total)
            w = self.weight(
                np.concatenate([seg.data for seg, _, _ in dense]),
                "A",
                f"A' of {len(dense)} blocks stacked ({total}x{n}): "
                + ", ".join(f"rows {pos}..{pos + seg.rows - 1}" for seg, pos, _ in dense),
            )
            calls.append(
                self.matvec(
                    w,
                    total,
                    n,
                    src,
                    "ad",
                    f"Algorithm 1 line 1: A'·x of all {len(dense)} dense blocks at once ({total}x{n})",
                    qsrc,
                    zero_dst=total,
                )
            )
            off = 0
            for seg, pos, d in dense:
                calls.append(
                    MatCall(
                        "",
                        seg.rows,
                        0,
                        f"ad + {off}" if off else "ad",
                        d,
                        f"O[{pos}:{pos + seg.rows}] += its rows of A'·x",
                        kind="add",
                    )
                )
                off += seg.rows
        ops += sum(seg.rows for seg, _, _ in dense) * n

        # Algorithm 1 line 2: t = C·x, every distinct C stacked into one matrix
        offsets: dict[str, int] = {}
        blocks: list[np.ndarray] = []
        for seg, _, _ in lowrank:
            if seg.c_key not in offsets:
                offsets[seg.c_key] = sum(b.shape[0] for b in blocks)
                blocks.append(seg.C)
        if blocks:
            K = sum(b.shape[0] for b in blocks)
            self.max_rank = max(self.max_rank, K)
            wc = self.weight(
                np.concatenate(blocks),
                "C",
                f"C of {len(blocks)} low-rank block(s) stacked ({K}x{n}), ranks "
                + "+".join(str(b.shape[0]) for b in blocks),
            )
            calls.append(
                self.matvec(
                    wc,
                    K,
                    n,
                    src,
                    tmp,
                    f"Algorithm 1 line 2: t = C·x for {len(blocks)} C block(s) at once (rank {K})",
                    qsrc,
                    zero_dst=K,
                    ldx=ld_src,
                    ldy=K,
                )
            )
            ops += K * n
            # int8: t quantized as one vector (its own scale) for every int8 B·t
            qt = quantized(tmp, K, K, "qt" if gemm else "qc")
            # Algorithm 1 line 3: O[low-rank rows] = B·t
            for seg, pos, d in lowrank:
                off = offsets[seg.c_key]
                t = f"{tmp} + {off}" if off else tmp
                wb = self.weight(seg.B, "B", f"B of rows {pos}..{pos + seg.rows - 1} ({seg.rows}x{seg.rank})")
                calls.append(
                    self.matvec(
                        wb,
                        seg.rows,
                        seg.rank,
                        t,
                        d,
                        f"Algorithm 1 line 3: O[{pos}:{pos + seg.rows}] = B·t ({seg.rows}x{seg.rank})",
                        qt,
                        ldx=K,
                        ldy=ld_dst,
                    )
                )
                ops += seg.rows * seg.rank
        return MatPlan(calls, ops)
