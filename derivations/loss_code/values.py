"""What the reader computes with: exact coefficients, elementwise trees, and reduced loss terms.
(Over 500 lines: these value types and their algebra are one closed set, which the evaluator and
the call table both build on.)

A pasted loss is read symbolically. A tensor expression that has not been reduced yet is a `Tensor`
(a small tree over the code's tensor names); `classify` recognises it as a per-pixel loss (squared
error, absolute error, cross-entropy) or as the per-latent KL(N(μ, σ²) ‖ N(0, 1)), and turns it into
a `Part`: that loss times a coefficient, over the axes not yet reduced. A `Loss` is a sum of parts.
Coefficients are exact (`Coef`): a fraction times powers of the sizes D, J and B, so a mean is
remembered as "divided by D", not just as a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction

from derivations.loss_code.limits import LossCodeError

MAX_BITS = 4000  # numerator/denominator size of any exact number the code builds
MAX_TERMS = 64  # monomials in an expanded elementwise expression


def as_fraction(value: float | int | Fraction, line: int | None = None) -> Fraction:
    if isinstance(value, Fraction):
        result = value
    elif isinstance(value, bool):
        raise LossCodeError("a True/False value is not a number here", line)
    elif isinstance(value, int):
        result = Fraction(value)
    else:
        if not math.isfinite(value):
            raise LossCodeError(f"the number {value!r} is not finite", line)
        result = Fraction(repr(float(value)))  # the decimal as written: 0.00025 = 1/4000
    if max(result.numerator.bit_length(), result.denominator.bit_length()) > MAX_BITS:
        raise LossCodeError("a number in the code is too large to work with", line)
    return result


@dataclass(frozen=True)
class Coef:
    """const · D^d · J^j · B^b, exactly."""

    const: Fraction = Fraction(1)
    d: int = 0
    j: int = 0
    b: int = 0

    def __mul__(self, other: Coef) -> Coef:
        return Coef(
            as_fraction(self.const * other.const),
            self.d + other.d,
            self.j + other.j,
            self.b + other.b,
        )

    def inverse(self) -> Coef:
        if self.const == 0:
            raise LossCodeError("division by zero")
        return Coef(1 / self.const, -self.d, -self.j, -self.b)

    def __truediv__(self, other: Coef) -> Coef:
        return self * other.inverse()

    def power(self, n: int) -> Coef:
        bits = max(self.const.numerator.bit_length(), self.const.denominator.bit_length())
        if bits * abs(n) > MAX_BITS:
            raise LossCodeError("a power in the code is too large to work with")
        return Coef(as_fraction(self.const**n), self.d * n, self.j * n, self.b * n)

    def value(self, D: int, J: int, B: int) -> Fraction:
        return self.const * Fraction(D) ** self.d * Fraction(J) ** self.j * Fraction(B) ** self.b

    @property
    def pure(self) -> bool:
        return self.d == self.j == self.b == 0


ONE = Coef()

# --- axes -----------------------------------------------------------------------------------
# An axis is (label, size). Labels: "B" batch, "J" latent, "D" all pixels flattened, "BD" batch and
# pixels flattened together, "d0", "d1", ... the per-example data axes, "n" anything else.


def axis_coef(axes: tuple[tuple[str, int], ...], all_data: bool) -> Coef:
    """1 / (product of the sizes), with D, J, B kept symbolic where an axis is one of them."""
    coef = ONE
    rest = Fraction(1)
    for label, size in axes:
        if label == "B":
            coef = coef * Coef(b=-1)
        elif label == "J":
            coef = coef * Coef(j=-1)
        elif label == "D":
            coef = coef * Coef(d=-1)
        elif label == "BD":
            coef = coef * Coef(b=-1, d=-1)
        elif label.startswith("d") and all_data:
            continue
        else:
            rest *= size
    if all_data:
        coef = coef * Coef(d=-1)
    return coef * Coef(as_fraction(1 / rest))


@dataclass(frozen=True)
class Part:
    """coef · Σ over reduced axes of the per-element loss ``kind`` ("recon" or "kl")."""

    kind: str
    family: str  # squared, l1, huber, bce (recon) or "kl"
    coef: Coef
    axes: tuple[tuple[str, int], ...]
    lines: frozenset[int] = frozenset()
    names: tuple[str, ...] = ()  # recon: (prediction, target); kl: (mean, spread)
    form: str = ""  # kl: logvar, std, var, logstd; recon bce: "probs" or "logits"
    delta: Fraction | None = None  # huber threshold
    detached: bool = False
    needs: frozenset[str] = frozenset()  # names whose values the coefficient used

    def scaled(self, c: Coef, lines=frozenset(), needs=frozenset()) -> Part:
        return replace(self, coef=self.coef * c, lines=self.lines | lines, needs=self.needs | needs)

    def key(self) -> tuple:
        return (self.kind, self.family, self.names, self.form, self.delta, self.detached)


@dataclass(frozen=True)
class Loss:
    """A sum of parts with a common (broadcast) shape; ``dropped`` counts additive constants."""

    parts: tuple[Part, ...]
    axes: tuple[tuple[str, int], ...]
    dropped: bool = False

    def scaled(self, c: Coef, lines=frozenset(), needs=frozenset()) -> Loss:
        return replace(self, parts=tuple(p.scaled(c, lines, needs) for p in self.parts))


def broadcast(a: tuple, b: tuple, line: int | None) -> tuple:
    """NumPy broadcasting of two axis tuples (right-aligned; size-1 axes stretch)."""
    out = []
    for k in range(1, max(len(a), len(b)) + 1):
        x = a[-k] if k <= len(a) else None
        y = b[-k] if k <= len(b) else None
        if x is None or (x[1] == 1 and y is not None):
            out.append(y)
        elif y is None or y[1] == 1 or x == y or x[1] == y[1]:
            out.append(x)
        else:
            raise LossCodeError(f"terms of shapes {sizes(a)} and {sizes(b)} cannot be added", line)
    return tuple(reversed(out))


def sizes(axes: tuple) -> tuple[int, ...]:
    return tuple(s for _, s in axes)


def add_losses(x: Loss, y: Loss, line: int | None) -> Loss:
    axes = broadcast(x.axes, y.axes, line)
    merged: list[Part] = []
    for part in x.parts + y.parts:
        for n, seen in enumerate(merged):
            if seen.key() == part.key() and seen.axes == part.axes:
                c1, c2 = seen.coef, part.coef
                if (c1.d, c1.j, c1.b) == (c2.d, c2.j, c2.b):
                    merged[n] = replace(
                        seen,
                        coef=Coef(c1.const + c2.const, c1.d, c1.j, c1.b),
                        lines=seen.lines | part.lines,
                        needs=seen.needs | part.needs,
                    )
                    break
        else:
            merged.append(part)
    merged = [p for p in merged if p.coef.const != 0]
    return Loss(tuple(merged), axes, x.dropped or y.dropped)


def reduce_loss(
    loss: Loss,
    op: str,
    dims: tuple[int, ...] | None,
    keepdim: bool,
    lines,
    line,
    per_example=False,
    data_rank: int = 0,
) -> Loss:
    """Sum or mean over ``dims`` of the loss's shape (all axes when None; all but the batch axis
    inside a per-example function such as one under ``jax.vmap``). A mean over every one of the
    ``data_rank`` per-example data axes at once divides by the symbol D; any other mean divides
    by the numbers it averages over."""
    rank = len(loss.axes)
    if dims is None:
        dims = tuple(range(1 if per_example and rank else 0, rank))
    resolved = set()
    for d in dims:
        if not -rank <= d < rank:
            raise LossCodeError(f"axis {d} does not exist: the term has {rank} axes", line)
        resolved.add(d % rank)
    parts = []
    for part in loss.parts:
        offset = rank - len(part.axes)
        coef = ONE
        reduced = []
        kept = []
        for k, ax in enumerate(loss.axes):
            own = k - offset
            if k in resolved:
                if own < 0 or (part.axes[own][1] == 1 and ax[1] != 1):
                    if op == "sum" and ax[1] != 1:  # summing a broadcast copy multiplies it
                        coef = coef * axis_coef((ax,), False).inverse()
                    if own >= 0:
                        reduced.append(part.axes[own])
                    continue
                reduced.append(part.axes[own])
            elif own >= 0:
                kept.append(part.axes[own])
        if op == "mean":
            everything = {f"d{k}" for k in range(data_rank)}
            reduced_labels = {a[0] for a in reduced}
            all_data = bool(everything) and everything <= reduced_labels
            coef = coef * axis_coef(tuple(reduced), all_data)
        if keepdim:
            kept = [a if k not in resolved else ("n", 1) for k, a in enumerate(part.axes)]
        parts.append(
            replace(part, coef=part.coef * coef, axes=tuple(kept), lines=part.lines | lines)
        )
    axes = tuple(a for k, a in enumerate(loss.axes) if k not in resolved)
    if keepdim:
        axes = tuple(a if k not in resolved else ("n", 1) for k, a in enumerate(loss.axes))
    return Loss(tuple(parts), axes, loss.dropped)


# --- elementwise trees ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tensor:
    """An elementwise expression not reduced yet. ``tree`` nodes are tuples:
    ("leaf", name), ("const", Coef), ("add", a, b), ("mul", a, b), ("pow", a, Fraction),
    ("exp", a), ("log", a), ("abs", a), ("part", Part) for a library loss with reduction='none'."""

    tree: tuple
    axes: tuple | None = None  # set by an explicit reshape; otherwise from the leaves' role
    lines: frozenset[int] = frozenset()
    per_example: bool = False


def leaf(name: str) -> Tensor:
    return Tensor(("leaf", name))


def const(c: Coef) -> Tensor:
    return Tensor(("const", c))


def leaves(tree: tuple) -> set[str]:
    out: set[str] = set()
    seen: set[int] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node[0] == "leaf":
            out.add(node[1])
        elif node[0] not in ("const", "part"):
            stack.extend(child for child in node[1:] if isinstance(child, tuple))
        if len(seen) > MAX_WORK:
            raise LossCodeError("an elementwise expression is too large to read")
    return out


# A monomial is a sorted tuple of (atom, exponent); atoms are ("v", name), ("exp", name, c) for
# exp(c·name), ("log", name), ("log1m", name) for log(1 − name), ("abs", a, b) for |a − b|.
Poly = dict


def _mono_mul(m1: tuple, m2: tuple) -> tuple:
    powers: dict = {}
    for atom, e in m1 + m2:
        powers[atom] = powers.get(atom, 0) + e
    merged: dict = {}
    for atom, e in powers.items():
        if atom[0] == "exp":  # exp(a·x)·exp(b·x) = exp((a + b)·x); exp(a·x)^e = exp(a·e·x)
            key = ("exp", atom[1])
            merged[key] = merged.get(key, 0) + atom[2] * e
        elif e != 0:
            merged[atom] = e
    out = []
    for atom, e in merged.items():
        if atom[0] == "exp":
            if e != 0:
                out.append((("exp", atom[1], Fraction(e)), Fraction(1)))
        else:
            out.append((atom, Fraction(e)))
    return tuple(sorted(out))


def _poly_add(p: Poly, q: Poly, sign: int = 1) -> Poly:
    out = dict(p)
    for m, c in q.items():
        out[m] = out.get(m, 0) + sign * c
        if out[m] == 0:
            del out[m]
    if len(out) > MAX_TERMS:
        raise LossCodeError("an elementwise expression is too long to expand")
    return out


def _poly_mul(p: Poly, q: Poly) -> Poly:
    out: Poly = {}
    for m1, c1 in p.items():
        for m2, c2 in q.items():
            out = _poly_add(out, {_mono_mul(m1, m2): c1 * c2})
    return out


def _single_atom(p: Poly):
    """(coefficient, atom, exponent) when p is c·atom^e, else None."""
    if len(p) == 1:
        ((m, c),) = p.items()
        if len(m) == 1:
            return c, m[0][0], m[0][1]
    return None


EPS = Fraction(1, 1000)  # a constant this small inside a log is numerical safety, not modelling


MAX_WORK = 20_000  # tree nodes expanded per classification


def expand(tree: tuple, line: int | None, notes: list[str], memo: dict | None = None) -> Poly:
    """The tree as a polynomial in atoms (coefficients exact; sizes must be numbers here).
    Trees share subtrees (``a = a + a`` doubles nothing in memory), so results are memoised by
    node identity and the work is capped."""
    if memo is None:
        memo = {"work": 0}
    key = id(tree)
    if key in memo:
        return memo[key][1]
    memo["work"] += 1
    if memo["work"] > MAX_WORK:
        raise LossCodeError("an elementwise expression is too large to read", line)
    result = _expand(tree, line, notes, memo)
    memo[key] = (tree, result)  # keep the tree alive so its id is not reused
    return result


def _expand(tree: tuple, line, notes, memo) -> Poly:
    kind = tree[0]
    if kind == "leaf":
        return {((("v", tree[1]), Fraction(1)),): Fraction(1)}
    if kind == "const":
        c = tree[1]
        if not c.pure:
            raise LossCodeError("a size inside an elementwise expression is not supported", line)
        return {(): c.const} if c.const else {}
    if kind == "part":
        raise LossCodeError(
            "a library loss with reduction='none' cannot be combined elementwise", line
        )
    if kind == "add":
        return _poly_add(expand(tree[1], line, notes, memo), expand(tree[2], line, notes, memo))
    if kind == "mul":
        return _poly_mul(expand(tree[1], line, notes, memo), expand(tree[2], line, notes, memo))
    if kind == "pow":
        base, n = expand(tree[1], line, notes, memo), tree[2]
        single = _single_atom(base)
        if single is not None and (n.denominator != 1 or n < 0):
            c, atom, e = single
            if c <= 0 and n.denominator != 1:
                raise LossCodeError("a root of a negative quantity", line)
            if n.denominator != 1 and c != 1:
                raise LossCodeError("a root of a scaled tensor is not supported", line)
            return {
                _mono_mul(((atom, e * n),), ()): Fraction(c) ** int(n) if n.denominator == 1 else 1
            }
        if n.denominator != 1 or not 0 <= n <= 4:
            raise LossCodeError(f"the power {n} of a sum is not supported (0 to 4 only)", line)
        out: Poly = {(): Fraction(1)}
        for _ in range(int(n)):
            out = _poly_mul(out, base)
        return out
    if kind == "exp":
        arg = expand(tree[1], line, notes, memo)
        if not arg:
            return {(): Fraction(1)}
        single = _single_atom(arg)
        if single and single[1][0] == "v" and single[2] == 1:
            return {((("exp", single[1][1], Fraction(single[0])), Fraction(1)),): Fraction(1)}
        if single and single[1][0] == "log":  # exp(c·log x) = x^c
            return {((("v", single[1][1]), Fraction(single[0] * single[2])),): Fraction(1)}
        raise LossCodeError("exp() of this expression is not supported (exp of c·name only)", line)
    if kind == "log":
        arg = expand(tree[1], line, notes, memo)
        consts = {m: c for m, c in arg.items() if m == ()}
        rest = {m: c for m, c in arg.items() if m != ()}
        small = consts.get((), Fraction(0))
        single = _single_atom(rest)
        if single and single[1][0] == "exp" and not small:
            c, atom, e = single
            if c != 1:
                raise LossCodeError("log() of a scaled exp() is not supported", line)
            return {((("v", atom[1]), Fraction(1)),): atom[2] * e}
        if single and single[1][0] == "v" and single[0] == 1:
            if small and abs(small) > EPS:
                raise LossCodeError("log(name + constant) is not a likelihood I can read", line)
            if small:
                notes.append(f"the {float(small):g} added inside log() for safety is ignored")
            return {((("log", single[1][1]), Fraction(1)),): single[2]}
        if len(rest) == 1 and single and single[1][0] == "v" and single[0] == -1 and single[2] == 1:
            one = small - 1
            if abs(one) > EPS:
                raise LossCodeError("log(constant − name) is supported only as log(1 − name)", line)
            if one:
                notes.append(f"the {float(one):g} added inside log(1 − ·) for safety is ignored")
            return {((("log1m", single[1][1]), Fraction(1)),): Fraction(1)}
        raise LossCodeError("log() of this expression is not supported", line)
    if kind == "abs":
        arg = expand(tree[1], line, notes, memo)
        terms = sorted(arg.items())
        if len(terms) == 2 and all(
            len(m) == 1 and m[0][1] == 1 and m[0][0][0] == "v" for m, _ in terms
        ):
            (m1, c1), (m2, c2) = terms
            if c1 == -c2:
                a, b = sorted((m1[0][0][1], m2[0][0][1]))
                return {((("abs", a, b), Fraction(1)),): abs(c1)}
        raise LossCodeError("abs() is read only of a difference of two tensors", line)
    raise LossCodeError(f"unsupported elementwise operation {kind}", line)


def _v(name, e=1):
    return (("v", name), Fraction(e))


def _match_recon(poly: Poly) -> tuple[str, Fraction, tuple[str, str], str] | None:
    """(family, coefficient, (prediction, target), form) of a per-pixel loss, or None.
    An additive constant is allowed (dropped by the caller)."""
    body = {m: c for m, c in poly.items() if m != ()}
    if len(body) == 1:
        ((m, c),) = body.items()
        if len(m) == 1 and m[0][0][0] == "abs" and m[0][1] == 1:
            return "l1", c, (m[0][0][1], m[0][0][2]), ""
    names = sorted({a[1] for m in body for a, _ in m if a[0] in ("v", "log", "log1m")})
    if len(body) == 3 and len(names) == 2:
        p, t = names
        c = body.get((_v(p, 2),))
        if (
            c is not None
            and body.get((_v(t, 2),)) == c
            and body.get(tuple(sorted((_v(p), _v(t))))) == -2 * c
        ):
            return "squared", c, (p, t), ""
        for pred, target in ((p, t), (t, p)):
            lg = ((("log", pred), Fraction(1)),)
            l1m = ((("log1m", pred), Fraction(1)),)
            c = body.get(tuple(sorted((_v(target), *lg))))
            if (
                c is not None
                and body.get(l1m) == c
                and body.get(tuple(sorted((_v(target), *l1m)))) == -c
            ):
                return "bce", -c, (pred, target), "probs"
    return None


def _mono(*atoms) -> tuple:
    return tuple(sorted((atom, Fraction(e)) for atom, e in atoms))


_KL_FORMS = {
    # form: the KL element minus its ½μ² and −½ terms, in terms of the spread name s
    "logvar": lambda s: {
        _mono((("exp", s, Fraction(1)), 1)): Fraction(1, 2),
        _mono((("v", s), 1)): Fraction(-1, 2),
    },
    "logstd": lambda s: {
        _mono((("exp", s, Fraction(2)), 1)): Fraction(1, 2),
        _mono((("v", s), 1)): Fraction(-1),
    },
    "std": lambda s: {_mono((("v", s), 2)): Fraction(1, 2), _mono((("log", s), 1)): Fraction(-1)},
    "var": lambda s: {
        _mono((("v", s), 1)): Fraction(1, 2),
        _mono((("log", s), 1)): Fraction(-1, 2),
    },
}


def _match_kl(poly: Poly) -> tuple[Fraction, tuple[str, str], str] | None:
    """(coefficient c, (mean, spread), form) with poly = c · KL element, or None."""
    for m, c2 in poly.items():
        if not (len(m) == 1 and m[0][0][0] == "v" and m[0][1] == 2):
            continue
        mean, c = m[0][0][1], 2 * c2
        scaled = {mm: cc / c for mm, cc in poly.items() if mm != m}
        if scaled.pop((), None) != Fraction(-1, 2):
            continue
        spreads = {a[1] for mm in scaled for a, _ in mm} - {mean}
        for s in spreads:
            for form, template in _KL_FORMS.items():
                if scaled == template(s):
                    return c, (mean, s), form
    return None


def classify(t: Tensor, data_axes, latent_axes, line, notes: list[str]) -> Loss:
    """The elementwise tensor as a per-pixel loss or a KL term, over its axes."""
    if t.tree[0] == "part":
        part = t.tree[1]
        return Loss((replace(part, lines=part.lines | t.lines),), part.axes)
    poly = expand(t.tree, line, notes)
    recon = _match_recon(poly)
    if recon is not None:
        family, c, names, form = recon
        axes = t.axes if t.axes is not None else data_axes
        dropped = () in poly
        part = Part("recon", family, Coef(c), axes, t.lines, names, form)
        return Loss((part,), axes, dropped)
    kl = _match_kl(poly)
    if kl is not None:
        c, names, form = kl
        axes = t.axes if t.axes is not None else latent_axes
        part = Part("kl", "kl", Coef(c), axes, t.lines, names, form)
        return Loss((part,), axes)
    shown = ", ".join(sorted(leaves(t.tree))) or "constants"
    raise LossCodeError(
        f"this expression (in {shown}) is neither a per-pixel loss (squared error, absolute error, "
        "cross-entropy) nor the KL of N(μ, σ²) from N(0, 1)",
        line,
    )


@dataclass
class Notes:
    items: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        if text not in self.items:
            self.items.append(text)
