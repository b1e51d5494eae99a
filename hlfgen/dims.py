"""Symbolic dimensions: one expression type for every tensor extent.

A dimension is a Python ``int`` (static) or a ``Dim``: an integer polynomial
over named symbols (graph-input ``dim_param``s such as ``T``, ``batch``,
``S``) and floor divisions of such polynomials by a positive constant (the
window count of a strided Slice/Conv: ``(T - 5) // 2 + 1``).  Arithmetic
with ints and Dims simplifies as it goes and returns a plain ``int`` whenever
the result is constant, so ``isinstance(d, int)`` means "static" everywhere.

    T = sym("T"); (T - 5) // 2 + 1; 2 * T * B; evaluate(d, {"T": 7}); c_expr(d, names)

Dims compare structurally (``==``, hashing); ``<``/``>`` raise TypeError on a
Dim (an order between symbols is not known).  ``dmax(d, bounds)`` is the
extent at the symbols' maxima, what the memory plan reserves: extents are
non-decreasing in each symbol (shape arithmetic of exporters is sums,
products and floor divisions with positive coefficients on the symbols).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd
from typing import Callable, Union

DimLike = Union[int, "Dim"]


@dataclass(frozen=True)
class FloorDiv:
    """An atom: floor(num / den), num a Dim (not constant), den > 1."""

    num: "Dim"
    den: int

    def __str__(self) -> str:
        return f"({self.num}) // {self.den}"


Atom = Union[str, FloorDiv]  # a symbol name or a floor division
Monomial = tuple  # sorted tuple of atoms (with repetition); () is the constant term


def _key(atom: Atom) -> tuple:
    return (0, atom) if isinstance(atom, str) else (1, str(atom))


def _make(terms: dict) -> DimLike:
    """Normalized Dim from {monomial: coef}; an int when only the constant term is left."""
    terms = {m: c for m, c in terms.items() if c != 0}
    if not terms:
        return 0
    if set(terms) == {()}:
        return terms[()]
    return Dim(tuple(sorted(terms.items(), key=lambda mc: [_key(a) for a in mc[0]])))


def _terms(x: DimLike) -> dict:
    if isinstance(x, Dim):
        return dict(x.terms)
    if isinstance(x, bool) or not isinstance(x, int):
        x = int(x)  # numpy integers
    return {(): x} if x else {}


@dataclass(frozen=True, eq=True)
class Dim:
    terms: tuple  # ((monomial, coef), ...), sorted; never constant-only (that is an int)

    # -- arithmetic ------------------------------------------------------------
    def __add__(self, other):
        if not _is_dimlike(other):
            return NotImplemented
        t = _terms(self)
        for m, c in _terms(other).items():
            t[m] = t.get(m, 0) + c
        return _make(t)

    __radd__ = __add__

    def __neg__(self):
        return _make({m: -c for m, c in self.terms})

    def __sub__(self, other):
        return self + (-other) if _is_dimlike(other) else NotImplemented

    def __rsub__(self, other):
        return (-self) + other if _is_dimlike(other) else NotImplemented

    def __mul__(self, other):
        if not _is_dimlike(other):
            return NotImplemented
        out: dict = {}
        for m1, c1 in _terms(self).items():
            for m2, c2 in _terms(other).items():
                m = tuple(sorted(m1 + m2, key=_key))
                out[m] = out.get(m, 0) + c1 * c2
        return _make(out)

    __rmul__ = __mul__

    def __floordiv__(self, k):
        return floordiv(self, k)

    def __rfloordiv__(self, other):
        raise TypeError(f"division by the symbolic extent {self}")

    # -- order: unknown between symbols ------------------------------------------
    def _no_order(self, other):
        raise TypeError(f"the symbolic extent {self} has no order against {other}")

    __lt__ = __le__ = __gt__ = __ge__ = _no_order

    def __int__(self):
        raise TypeError(f"the symbolic extent {self} is not a constant")

    def __index__(self):
        raise TypeError(f"the symbolic extent {self} is not a constant")

    # -- printing -----------------------------------------------------------------
    def __str__(self) -> str:
        return _fmt(self, lambda s: s, "//")

    __repr__ = __str__


def _is_dimlike(x) -> bool:
    return isinstance(x, Dim) or (isinstance(x, int) and not isinstance(x, bool)) or hasattr(x, "__index__")


def sym(name: str) -> Dim:
    """The symbol `name` as a dimension."""
    return Dim((((name,), 1),))


def floordiv(x: DimLike, k: int) -> DimLike:
    """floor(x / k) for a constant k > 0, simplified: floor((k*A + R) / k) = A + floor(R / k)."""
    k = int(k)
    if k <= 0:
        raise ValueError(f"floor division by {k}")
    if not isinstance(x, Dim):
        return int(x) // k
    if k == 1:
        return x
    exact, rest = {}, {}
    for m, c in x.terms:
        (exact if c % k == 0 else rest)[m] = c
    out = {m: c // k for m, c in exact.items()}
    if rest:
        const = rest.pop((), 0)
        q, r = divmod(const, k)
        out[()] = out.get((), 0) + q
        if rest:
            g = gcd(k, r, *rest.values())
            num = _make({**{m: c // g for m, c in rest.items()}, (): r // g})
            atom = FloorDiv(num, k // g)  # type: ignore[arg-type]
            out[(atom,)] = out.get((atom,), 0) + 1
        # else: only the constant remainder r < k: floor(r / k) = 0
    return _make(out)


def ceildiv(x: DimLike, k: int) -> DimLike:
    return floordiv(x + (k - 1), k)


# ----------------------------------------------------------------- evaluation
def evaluate(x: DimLike, env: dict) -> int:
    """The extent with every symbol replaced by env[symbol] (KeyError if one is missing)."""
    if not isinstance(x, Dim):
        return int(x)
    total = 0
    for m, c in x.terms:
        v = c
        for a in m:
            v *= env[a] if isinstance(a, str) else evaluate(a.num, env) // a.den
        total += v
    return total


def substitute(x: DimLike, env: dict) -> DimLike:
    """x with the symbols of env replaced by their values (ints or Dims); others kept."""
    if not isinstance(x, Dim):
        return int(x)
    total: DimLike = 0
    for m, c in x.terms:
        v: DimLike = c
        for a in m:
            v = v * (env.get(a, sym(a)) if isinstance(a, str) else floordiv(substitute(a.num, env), a.den))
        total = total + v
    return total


def symbols(x: DimLike) -> set:
    """The symbol names x depends on."""
    if not isinstance(x, Dim):
        return set()
    out: set = set()
    for m, _ in x.terms:
        for a in m:
            out |= {a} if isinstance(a, str) else symbols(a.num)
    return out


def dmax(x: DimLike, bounds: dict) -> int:
    """The extent at the symbols' maxima (memory plan)."""
    return evaluate(x, bounds)


def dmin(x: DimLike) -> int:
    """The extent with every symbol at 1 (the smallest run-time value)."""
    return evaluate(x, {s: 1 for s in symbols(x)})


def prod(dims) -> DimLike:
    out: DimLike = 1
    for d in dims:
        out = out * d
    return out


def as_symbol(x: DimLike) -> str | None:
    """The symbol name if x is exactly one symbol (coefficient 1), else None."""
    if isinstance(x, Dim) and len(x.terms) == 1:
        ((m, c),) = x.terms
        if c == 1 and len(m) == 1 and isinstance(m[0], str):
            return m[0]
    return None


def linear_in(x: DimLike) -> tuple[int, str] | None:
    """(k, symbol) if x is k*symbol with k > 0, else None."""
    if isinstance(x, Dim) and len(x.terms) == 1:
        ((m, c),) = x.terms
        if c > 0 and len(m) == 1 and isinstance(m[0], str):
            return c, m[0]
    return None


# ----------------------------------------------------------------- printing
def _fmt(x: DimLike, name: Callable[[str], str], div: str, c: bool = False) -> str:
    if not isinstance(x, Dim):
        return str(int(x))
    parts = []
    for m, coef in x.terms:
        if not m:
            parts.append((coef, str(abs(coef))))
            continue
        factors = []
        for a in m:
            if isinstance(a, str):
                factors.append(name(a))
            elif c:
                factors.append(_c_floordiv(a, name))
            else:
                factors.append(f"({_fmt(a.num, name, div)}) {div} {a.den}")
        body = " * ".join(factors)
        parts.append((coef, body if abs(coef) == 1 else f"{abs(coef)} * {body}"))
    # terms with a symbol first, the constant last: "2 * T - 1"
    parts.sort(key=lambda p: p[1].isdigit())
    out = ""
    for i, (coef, body) in enumerate(parts):
        if i == 0:
            out = ("-" if coef < 0 else "") + body
        else:
            out += (" - " if coef < 0 else " + ") + body
    return out


def _c_floordiv(a: FloorDiv, name) -> str:
    num = _fmt(a.num, name, "/", c=True)
    if dmin(a.num) >= 0:  # non-negative at every run-time value: C's / is the floor
        return f"(({num}) / {a.den})"
    return f"HLF_FLOORDIV({num}, {a.den})"


def c_expr(x: DimLike, name: Callable[[str], str]) -> str:
    """x as a C int expression; name(symbol) -> the C variable holding it."""
    return _fmt(x, name, "/", c=True)


def fmt_dim(x: DimLike) -> str:
    return str(x) if isinstance(x, Dim) else str(int(x))


def fmt_shape(shape) -> str:
    return "[" + ", ".join(fmt_dim(d) for d in shape) + "]"


# C: floor division for a possibly negative numerator (b > 0).
C_FLOORDIV_MACRO = (
    "#ifndef HLF_FLOORDIV\n#define HLF_FLOORDIV(a, b) ((a) >= 0 ? (a) / (b) : -((-(a) + (b) - 1) / (b)))\n#endif"
)


def exact_div(a: DimLike, b: DimLike) -> DimLike | None:
    """a / b when it divides exactly as expressions (T*H / H = T, 6*T / 3 = 2*T), else None."""
    if isinstance(b, Dim):
        if a == b:
            return 1
        if len(b.terms) != 1:
            return None
        ((mb, cb),) = b.terms
        out = {}
        for m, c in _terms(a).items():
            rest = list(m)
            for atom in mb:
                if atom not in rest:
                    return None
                rest.remove(atom)
            if c % cb:
                return None
            out[tuple(rest)] = c // cb
        q = _make(out)
    else:
        b = int(b)
        if b == 0:
            return None
        if any(c % b for c in _terms(a).values()):
            return None
        q = _make({m: c // b for m, c in _terms(a).items()})
    return q if q * b == a else None
