"""The gap under the bound: log p(x) = ELBO + KL(q(z|x) ‖ p(z|x)).

The identity holds for any model and any q (Kingma & Welling 2019, "An Introduction to VAEs",
§2.2): write log p(x) as its own average under q, use Bayes' rule p(x) = p(x, z)/p(z | x) for
every z, and multiply and divide by q(z | x). The first integral is the ELBO, the second the KL
from q to the *true posterior*, which is ≥ 0: that is why the ELBO is a lower bound, and the gap
is exactly how far q is from p(z | x).

SymPy checks it on the one model where every piece has a closed form, the linear-Gaussian VAE with
one latent and one pixel: p(z) = N(0, 1), p(x | z) = N(w z, s²), q(z | x) = N(m, v²). Then
p(x) = N(0, w² + s²) and p(z | x) = N(w x/(w² + s²), s²/(w² + s²)). The same algebra, with
matrices, gives the exact log p(x) of the lab's linear VAE (models/bound_gap.py).
"""

from __future__ import annotations

import sympy as sp
from sympy.stats import Normal, density

from derivations.base import Derivation, Step

x1 = sp.Symbol("x", real=True)  # one observed pixel
w = sp.Symbol("w", real=True)  # decoder weight: x = w z + noise
s = sp.Symbol("s", positive=True)  # decoder noise standard deviation
m = sp.Symbol("m", real=True)  # encoder mean of q(z|x)
v = sp.Symbol("v", positive=True)  # encoder standard deviation of q(z|x)


epsilon = sp.Symbol("epsilon", real=True)  # z = m + v·ε, ε ~ N(0, 1): the reparameterisation


def _normal(value: sp.Expr, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    return density(Normal("N", mean, std))(value)


def _log_normal_expanded(value: sp.Expr, mean: sp.Expr, variance: sp.Expr) -> sp.Expr:
    """log N(value; mean, variance), written out (the ½log 2π and the square kept apart)."""
    return -sp.log(2 * sp.pi * variance) / 2 - (value - mean) ** 2 / (2 * variance)


class LogNormal(sp.Function):
    """log N(value; mean, variance), printed as such; `.doit()` (and the checker) sees the
    expanded form. Kept unevaluated so each step reads as densities, not a page of algebra."""

    nargs = 3

    def doit(self, deep: bool = True, **hints) -> sp.Expr:
        args = [a.doit(deep=deep, **hints) for a in self.args] if deep else self.args
        return _log_normal_expanded(*args)

    def _eval_expand_log(self, **hints) -> sp.Expr:
        # expand_log (which the checker applies to integrands) writes the log-density out, so
        # SymPy integrates polynomial × Gaussian terms one by one: seconds, not minutes.
        return self.doit()

    def _eval_is_real(self):
        value, mean, variance = self.args
        return True if value.is_real and mean.is_real and variance.is_positive else None

    # Numeric evaluation (lambdify inside the checker's quadrature) sees the expanded form.
    def _pythoncode(self, printer) -> str:
        return f"({printer._print(self.doit())})"  # bracketed: it may sit inside a product

    _mpmathcode = _numpycode = _pythoncode

    def _latex(self, printer) -> str:
        value, mean, variance = (printer._print(a) for a in self.args)
        return rf"\log \mathcal{{N}}\left({value};\, {mean},\, {variance}\right)"


def _log_normal(value: sp.Expr, mean: sp.Expr, variance: sp.Expr) -> sp.Expr:
    return LogNormal(value, mean, variance)


class _Shorthand(sp.Function):
    """A named abbreviation (z, μ*, τ*²) that prints as its name and `.doit()`s to its value, so a
    step fits on a line while the checker still sees every symbol."""

    latex_name: str = ""

    def doit(self, deep: bool = True, **hints) -> sp.Expr:
        args = [a.doit(deep=deep, **hints) for a in self.args] if deep else self.args
        return self.value(*args)

    def _eval_expand_log(self, **hints) -> sp.Expr:
        return self.doit()

    def _pythoncode(self, printer) -> str:
        return f"({printer._print(self.doit())})"

    _mpmathcode = _numpycode = _pythoncode

    def _latex(self, printer, exp=None) -> str:
        return self.latex_name if exp is None else rf"{{{self.latex_name}}}^{{{exp}}}"


class Sample(_Shorthand):
    """z = m + v·ε: a draw from q(z|x)."""

    nargs = 3
    latex_name = "z"

    @staticmethod
    def value(mean, std, noise):
        return mean + std * noise


class NoiseDensity(_Shorthand):
    """N(ε; 0, 1), the density the averages over ε integrate against."""

    nargs = 1
    latex_name = r"\mathcal{N}\left(\epsilon;\, 0,\, 1\right)"

    @staticmethod
    def value(noise):
        return sp.exp(-(noise**2) / 2) / sp.sqrt(2 * sp.pi)


class PosteriorMean(_Shorthand):
    """μ* = w x/(w² + s²): the true posterior's mean."""

    nargs = 3
    latex_name = r"\mu_{\ast}"

    @staticmethod
    def value(weight, data, noise_std):
        return weight * data / (weight**2 + noise_std**2)


class PosteriorVariance(_Shorthand):
    """τ*² = s²/(w² + s²): the true posterior's variance."""

    nargs = 2
    latex_name = r"\tau_{\ast}^{2}"

    @staticmethod
    def value(weight, noise_std):
        return noise_std**2 / (weight**2 + noise_std**2)


POSTERIOR_MEAN = w * x1 / (w**2 + s**2)
POSTERIOR_VARIANCE = s**2 / (w**2 + s**2)
SAMPLE = Sample(m, v, epsilon)  # z = m + vε, a draw from q(z|x) = N(m, v²)


def log_marginal() -> sp.Expr:
    """log p(x) = log N(x; 0, w² + s²): z integrated out."""
    return _log_normal(x1, 0, w**2 + s**2)


def log_joint(at: sp.Expr = SAMPLE) -> sp.Expr:
    """log p(x, z) = log p(x | z) + log p(z)."""
    return _log_normal(x1, w * at, s**2) + _log_normal(at, 0, 1)


def log_true_posterior(at: sp.Expr = SAMPLE) -> sp.Expr:
    """log p(z | x) = log N(z; w x/(w² + s²), s²/(w² + s²)) (Bayes' rule for Gaussians)."""
    return _log_normal(at, PosteriorMean(w, x1, s), PosteriorVariance(w, s))


def log_approximate_posterior(at: sp.Expr = SAMPLE) -> sp.Expr:
    """log q(z | x) = log N(z; m, v²): what the encoder outputs."""
    return _log_normal(at, m, v**2)


def _expect(integrand: sp.Expr) -> sp.Expr:
    """E_q[integrand] = ∫ N(ε; 0, 1) · integrand(z = m + vε) dε."""
    return sp.Integral(NoiseDensity(epsilon) * integrand, (epsilon, -sp.oo, sp.oo))


def elbo_closed_form() -> sp.Expr:
    """E_q log p(x | z) − KL(q ‖ N(0, 1)) for the one-latent linear-Gaussian model."""
    reconstruction = -sp.log(2 * sp.pi * s**2) / 2 - ((x1 - w * m) ** 2 + w**2 * v**2) / (2 * s**2)
    kl_prior = (m**2 + v**2 - 1 - sp.log(v**2)) / 2
    return reconstruction - kl_prior


def gap_closed_form() -> sp.Expr:
    """KL(N(m, v²) ‖ N(μ*, τ²)) with μ*, τ² the true posterior's mean and variance."""
    post_mean, post_var = w * x1 / (w**2 + s**2), s**2 / (w**2 + s**2)
    return (sp.log(post_var / v**2) + (v**2 + (m - post_mean) ** 2) / post_var - 1) / 2


def elbo_gap() -> Derivation:
    steps = (
        Step(
            log_marginal(),
            "start",
            "The evidence log p(x), for the model p(z) = N(0, 1), p(x|z) = N(wz, s²), whose "
            "marginal is p(x) = N(0, w² + s²).",
            label="evidence",
        ),
        Step(
            _expect(log_marginal()),
            "equal",
            "log p(x) is free of z and q integrates to 1: it is its own average under q "
            "(z = m + vε, ε ~ N(0, 1)).",
            label="average under q",
        ),
        Step(
            _expect(log_joint() - log_true_posterior()),
            "equal",
            "Bayes' rule, p(x) = p(x, z) / p(z|x), holds at every z.",
            label="Bayes' rule",
        ),
        Step(
            _expect(log_joint() - log_approximate_posterior())
            + _expect(log_approximate_posterior() - log_true_posterior()),
            "equal",
            "Add and subtract log q(z|x) (multiply and divide by q inside the log), and split "
            "the average in two.",
            label="ELBO + KL",
        ),
        Step(
            elbo_closed_form() + gap_closed_form(),
            "equal",
            "The average of log p(x, z) − log q is the ELBO; that of log q − log p(z|x) is the "
            "KL ≥ 0: the gap.",
            label="closed forms",
        ),
    )
    return Derivation(
        slug="elbo-gap",
        title="log p(x) = ELBO + KL(q(z|x) ‖ p(z|x))",
        parameters=(m, v),
        steps=steps,
        summary="The evidence splits into the ELBO and the KL from the encoder's q(z|x) to the "
        "true posterior p(z|x). The KL is ≥ 0, so the ELBO is a lower bound, and the gap closes "
        "exactly when q(z|x) = p(z|x). Training the encoder on the ELBO is shrinking that gap.",
        symbols={"x": x1, "w": w, "s": s, "m": m, "v": v, "epsilon": epsilon, "eps": epsilon},
        sample_ranges={
            x1: (-1.5, 1.5),
            w: (-1.5, 1.5),
            s: (0.4, 1.5),
            m: (-1.0, 1.0),
            v: (0.3, 1.5),
        },
    )
