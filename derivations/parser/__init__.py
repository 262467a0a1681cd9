"""A safe parser for the maths a learner types: plain notation or a little LaTeX -> SymPy.

This is the one place where user text meets SymPy, so nothing here evaluates code: there is no
``eval``, ``exec``, ``compile``, ``ast``, ``sympify`` or ``parse_expr``. A hand-written tokenizer
turns the text into tokens, a Pratt (precedence-climbing) parser turns the tokens into a small
tree of tuples, and a builder turns that tree into SymPy objects by calling constructors
directly, looking every name up in a whitelist. One module each:

- `limits`     the size limits below and `ParseError`;
- `names`      the whitelist: functions, constants, Greek letters, aliases, refused words;
- `tokenizer`  text -> tokens (`tokenize`);
- `pratt`      tokens -> tree (`parse_tree`), with the nesting counter;
- `whitelist`  tree -> SymPy (`parse`), with the number and power guards.

The parser is hand-written on purpose: Python's ``ast`` reads Python, not ``2σ²`` or
``\\frac{1}{2}\\sum_i``; SymPy's ``parse_expr``/``sympify`` ``eval`` the text as Python; and
SymPy's ``parse_latex`` reads only LaTeX, through an extra ANTLR or Lark dependency.

Accepted (plain): numbers ``3``, ``0.5``, ``1e-3``; ``+ - * / ^`` (``**`` too), unary minus,
parentheses, implicit multiplication (``2sigma``, ``2 pi``, ``x_i mu_i``); the derivation's
names (``x``, ``mu``, ``sigma``, ``D``, ``i`` ...), Greek letters typed as words or as
``σ μ π β λ α ...``; ``pi`` and ``e`` (unless the derivation has its own); subscripts ``x_i``,
``mu_i``, ``x_1``, ``mu_z_j`` (the longest known name wins); functions ``log ln exp sqrt abs
sum mean norm softplus sigmoid logsigmoid log1p tanh atanh artanh arctanh erf max min``;
``sum(expr)`` = sum over the derivation's index ``i`` from 1 to ``D`` (also ``sum(expr, i)``,
``sum(expr, i, 1, D)``, ``Σ expr``, ``sum_i expr``); a sum over latent vectors (``mu_z``) runs
over their own index (``j`` to ``J``, see `sum_structure`); inside a sum a bare vector name means
its entry at the sum's index; ``|a|`` is abs. Unicode ``− × · ÷ √ ² ³ ⁻ ᵢ ₁ ½ Σ`` are
understood; a function written without brackets takes the implicit product after it
(``\\log 2\\pi\\sigma^2`` is log(2πσ²)).

Accepted (LaTeX, detected by a backslash or a brace): ``\\frac{a}{b}``, ``\\sqrt{a}``,
``\\log \\ln \\exp``, ``\\sum_{i=1}^{D}``, ``\\left( \\right)``, ``\\cdot \\times``, ``^{...}``,
``_{i}``, ``_{z,j}``, Greek commands, ``\\|x-\\mu\\|^2``, ``\\lvert a \\rvert``,
``\\operatorname{softplus}``, ``\\mathbf{x}``; surrounding ``$...$`` is dropped. As in LaTeX,
``x^23`` is x²·3 (refused: write ``x^{23}``).

Every rejection is a `ParseError` (a ``ValueError``) with a message a learner can act on.
Bounds: `MAX_LENGTH` characters, `MAX_TOKENS` tokens, `MAX_DEPTH` nesting, numbers of at most
`MAX_NUMBER_CHARS` characters, exact numbers of at most `MAX_DIGITS` digits (big powers are
refused before SymPy computes them), numeric exponents of at most `MAX_EXPONENT`, and at most
`MAX_RADICALS` roots of plain numbers (SymPy factorises those, which can be slow).
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from derivations.parser.limits import (
    MAX_BITS,
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_NUMBER_CHARS,
    MAX_RADICALS,
    MAX_RADICAND,
    MAX_SUBSCRIPT,
    MAX_SUM_TERMS,
    MAX_TOKENS,
    ParseError,
)
from derivations.parser.names import (
    ALIASES,
    CONSTANTS,
    FORBIDDEN_NAMES,
    FUNCTIONS,
    GREEK_LETTERS,
    LATEX_GREEK,
    default_symbols,
)
from derivations.parser.pratt import PrattParser
from derivations.parser.tokenizer import Token, tokenize
from derivations.parser.whitelist import Builder, rational_bits, sum_structure

__all__ = [
    "ALIASES",
    "CONSTANTS",
    "FORBIDDEN_NAMES",
    "FUNCTIONS",
    "GREEK_LETTERS",
    "LATEX_GREEK",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "MAX_NUMBER_CHARS",
    "MAX_RADICALS",
    "MAX_RADICAND",
    "MAX_SUBSCRIPT",
    "MAX_SUM_TERMS",
    "MAX_TOKENS",
    "ParseError",
    "Token",
    "default_symbols",
    "parse",
    "parse_tree",
    "sum_structure",
    "tokenize",
]


def parse_tree(text: str, symbols: Mapping[str, sp.Basic] | None = None) -> tuple:
    """The syntax tree (nested tuples) of `text`; no SymPy objects are built."""
    return PrattParser(tokenize(text, symbols)).parse()


def parse(
    text: str,
    symbols: Mapping[str, sp.Basic] | None = None,
    *,
    sums: Mapping[sp.Basic, tuple[sp.Symbol, sp.Expr]] | None = None,
) -> sp.Expr:
    """Parse a learner's expression into SymPy using only whitelisted names and functions.

    `symbols` is a derivation's ``symbols`` mapping (name -> Symbol or IndexedBase); without it
    the project's conventions are used (x, mu, sigma, D, i). `sums` (see `sum_structure`) says
    which index and size an unlabelled ``sum(...)`` uses for which vectors; without it ``i``
    runs to ``D`` (and ``j`` to ``J``) when those names exist. Raises ParseError (a ValueError).
    """
    namespace = default_symbols() if symbols is None else dict(symbols)
    tree = parse_tree(text, namespace)
    builder = Builder(namespace, sums)
    try:
        expr = builder.build(tree)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError(f"expression nested too deeply (more than {MAX_DEPTH} levels)") from None
    except (ArithmeticError, ValueError, TypeError, AttributeError) as exc:
        # SymPy's own evaluation of numbers can fail on odd inputs; never leak a traceback.
        raise ParseError(f"could not build this expression ({type(exc).__name__})") from None
    if not isinstance(expr, sp.Expr):
        raise ParseError("this is not a maths expression")
    for r in expr.atoms(sp.Rational):
        if rational_bits(r) > MAX_BITS:
            raise ParseError(f"number too large (more than {MAX_DIGITS} digits)")
    return expr
