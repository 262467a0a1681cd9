"""Huber decoder: p(r) ∝ exp(−H_α(r)/s) has an exact normaliser, so Huber is a likelihood too.

H_α(r) = r²/2 for |r| ≤ α, α(|r| − α/2) otherwise (Huber 1964). The normaliser splits into a
Gaussian core and two exponential tails:
Z(α, s) = ∫ exp(−H_α(r)/s) dr = √(2πs)·erf(α/√(2s)) + 2(s/α)·exp(−α²/(2s)).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import sympy as sp

from derivations.base import DATA_SYMBOLS, D, Derivation, Step, i, mu, per_pixel_start, x

alpha = sp.Symbol("alpha", positive=True)  # where the quadratic core meets the linear tails
s = sp.Symbol("s", positive=True)  # temperature: p ∝ exp(−H/s), the analogue of σ²
r = sp.Symbol("r", real=True)  # a residual x − μ (integration variable)


def huber_loss(residual: sp.Expr, threshold: sp.Expr = alpha) -> sp.Expr:
    """H_α(r) as a Piecewise: quadratic core, linear tails; matches torch's HuberLoss(delta=α)."""
    return sp.Piecewise(
        (residual**2 / 2, sp.Abs(residual) <= threshold),
        (threshold * (sp.Abs(residual) - threshold / 2), True),
    )


class Huber(sp.Function):
    """H_α(r), printed as such; `.doit()` (and the checker) sees the Piecewise.

    Kept unevaluated inside the derivation because SymPy folds a Piecewise summand into one big
    Piecewise (log Z copied into both branches), which is unreadable and slow to simplify.
    """

    nargs = 2  # (r, α)

    def doit(self, deep: bool = True, **hints) -> sp.Expr:
        args = [a.doit(deep=deep, **hints) for a in self.args] if deep else self.args
        return huber_loss(*args)

    def _eval_rewrite_as_Piecewise(self, residual, threshold, **kwargs):
        return huber_loss(residual, threshold)

    def _eval_is_real(self):
        return True if all(a.is_real for a in self.args) else None

    def _eval_is_nonnegative(self):
        return True if all(a.is_real for a in self.args) else None

    def _latex(self, printer) -> str:
        residual, threshold = (printer._print(a) for a in self.args)
        return rf"H_{{{threshold}}}\left({residual}\right)"


@cache
def huber_normaliser() -> sp.Expr:
    """Z(α, s) = ∫ exp(−H_α(r)/s) dr, integrated by SymPy piece by piece (H is even)."""
    core = sp.integrate(sp.exp(-(r**2) / (2 * s)), (r, -alpha, alpha))
    tail = sp.integrate(sp.exp(-alpha * (r - alpha / 2) / s), (r, alpha, sp.oo))
    return sp.simplify(core + 2 * tail)


@cache
def _log_normaliser_function():
    return sp.lambdify((alpha, s), sp.log(huber_normaliser()), modules=["scipy", "numpy"])


def huber_log_normaliser(alpha: float | np.ndarray, scale: float | np.ndarray) -> float:
    """log Z(α, s), evaluated from the same SymPy expression the derivation uses."""
    return _log_normaliser_function()(alpha, scale)


def huber_normaliser_derivation() -> Derivation:
    steps = (
        Step(
            sp.Integral(sp.exp(-huber_loss(r) / s), (r, -sp.oo, sp.oo)),
            "start",
            "The normaliser of exp(−H_α(r)/s): it must be finite for a density to exist.",
            label="definition",
        ),
        Step(
            sp.Integral(sp.exp(-(r**2) / (2 * s)), (r, -alpha, alpha))
            + 2 * sp.Integral(sp.exp(-alpha * (r - alpha / 2) / s), (r, alpha, sp.oo)),
            "equal",
            "Split at ±α: a Gaussian core and, H being even, twice the right-hand tail.",
            label="core and tails",
        ),
        Step(
            huber_normaliser(),
            "equal",
            "The core is a Gaussian integral (erf); each tail is an exponential integral.",
            label="closed form",
        ),
    )
    return Derivation(
        slug="huber-normaliser",
        title="The Huber density's normaliser Z(α, s)",
        parameters=(),
        steps=steps,
        summary="Z(α, s) = √(2πs)·erf(α/√(2s)) + 2(s/α)·exp(−α²/(2s)) is finite for all "
        "α, s > 0, so exp(−H_α/s)/Z is a proper density.",
        symbols={"alpha": alpha, "s": s, "r": r},
    )


def huber() -> Derivation:
    Z = huber_normaliser()
    H = Huber(x[i] - mu[i], alpha)
    loss_sum = sp.Sum(H, (i, 1, D))
    constant = -D * sp.log(Z)
    steps = (
        *per_pixel_start(sp.exp(-H / s) / Z, "Huber density"),
        Step(
            sp.Sum(-H / s - sp.log(Z), (i, 1, D)),
            "equal",
            "log(exp(−H_α(rᵢ)/s)/Z) = −H_α(rᵢ)/s − log Z for each pixel (Z > 0).",
            label="log of each factor",
        ),
        Step(
            constant - loss_sum / s,
            "equal",
            "Summing over D pixels: the constant −log Z appears D times.",
            label="expanded",
        ),
        Step(
            -loss_sum / s,
            "drop",
            "−D·log Z(α, s) is constant in μ (α and s are fixed), so the argmax is unchanged.",
            term=constant,
            label="normaliser dropped",
        ),
        Step(
            -loss_sum,
            "scale",
            "Multiplying by the positive temperature s does not move the maximiser.",
            term=1 / s,
            label="negative Huber",
        ),
        Step(
            -loss_sum / D,
            "scale",
            "Dividing by the pixel count D > 0 gives minus the mean Huber loss.",
            term=D,
            label="negative mean Huber",
        ),
    )
    return Derivation(
        slug="huber",
        title="Huber decoder → Huber loss",
        parameters=(mu,),
        steps=steps,
        summary="exp(−H_α(r)/s) integrates to the finite Z(α, s), so the Huber loss is the "
        "negative log-density of a real distribution: Gaussian core, Laplace tails.",
        symbols={**DATA_SYMBOLS, "mu": mu, "alpha": alpha, "s": s},
    )
