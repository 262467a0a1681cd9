"""LaTeX the way textbooks write it, for the very expressions the checker verifies.

SymPy stores a sum in its canonical order and a density's constant as a product of powers, so
`sp.latex` prints (−μᵢ + xᵢ)² and √2·e^{…}/(2√π σ). Only the *printing* changes here:

- a sum lists its positive terms first, so (xᵢ − μᵢ)² and x − μ read as in a textbook;
- a product with an exponential puts its constant in front as one fraction,
  1/(√(2π) σ) · exp(…), merging the square roots of numbers (√2·√π → √(2π));
- exp of anything longer than a symbol is written exp(…) rather than a tall e^{…}.

The expression objects are untouched, so a page never shows anything but what the code checks.
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.latex import LatexPrinter


def _is_negative_term(term: sp.Expr) -> bool:
    return term.could_extract_minus_sign()


def _is_constant_number(factor: sp.Expr) -> bool:
    """A number, π, or a power of them: the part of a density's normaliser that is not σ."""
    return factor.is_number and not factor.has(sp.exp)


class TextbookLatexPrinter(LatexPrinter):
    printmethod = "_latex"

    def _as_ordered_terms(self, expr, order=None):
        terms = list(super()._as_ordered_terms(expr, order=order))
        if isinstance(expr, sp.Add):
            # Stable: among positives (and among negatives) SymPy's order is kept.
            terms.sort(key=_is_negative_term)
        return terms

    def _print_Abs(self, expr, exp=None):
        # |xᵢ − μᵢ|, not SymPy's canonical |μᵢ − xᵢ|: the data come first, as in the squares.
        (argument,) = expr.args
        flipped = -argument
        if isinstance(argument, sp.Add) and self._leads_with_data(flipped):
            return self._do_exponent(rf"\left|{{{self._print(flipped)}}}\right|", exp)
        return super()._print_Abs(expr, exp)

    def _leads_with_data(self, expr: sp.Expr) -> bool:
        first = self._as_ordered_terms(expr)[0]
        return not first.could_extract_minus_sign() and any(
            t.base.label.name == "x" for t in first.atoms(sp.Indexed)
        )

    def _print_ExpBase(self, expr, exp=None):
        (argument,) = expr.args
        if argument.is_Atom or (-argument).is_Atom:
            return super()._print_ExpBase(expr, exp)
        tex = rf"\exp\left({self._print(argument)}\right)"
        return self._do_exponent(tex, exp)

    def _print_Mul(self, expr):
        factors = sp.Mul.make_args(expr)
        exps = [f for f in factors if isinstance(f, sp.exp)]
        if not exps or expr.could_extract_minus_sign():
            if exps and expr.could_extract_minus_sign():
                return "- " + self._print_Mul_textbook(-expr)
            return super()._print_Mul(expr)
        return self._print_Mul_textbook(expr)

    def _print_Mul_textbook(self, expr) -> str:
        """c · (others) · exp(…): the constant c = 1/(√(2π)·σ…) as one fraction in front."""
        factors = sp.Mul.make_args(expr)
        exps = [f for f in factors if isinstance(f, sp.exp)]
        if not exps:
            return super()._print_Mul(expr)
        numbers = [f for f in factors if f not in exps and _is_constant_number(f)]
        below = [
            f
            for f in factors
            if f not in exps and f not in numbers and f.is_Pow and f.exp.is_negative
        ]
        others = [f for f in factors if f not in exps and f not in numbers and f not in below]
        coefficient = sp.Mul(*numbers) * sp.Mul(*below)
        parts = []
        if coefficient != 1:
            parts.append(self._coefficient(coefficient))
        parts += [self._bracketed(f) for f in others]
        parts += [self._print(f) for f in exps]
        return " ".join(parts)

    def _bracketed(self, factor: sp.Expr) -> str:
        tex = self._print(factor)
        return rf"\left({tex}\right)" if isinstance(factor, sp.Add) else tex

    def _coefficient(self, coefficient: sp.Expr) -> str:
        numerator, denominator = sp.fraction(coefficient)
        if numerator.is_number and not numerator.is_Rational:
            # √2/(2√π σ) = 1/(√2·√π·σ): move an irrational numerator down, merge the roots.
            denominator, numerator = denominator / numerator, sp.Integer(1)
        if denominator == 1:
            return self._print(numerator)
        return rf"\frac{{{self._print(numerator)}}}{{{self._denominator(denominator)}}}"

    def _denominator(self, denominator: sp.Expr) -> str:
        roots, rest = [], []
        for factor in sp.Mul.make_args(denominator):
            if factor.is_number and factor.is_Pow and factor.exp == sp.S.Half:
                roots.append(factor.base)
            else:
                rest.append(factor)
        parts = []
        if roots:
            under = sp.Mul(*roots, evaluate=False) if len(roots) > 1 else roots[0]
            parts.append(rf"\sqrt{{{self._print(under)}}}")
        if rest:
            parts.append(self._print(sp.Mul(*rest)))
        return " ".join(parts)


def textbook_latex(expr: sp.Basic, **settings) -> str:
    """LaTeX for expr, printed the way textbooks write it (see the module docstring)."""
    return TextbookLatexPrinter(settings).doprint(expr)
