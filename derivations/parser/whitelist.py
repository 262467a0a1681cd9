"""Builder: the parser's tree -> SymPy, every name looked up in the whitelist.

SymPy constructors are called directly (no ``sympify``), and each intermediate result is
checked as it is built: exact numbers of more than `MAX_DIGITS` digits, powers that would
create them, roots of big numbers and undefined values are refused before SymPy computes them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import sympy as sp

from derivations.parser.limits import (
    MAX_BITS,
    MAX_DIGITS,
    MAX_EXPONENT,
    MAX_RADICALS,
    MAX_RADICAND,
    MAX_SUBSCRIPT,
    MAX_SUM_TERMS,
    ParseError,
)
from derivations.parser.names import ALIASES, CONSTANTS, FUNCTIONS

# Conventional (index, size) pairs, used when a namespace has both names.
_INDEX_SIZE_NAMES = (("i", "D"), ("j", "J"), ("k", "K"), ("n", "N"), ("l", "L"))


def sum_structure(exprs) -> dict[sp.Basic, tuple[sp.Symbol, sp.Expr]]:
    """How a derivation sums: index -> (index, upper limit) and vector -> (its index, upper).

    `parse` uses it so that ``sum(mu_z^2)`` in the ELBO sums over the latent index j up to J
    while ``sum((x-mu)^2)`` sums over the pixels i up to D.
    """
    out: dict[sp.Basic, tuple[sp.Symbol, sp.Expr]] = {}
    for expr in exprs:
        for node in sp.preorder_traversal(expr):
            if not isinstance(node, (sp.Sum, sp.Product)):
                continue
            for limit in node.limits:
                if len(limit) != 3:
                    continue
                idx, _, upper = limit
                out.setdefault(idx, (idx, upper))
                for ind in node.function.atoms(sp.Indexed):
                    if idx in ind.indices:
                        out.setdefault(ind.base, (idx, upper))
    return out


def _number(text: str, pos: int) -> sp.Rational:
    mantissa, _, exponent = text.lower().partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0") or "0"
    exp10 = (int(exponent) if exponent else 0) - len(frac)
    if abs(exp10) > 300:
        raise ParseError(f"number {text} is too large or too small", pos)
    value = int(digits)
    if exp10 >= 0:
        return sp.Integer(value * 10**exp10)
    return sp.Rational(value, 10**-exp10)


def rational_bits(r: sp.Rational) -> int:
    return max(abs(int(r.p)).bit_length(), int(r.q).bit_length())


def _max_bits(expr: sp.Basic) -> int:
    return max((rational_bits(a) for a in expr.atoms(sp.Rational)), default=1)


def _names_in(node) -> list[tuple[str, list]]:
    """Every (name, subscripts) in a syntax tree, without recursion limits mattering (depth<=50)."""
    found = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple) and item and item[0] == "name":
            found.append((item[1], item[2]))
        elif isinstance(item, (tuple, list)):
            stack.extend(part for part in item if isinstance(part, (tuple, list)))
    return found


class Builder:
    def __init__(
        self,
        symbols: Mapping[str, sp.Basic],
        sums: Mapping[sp.Basic, tuple[sp.Symbol, sp.Expr]] | None,
    ) -> None:
        self.symbols = dict(symbols)
        self.sums = dict(sums or {})
        for index_name, size_name in _INDEX_SIZE_NAMES:
            idx, size = self.symbols.get(index_name), self.symbols.get(size_name)
            if isinstance(idx, sp.Symbol) and isinstance(size, sp.Expr):
                self.sums.setdefault(idx, (idx, size))
        self.default = self.default_sum()
        self.scopes: list[sp.Symbol] = []  # indices of the sums we are inside
        self.radicals = 0

    def default_sum(self) -> tuple[sp.Symbol, sp.Expr] | None:
        idx = self.symbols.get("i")
        if idx in self.sums:
            return self.sums[idx]
        for key, value in self.sums.items():
            if isinstance(key, sp.Symbol):
                return value
        return None

    def build(self, node: tuple) -> sp.Expr:
        kind = node[0]
        if kind == "num":
            return _number(node[1], node[2])
        if kind == "name":
            return self.name(node)
        if kind == "neg":
            return self.checked(sp.Mul(sp.S.NegativeOne, self.build(node[1])), node[2])
        if kind == "add":
            terms = []
            for op, part in node[1]:
                value = self.build(part)
                terms.append(value if op == "+" else sp.Mul(sp.S.NegativeOne, value))
            return self.checked(sp.Add(*terms), node[2])
        if kind == "mul":
            factors = []
            for op, part in node[1]:
                value = self.build(part)
                if op == "/":
                    if value == 0:
                        raise ParseError("division by zero", node[2])
                    value = self.power(value, sp.S.NegativeOne, node[2])
                factors.append(value)
            return self.checked(sp.Mul(*factors), node[2])
        if kind == "^":
            return self.power(self.build(node[1]), self.build(node[2]), node[3])
        if kind == "call":
            return self.call(node[1], node[2], node[3])
        if kind == "sum":
            return self.sum(node[1], node[2], node[3], node[4], node[5])
        if kind == "norm":
            return self.norm(node[1], node[2])
        raise ParseError("could not understand this expression")  # pragma: no cover

    def checked(self, expr: sp.Basic, pos: int | None) -> sp.Basic:
        """Refuse exact numbers with more than MAX_DIGITS digits as soon as they appear."""
        for part in (expr, *expr.args):
            if isinstance(part, sp.Rational) and rational_bits(part) > MAX_BITS:
                raise ParseError(
                    f"number too large (more than {MAX_DIGITS} digits); keep the numbers small",
                    pos,
                )
        if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise ParseError(
                "the expression is undefined here: it divides by zero or takes log(0)", pos
            )
        return expr

    # names
    def lookup(self, word: str) -> sp.Basic | None:
        if word in self.symbols:
            return self.symbols[word]
        for alias in ALIASES.get(word, ()):
            if alias in self.symbols:
                return self.symbols[alias]
        return CONSTANTS.get(word)

    def known_names(self) -> str:
        names = sorted(self.symbols, key=str.lower)
        return ", ".join(names + [c for c in CONSTANTS if c not in self.symbols])

    def resolve(self, word: str, subs: list) -> tuple[str, sp.Basic | None, list]:
        """The longest name that exists: mu_z_j is mu_z with index j; x_i is x with index i."""
        for k in range(len(subs), -1, -1):
            full = "_".join([word] + [s for s, _ in subs[:k]])
            obj = self.lookup(full)
            if obj is not None:
                return full, obj, subs[k:]
        return word, None, subs

    def name(self, node: tuple) -> sp.Expr:
        _, word, subs, pos = node
        full, obj, rest = self.resolve(word, subs)
        if obj is None:
            if word in FUNCTIONS:
                raise ParseError(f"{word} needs an argument, like {word}(x)", pos)
            hint = " (put * between names, e.g. x*mu)" if len(word) > 1 and word.isalpha() else ""
            raise ParseError(
                f"unknown name {word!r}{hint}; names you can use here: {self.known_names()}", pos
            )
        if not rest:
            if isinstance(obj, sp.IndexedBase):
                if self.scopes:
                    return obj[self.scopes[-1]]
                raise ParseError(
                    f"{full} is a vector here: write {full}_i for one entry, or put it inside "
                    f"sum(...) to add over the entries",
                    pos,
                )
            if not isinstance(obj, sp.Expr):
                raise ParseError(f"{full!r} cannot be used in an expression here", pos)
            return obj
        if len(rest) > 1:
            shown = "_".join([full] + [s for s, _ in rest])
            raise ParseError(f"{shown}: a vector entry takes one index, like {full}_i", pos)
        sub_text, sub_pos = rest[0]
        if not isinstance(obj, sp.IndexedBase):
            if isinstance(obj, sp.Symbol) and obj.is_integer:
                raise ParseError(f"{full} is a size or an index here; it takes no subscript", pos)
            raise ParseError(
                f"this step has one shared {full}; {full}_{sub_text} is not defined here", pos
            )
        return obj[self.subscript_value(full, sub_text, sub_pos)]

    def subscript_value(self, word: str, sub: str, pos: int) -> sp.Expr:
        if sub.isdigit():
            k = int(sub)
            if not 1 <= k <= MAX_SUBSCRIPT:
                raise ParseError(f"{word}_{sub}: entries are numbered from 1", pos)
            return sp.Integer(k)
        for scope in reversed(self.scopes):
            if scope.name == sub:
                return scope
        obj = self.lookup(sub)
        if isinstance(obj, sp.Symbol) and obj.is_integer:
            return obj
        hint = self.index_for_vector(self.lookup(word))
        index = hint.name if hint is not None else "i"
        raise ParseError(
            f"unknown index {sub!r} in {word}_{sub}; use {index}, as in {word}_{index}", pos
        )

    def index_for_vector(self, obj) -> sp.Symbol | None:
        if obj in self.sums:
            return self.sums[obj][0]
        return self.default[0] if self.default else None

    # sums
    def choose_sum(self, body: tuple, pos: int) -> tuple[sp.Symbol, sp.Expr]:
        """The index and size of an unlabelled sum: from the indices or vectors it mentions."""
        typed, vectors = set(), set()
        for word, subs in _names_in(body):
            _, obj, rest = self.resolve(word, subs)
            if isinstance(obj, sp.IndexedBase):
                if len(rest) == 1:
                    idx = self.lookup(rest[0][0])
                    if isinstance(idx, sp.Symbol) and idx in self.sums:
                        typed.add(self.sums[idx])
                elif not rest and obj in self.sums:
                    vectors.add(self.sums[obj])
        for candidates in (typed, vectors):
            if len(candidates) == 1:
                return candidates.pop()
        if self.default is None:
            raise ParseError("there is no sum over an index in this step", pos)
        return self.default

    def sum(self, body: tuple, index, lower, upper, pos: int) -> sp.Expr:
        if index is None:
            idx, size = self.choose_sum(body, pos)
        else:
            word, ipos = index
            existing = self.lookup(word)
            sizes = {v[1] for v in self.sums.values()}
            if isinstance(existing, sp.Symbol) and existing.is_integer and existing not in sizes:
                idx = existing
            elif existing is None and len(word) == 1:
                idx = sp.Symbol(word, integer=True, positive=True)
            else:
                raise ParseError(f"{word!r} cannot be a sum index; use a letter like i", ipos)
            size = self.sums[idx][1] if idx in self.sums else None
        if idx in self.scopes:
            raise ParseError(f"a sum over {idx} inside another sum over {idx}", pos)
        lo = self.build(lower) if lower is not None else sp.S.One
        if upper is not None:
            hi = self.build(upper)
        elif size is not None:
            hi = size
        else:
            raise ParseError(f"this step has no size to sum {idx} up to; write the limits", pos)
        for limit in (lo, hi):
            if limit.has(idx):
                raise ParseError("the limits of a sum cannot contain its own index", pos)
            if limit.is_number and not limit.is_integer:
                raise ParseError("the limits of a sum must be whole numbers", pos)
        span = hi - lo
        if span.is_number and span > MAX_SUM_TERMS:
            raise ParseError(f"a sum may have at most {MAX_SUM_TERMS} terms", pos)
        self.scopes.append(idx)
        try:
            expr = self.build(body)
        finally:
            self.scopes.pop()
        return self.checked(sp.Sum(expr, (idx, lo, hi)), pos)

    def norm(self, body: tuple, pos: int) -> sp.Expr:
        """‖v‖ = sqrt(Σ v_i²); SymPy turns ‖v‖² back into the plain sum."""
        if self.default is None:
            raise ParseError("there is no vector to take a norm of in this step", pos)
        idx, size = self.choose_sum(body, pos)
        if idx in self.scopes:
            raise ParseError("a norm inside a sum over the same index", pos)
        self.scopes.append(idx)
        try:
            inner = self.build(body)
        finally:
            self.scopes.pop()
        return sp.sqrt(sp.Sum(sp.Pow(inner, 2), (idx, 1, size)))

    # operators
    def power(self, base: sp.Expr, exp: sp.Expr, pos: int) -> sp.Expr:
        if exp.is_Number:
            if abs(exp) > MAX_EXPONENT:
                raise ParseError(
                    f"exponent too large ({exp}); exponents are limited to ±{MAX_EXPONENT}", pos
                )
            if base.is_number:
                bits = _max_bits(base) * abs(exp)
                if bits > MAX_BITS:
                    digits = int(bits * math.log10(2))
                    raise ParseError(
                        f"number too large: this power has about {digits:,} digits "
                        f"(the limit is {MAX_DIGITS:,})",
                        pos,
                    )
        if base.is_number and not exp.is_integer:
            self.radical(base, pos)
        if base == 0 and (exp.is_negative or exp == 0):
            raise ParseError("0 to a negative (or zero) power is undefined", pos)
        return self.checked(sp.Pow(base, exp), pos)

    def radical(self, base: sp.Expr, pos: int) -> None:
        """SymPy factorises roots of plain numbers (slowly, for big ones): allow a few, small."""
        self.radicals += 1
        if self.radicals > MAX_RADICALS:
            raise ParseError(
                f"too many roots or exponentials of plain numbers (the limit is {MAX_RADICALS})",
                pos,
            )
        for r in base.atoms(sp.Rational):
            if abs(r.p) > MAX_RADICAND or r.q > MAX_RADICAND:
                raise ParseError(
                    f"numbers inside roots and exponentials are limited to {MAX_RADICAND:,}; "
                    f"{r} is too large",
                    pos,
                )

    def call(self, name: str, args: list[tuple], pos: int) -> sp.Expr:
        lo, hi = FUNCTIONS[name]
        if not lo <= len(args) <= hi:
            if lo == hi:
                want = f"{lo} argument" + ("s" if lo > 1 else "")
            else:
                want = f"{lo} to {hi} arguments"
            raise ParseError(f"{name} takes {want}, not {len(args)}", pos)
        if name == "sum":
            if len(args) == 3:
                raise ParseError("write sum(expr), sum(expr, i) or sum(expr, i, 1, D)", pos)
            index = None
            if len(args) >= 2:
                if args[1][0] != "name" or args[1][2]:
                    raise ParseError("the second argument of sum must be the index, like i", pos)
                index = (args[1][1], args[1][3])
            lower, upper = (args[2], args[3]) if len(args) == 4 else (None, None)
            return self.sum(args[0], index, lower, upper, pos)
        if name == "mean":
            total = self.sum(args[0], None, None, None, pos)
            return self.checked(total / total.limits[0][2], pos)
        if name == "norm":
            return self.norm(args[0], pos)
        values = [self.build(a) for a in args]
        a = values[0]
        if a.is_number and name in ("exp", "sigmoid", "softplus", "logsigmoid"):
            self.radical(a, pos)  # exp(log(7)/2) becomes sqrt(7): same budget as roots
        if name in ("log", "ln"):
            if a == 0:
                raise ParseError("log(0) is undefined", pos)
            out = sp.log(a)
        elif name == "exp":
            out = sp.exp(a)
        elif name == "sqrt":
            out = self.power(a, sp.S.Half, pos)
        elif name == "abs":
            out = sp.Abs(a)
        elif name == "softplus":
            out = sp.log(1 + sp.exp(a))
        elif name == "sigmoid":
            out = 1 / (1 + sp.exp(-a))
        elif name == "logsigmoid":
            out = -sp.log(1 + sp.exp(-a))
        elif name == "log1p":
            out = sp.log(1 + a)
        elif name == "tanh":
            out = sp.tanh(a)
        elif name in ("atanh", "artanh", "arctanh"):
            out = sp.atanh(a)
        elif name == "erf":
            out = sp.erf(a)
        elif name == "max":
            out = sp.Max(*values)
        elif name == "min":
            out = sp.Min(*values)
        else:  # pragma: no cover - FUNCTIONS and this chain are kept in step
            raise ParseError(f"unknown function {name!r}", pos)
        return self.checked(out, pos)
