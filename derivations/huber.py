"""Huber decoder: a location-scale density whose negative log is torch's Huber loss, up to a
positive factor and a constant.

One parametrisation is used everywhere in the app (here, models.likelihoods' "huber", the
figures, the implied-σ calculator and the lab): for a pixel with decoder output μ and scale b,

    p(x | μ) = exp(−ρ_α((x − μ)/b)) / (b·Z(α)),     ρ_α(u) = u²/2 for |u| ≤ α, α|u| − α²/2 beyond,

with α measured in units of b (the quadratic core reaches α·b either side of μ; within it the
density is a Gaussian of standard deviation b). ρ_α is torch's `huber_loss` with delta = α on
the standardised residual, and on the raw residual ρ_α(r/b) = H_{αb}(r)/b² with H_δ = torch's
`huber_loss(delta=δ)`. The normaliser splits into a Gaussian core and two exponential tails:

    Z(α) = ∫ exp(−ρ_α(u)) du = √(2π)·erf(α/√2) + 2·exp(−α²/2)/α.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import sympy as sp

from derivations.base import DATA_SYMBOLS, D, Derivation, Step, i, mu, per_pixel_start, x

alpha = sp.Symbol("alpha", positive=True)  # the switch point, in units of the scale b
b = sp.Symbol("b", positive=True)  # the scale (the core's standard deviation), as Laplace's b
u = sp.Symbol("u", real=True)  # a standardised residual (x − μ)/b (integration variable)


def huber_loss(residual: sp.Expr, threshold: sp.Expr = alpha) -> sp.Expr:
    """H_δ(r) as a Piecewise: quadratic core, linear tails; torch's huber_loss(delta=δ)."""
    return sp.Piecewise(
        (residual**2 / 2, sp.Abs(residual) <= threshold),
        (threshold * (sp.Abs(residual) - threshold / 2), True),
    )


class Huber(sp.Function):
    """H_δ(r), printed as such; `.doit()` (and the checker) sees the Piecewise.

    Kept unevaluated inside the derivation because SymPy folds a Piecewise summand into one big
    Piecewise (log Z copied into both branches), which is unreadable and slow to simplify.
    """

    nargs = 2  # (r, δ)

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
    """Z(α) = ∫ exp(−ρ_α(u)) du, integrated by SymPy piece by piece (ρ is even)."""
    core = sp.integrate(sp.exp(-(u**2) / 2), (u, -alpha, alpha))
    tail = sp.integrate(sp.exp(-alpha * (u - alpha / 2)), (u, alpha, sp.oo))
    return sp.simplify(core + 2 * tail)


@cache
def _log_normaliser_function():
    return sp.lambdify(alpha, sp.log(huber_normaliser()), modules=["scipy", "numpy"])


def huber_log_normaliser(alpha_value: float | np.ndarray) -> float | np.ndarray:
    """log Z(α), evaluated from the same SymPy expression the derivation uses."""
    return _log_normaliser_function()(alpha_value)


@cache
def huber_unit_variance() -> sp.Expr:
    """E[u²] under exp(−ρ_α(u))/Z(α): the Huber density's variance is b²·E[u²] (→ 1 as α → ∞,
    the Gaussian core alone)."""
    core = sp.integrate(u**2 * sp.exp(-(u**2) / 2), (u, -alpha, alpha))
    tail = sp.integrate(u**2 * sp.exp(-alpha * (u - alpha / 2)), (u, alpha, sp.oo))
    return (core + 2 * tail) / huber_normaliser()  # unsimplified: SymPy would bring in exp(α²)


@cache
def _unit_variance_function():
    return sp.lambdify(alpha, huber_unit_variance(), modules=["scipy", "numpy"])


def huber_std(scale: float, alpha_value: float) -> float:
    """The standard deviation of the Huber density with scale b and switch point α (units of b)."""
    return float(scale * np.sqrt(_unit_variance_function()(alpha_value)))


def huber_normaliser_derivation() -> Derivation:
    steps = (
        Step(
            sp.Integral(sp.exp(-huber_loss(u)), (u, -sp.oo, sp.oo)),
            "start",
            "The normaliser of exp(−ρ_α(u)), u = (x − μ)/b: it must be finite for a density.",
            label="definition",
        ),
        Step(
            sp.Integral(sp.exp(-(u**2) / 2), (u, -alpha, alpha))
            + 2 * sp.Integral(sp.exp(-alpha * (u - alpha / 2)), (u, alpha, sp.oo)),
            "equal",
            "Split at ±α: a Gaussian core and, ρ being even, twice the right-hand tail.",
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
        title="The Huber density's normaliser Z(α)",
        parameters=(),
        steps=steps,
        summary="Z(α) = √(2π)·erf(α/√2) + 2·exp(−α²/2)/α is finite for every α > 0, so "
        "exp(−ρ_α((x − μ)/b))/(b·Z(α)) is a proper density for every scale b > 0.",
        symbols={"alpha": alpha, "u": u},
    )


def huber() -> Derivation:
    Z = huber_normaliser()
    standardised = Huber((x[i] - mu[i]) / b, alpha)  # ρ_α(rᵢ/b)
    raw = Huber(x[i] - mu[i], alpha * b)  # H_{αb}(rᵢ), torch's huber_loss(delta=α·b)
    constant = -D * sp.log(b * Z)
    steps = (
        *per_pixel_start(sp.exp(-standardised) / (b * Z), "Huber density"),
        Step(
            sp.Sum(-standardised - sp.log(b * Z), (i, 1, D)),
            "equal",
            "log(exp(−ρ_α(rᵢ/b))/(b·Z)) = −ρ_α(rᵢ/b) − log(b·Z) for each pixel (b·Z > 0).",
            label="log of each factor",
        ),
        Step(
            constant - sp.Sum(standardised, (i, 1, D)),
            "equal",
            "Summing over D pixels: the constant −log(b·Z(α)) appears D times.",
            label="expanded",
        ),
        Step(
            -sp.Sum(standardised, (i, 1, D)),
            "drop",
            "−D·log(b·Z(α)) is constant in μ (α and b are fixed), so the argmax is unchanged.",
            term=constant,
            label="normaliser dropped",
        ),
        Step(
            -sp.Sum(raw, (i, 1, D)) / b**2,
            "equal",
            "On the raw residual, ρ_α(r/b) = H_{αb}(r)/b²: torch's huber_loss with delta = α·b.",
            label="torch's Huber",
        ),
        Step(
            -sp.Sum(raw, (i, 1, D)),
            "scale",
            "Multiplying by the positive constant b² does not move the maximiser (in a VAE it "
            "weights the KL).",
            term=1 / b**2,
            label="negative Huber",
        ),
        Step(
            -sp.Sum(raw, (i, 1, D)) / D,
            "scale",
            "Dividing by the pixel count D > 0 gives minus F.huber_loss(μ, x, delta=α·b).",
            term=D,
            label="negative mean Huber",
        ),
    )
    return Derivation(
        slug="huber",
        title="Huber decoder → Huber loss",
        parameters=(mu,),
        steps=steps,
        summary="exp(−ρ_α((x − μ)/b))/(b·Z(α)) is a real density (Gaussian core of standard "
        "deviation b, Laplace-like tails beyond α·b), and its negative log is torch's Huber loss "
        "with delta = α·b, divided by b², plus a constant.",
        symbols={**DATA_SYMBOLS, "mu": mu, "alpha": alpha, "b": b},
    )
