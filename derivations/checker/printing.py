"""Plain one-line rendering of SymPy for the checker's messages: −D·log(2π)/2, Σᵢ (xᵢ − μᵢ)², 2σ².

Messages are read by learners, so names print as they are typed in the app (σ, μ₁, Σᵢ) and
numbers as they would be written by hand (2σ², not 2·σ**2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ",
    "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "ell": "ℓ",
}  # fmt: skip
_SUB = {
    "i": "ᵢ",
    "j": "ⱼ",
    "k": "ₖ",
    "n": "ₙ",
    "l": "ₗ",
    **{str(d): chr(0x2080 + d) for d in range(10)},
}


def greek(name: str) -> str:
    head, _, tail = name.partition("_")
    head = _GREEK.get(head, head)
    return f"{head}_{tail}" if tail else head


def subscript(text: str) -> str:
    if all(c in _SUB for c in text):
        return "".join(_SUB[c] for c in text)
    return "_" + text


class _PlainPrinter(StrPrinter):
    printmethod = "_plainstr"  # not Indexed's own _sympystr

    def _print_Symbol(self, expr):
        return greek(expr.name)

    def _print_Pi(self, expr):
        return "π"

    def _print_Exp1(self, expr):
        return "e"

    def _print_Indexed(self, expr):
        label = greek(str(expr.base.label))
        return label + "".join(subscript(self._print(k)) for k in expr.indices)

    def _print_Pow(self, expr, rational=False):
        base = self.parenthesize(expr.base, PRECEDENCE["Pow"], strict=True)
        if expr.exp == 2:
            return base + "²"
        if expr.exp == 3:
            return base + "³"
        if expr.exp == sp.S.Half:
            return "√" + self.parenthesize(expr.base, PRECEDENCE["Atom"], strict=True)
        if expr.exp == -1:
            return "1/" + base
        return base + "^" + self.parenthesize(expr.exp, PRECEDENCE["Pow"], strict=True)

    def _print_Sum(self, expr):
        body = self.parenthesize(expr.function, PRECEDENCE["Mul"], strict=True)
        out = body
        for idx, lo, hi in reversed(expr.limits):
            out = f"Σ{subscript(self._print(idx))} {out}"
            if lo != 1 or hi.is_number:
                out = f"Σ({self._print(idx)}={self._print(lo)}..{self._print(hi)}) {body}"
        return out

    def _print_Abs(self, expr):
        return "|" + self._print(expr.args[0]) + "|"


def plain(expr: sp.Basic) -> str:
    """A one-line, readable rendering: −D·log(2π)/2, Σᵢ (xᵢ − μᵢ)², 2σ²."""
    text = _PlainPrinter().doprint(expr).replace("*", "·").replace("-", "−")
    return _NUMBER_TIMES.sub(r"\1", text)  # 2·σ² -> 2σ², 2·π -> 2π


_NUMBER_TIMES = re.compile(r"(?<![\w.])(\d+)·(?=[^\W\d_]|\(|√)")


def display_name(key: str) -> str:
    """A counterexample's key as a learner reads it: "mu_1" -> μ₁, "sigma" -> σ."""
    head, _, tail = key.rpartition("_")
    if head and tail.isdigit():
        return greek(head) + subscript(tail)
    return greek(key)


def fmt(v: float | complex) -> str:
    """A number for a sentence: four significant digits, a real minus sign."""
    if isinstance(v, complex):
        return f"{v.real:.4g}{v.imag:+.4g}i"
    text = f"{v:.4g}"
    return text.replace("-", "−")


def display_object(obj: sp.Basic, names: Mapping) -> str:
    """A parameter (Symbol or IndexedBase) under the name a learner types for it."""
    if obj in names:
        return greek(names[obj])
    if isinstance(obj, sp.IndexedBase):
        return greek(str(obj.label))
    return plain(obj)


def params_text(parameters, names: Mapping, joiner: str = "and") -> str:
    """ "μ", "μ and σ", "μ, σ or λ": the parameters in a sentence."""
    shown = [display_object(p, names) for p in parameters]
    if not shown:
        return "the parameters"
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + f" {joiner} " + shown[-1]
