"""Laplace decoder → L1: log Laplace(x; μ, b) = −D·log(2b) − Σᵢ|xᵢ − μᵢ|/b."""

from __future__ import annotations

import sympy as sp
from sympy.stats import Laplace, density

from derivations.base import DATA_SYMBOLS, D, Derivation, Step, i, mu, per_pixel_start, x

b = sp.Symbol("b", positive=True)  # Laplace scale, fixed like the Gaussian's σ


def laplace_pdf(value: sp.Expr, mean: sp.Expr, scale: sp.Expr) -> sp.Expr:
    """exp(−|x − μ|/b)/(2b) as sympy.stats writes it."""
    return density(Laplace("X", mean, scale))(value)


def absolute_error_sum() -> sp.Expr:
    """Σᵢ |xᵢ − μᵢ|."""
    return sp.Sum(sp.Abs(x[i] - mu[i]), (i, 1, D))


def laplace_l1() -> Derivation:
    sae = absolute_error_sum()
    constant = -D * sp.log(2 * b)
    steps = (
        *per_pixel_start(laplace_pdf(x[i], mu[i], b), "Laplace density"),
        Step(
            constant - sae / b,
            "equal",
            "log Laplace(xᵢ; μᵢ, b) = −log(2b) − |xᵢ − μᵢ|/b, summed over D pixels.",
            label="expanded",
        ),
        Step(
            -sae / b,
            "drop",
            "−D·log(2b) is constant in μ (b is fixed), so the argmax over μ is unchanged.",
            term=constant,
            label="constants dropped",
        ),
        Step(
            -sae,
            "scale",
            "Multiplying by the positive constant b does not move the maximiser.",
            term=1 / b,
            label="negative L1",
        ),
        Step(
            -sae / D,
            "scale",
            "Dividing by the pixel count D > 0 gives minus the mean absolute error (L1 loss).",
            term=D,
            label="negative mean L1",
        ),
    )
    return Derivation(
        slug="laplace-l1",
        title="Laplace decoder with fixed b → L1",
        parameters=(mu,),
        steps=steps,
        summary="With b fixed, log Laplace(x; μ, b) = −Σ|xᵢ − μᵢ|/b + const: maximising it is "
        "minimising the L1 loss, whose optimum is the median rather than the mean.",
        symbols={**DATA_SYMBOLS, "mu": mu, "b": b},
    )
