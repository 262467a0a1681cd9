"""KL(q(z|x) ‖ p(z)) for q = N(μ_z, σ_z²) per latent dimension and p = N(0, 1).

Closed form (Kingma & Welling 2014, Appendix B): KL = ½ Σⱼ (μⱼ² + σⱼ² − 1 − log σⱼ²).
The single-sample estimate log q(z) − log p(z) at z = μ + σε (ε ~ N(0, 1)) is unbiased, with
variance Σⱼ [μⱼ²σⱼ² + (σⱼ² − 1)²/2]: it is zero only where q = p. That is the KL *alone*: in the
whole single-sample ELBO estimate log p(x, z) − log q(z|x) the noise of log q can cancel the
noise of log p(x, z), so that estimate can be less noisy than the closed-form-KL version; it has
zero variance when q is the true posterior (Roeder et al. 2017, "Sticking the landing").
"""

from __future__ import annotations

from functools import cache

import numpy as np
import sympy as sp
from sympy.stats import Normal, density

from derivations.base import LATENT_SYMBOLS, Derivation, J, Step, j, mu_z, sigma_z, z

epsilon = sp.Symbol("epsilon", real=True)  # reparameterisation noise, ε ~ N(0, 1)


def posterior_pdf(value: sp.Expr) -> sp.Expr:
    """q(z | x) = N(z; μⱼ, σⱼ²) for latent dimension j."""
    return density(Normal("Z", mu_z[j], sigma_z[j]))(value)


def prior_pdf(value: sp.Expr) -> sp.Expr:
    """p(z) = N(z; 0, 1)."""
    return density(Normal("Z", 0, 1))(value)


def kl_closed_form_term() -> sp.Expr:
    """½(μⱼ² + σⱼ² − 1 − log σⱼ²): one latent dimension's KL."""
    m, sd = mu_z[j], sigma_z[j]
    return (m**2 + sd**2 - 1 - sp.log(sd**2)) / 2


def kl_closed_form() -> sp.Expr:
    """Σⱼ ½(μⱼ² + σⱼ² − 1 − log σⱼ²) over J latent dimensions."""
    return sp.Sum(kl_closed_form_term(), (j, 1, J))


def single_sample_estimate_term() -> sp.Expr:
    """log q(z) − log p(z) at z = μⱼ + σⱼε: one latent dimension's single-sample KL estimate."""
    sample = mu_z[j] + sigma_z[j] * epsilon
    return sp.log(posterior_pdf(sample)) - sp.log(prior_pdf(sample))


def _expected(summand: sp.Expr) -> sp.Expr:
    """Σⱼ E_ε[summand] as an integral against the standard normal density."""
    return sp.Sum(sp.Integral(prior_pdf(epsilon) * summand, (epsilon, -sp.oo, sp.oo)), (j, 1, J))


def kl_gaussian() -> Derivation:
    m, sd = mu_z[j], sigma_z[j]
    q = posterior_pdf(z)
    steps = (
        Step(
            sp.Sum(sp.Integral(q * sp.log(q / prior_pdf(z)), (z, -sp.oo, sp.oo)), (j, 1, J)),
            "start",
            "The definition KL(q‖p) = ∫ q log(q/p) dz; q factorises over latent dims, so KLs add.",
            label="definition",
        ),
        Step(
            sp.Sum(
                sp.Integral(
                    q * (-sp.log(sd) - (z - m) ** 2 / (2 * sd**2) + z**2 / 2),
                    (z, -sp.oo, sp.oo),
                ),
                (j, 1, J),
            ),
            "equal",
            "log q − log p = −log σ − (z − μ)²/(2σ²) + z²/2: the ½log 2π terms cancel.",
            label="log-ratio expanded",
        ),
        Step(
            sp.Sum(-sp.log(sd) - sp.Rational(1, 2) + (m**2 + sd**2) / 2, (j, 1, J)),
            "equal",
            "Under q: ∫q = 1, E[(z − μ)²] = σ² and E[z²] = μ² + σ².",
            label="Gaussian moments",
        ),
        Step(
            kl_closed_form(),
            "equal",
            "Collect terms; −log σ = −½log σ² (σ > 0), giving the formula in Kingma & Welling, "
            "App. B.",
            label="closed form",
        ),
    )
    return Derivation(
        slug="kl-gaussian",
        title="KL(N(μ, σ²) ‖ N(0, 1)) in closed form",
        parameters=(mu_z, sigma_z),
        steps=steps,
        summary="KL = ½Σⱼ(μⱼ² + σⱼ² − 1 − log σⱼ²) ≥ 0, zero only at μ = 0, σ = 1; it is "
        "subtracted in the ELBO (added to the loss).",
        symbols={**LATENT_SYMBOLS, "z": z},
    )


def kl_monte_carlo() -> Derivation:
    m, sd = mu_z[j], sigma_z[j]
    expanded = -sp.log(sd) + (m**2 + 2 * m * sd * epsilon + (sd**2 - 1) * epsilon**2) / 2
    steps = (
        Step(
            _expected(single_sample_estimate_term()),
            "start",
            "The mean over ε of the single-sample estimate log q(z) − log p(z) at z = μ + σε.",
            label="expected estimate",
        ),
        Step(
            _expected(expanded),
            "equal",
            "At z = μ + σε, (z − μ)/σ = ε and z² = μ² + 2μσε + σ²ε²; the ½log 2π terms cancel.",
            label="estimate expanded",
        ),
        Step(
            sp.Sum(-sp.log(sd) + (m**2 + sd**2 - 1) / 2, (j, 1, J)),
            "equal",
            "For ε ~ N(0, 1): E[1] = 1, E[ε] = 0 and E[ε²] = 1.",
            label="noise moments",
        ),
        Step(
            kl_closed_form(),
            "equal",
            "This is the closed-form KL: the single-sample estimate is unbiased.",
            label="closed form",
        ),
    )
    return Derivation(
        slug="kl-monte-carlo",
        title="Single-sample KL estimate: unbiased",
        parameters=(mu_z, sigma_z),
        steps=steps,
        summary="E_ε[log q(μ + σε) − log p(μ + σε)] equals the closed-form KL, so the "
        "Monte-Carlo estimate of the KL (TensorFlow's CVAE tutorial) is unbiased. On its own it "
        "is noisier than the closed form; inside the whole ELBO estimate it need not be (see the "
        "variance below).",
        symbols={**LATENT_SYMBOLS, "epsilon": epsilon, "eps": epsilon},
    )


def kl_monte_carlo_variance() -> Derivation:
    m, sd = mu_z[j], sigma_z[j]
    centred = m * sd * epsilon + (sd**2 - 1) * (epsilon**2 - 1) / 2
    steps = (
        Step(
            _expected((single_sample_estimate_term() - kl_closed_form_term()) ** 2),
            "start",
            "The variance: mean squared deviation from the KL; independent dims' variances add.",
            label="variance definition",
        ),
        Step(
            _expected(centred**2),
            "equal",
            "Estimate minus its mean: μσε + (σ² − 1)(ε² − 1)/2.",
            label="centred estimate",
        ),
        Step(
            sp.Sum(m**2 * sd**2 + (sd**2 - 1) ** 2 / 2, (j, 1, J)),
            "equal",
            "For ε ~ N(0, 1): E[ε²] = 1, E[ε(ε² − 1)] = 0 and E[(ε² − 1)²] = 2.",
            label="variance",
        ),
    )
    return Derivation(
        slug="kl-monte-carlo-variance",
        title="Single-sample KL estimate: its variance",
        parameters=(mu_z, sigma_z),
        steps=steps,
        summary="Var = Σⱼ[μⱼ²σⱼ² + (σⱼ² − 1)²/2]: the noise of the KL estimate alone, which the "
        "closed form removes. The variance of the whole ELBO estimate is another matter: there "
        "log q's noise can cancel log p(x, z)'s, down to zero when q is the true posterior "
        "(Roeder et al. 2017).",
        symbols={**LATENT_SYMBOLS, "epsilon": epsilon, "eps": epsilon},
    )


@cache
def _variance_function():
    m, sd = sp.symbols("m sd", positive=True)
    per_dim = kl_monte_carlo_variance().steps[-1].expr.function
    return sp.lambdify((m, sd), per_dim.subs({mu_z[j]: m, sigma_z[j]: sd}), modules="numpy")


@cache
def _per_dimension_functions():
    """The closed-form KL and the single-sample estimate of one dimension, as numpy functions
    of (μ, σ) and (μ, σ, ε), lambdified from the same SymPy terms the pages render."""
    m, sd = sp.symbols("m sd", positive=True)
    eps = sp.Symbol("eps", real=True)
    at = {mu_z[j]: m, sigma_z[j]: sd}
    closed = sp.lambdify((m, sd), kl_closed_form_term().subs(at), modules="numpy")
    estimate = single_sample_estimate_term().subs(at).subs(epsilon, eps)
    single = sp.lambdify((m, sd, eps), sp.expand_log(estimate, force=True), modules="numpy")
    return closed, single


def kl_value(mu: float | np.ndarray, sigma: float | np.ndarray) -> float | np.ndarray:
    """KL(N(μ, σ²) ‖ N(0, 1)) per dimension, evaluated from `kl_closed_form_term()`."""
    closed, _ = _per_dimension_functions()
    return closed(np.asarray(mu, dtype=float), np.asarray(sigma, dtype=float))


def single_sample_estimates(mu: float, sigma: float, n: int, seed: int = 0) -> np.ndarray:
    """n independent single-sample KL estimates log q(z) − log p(z), z = μ + σε, ε ~ N(0, 1)
    (the estimator of TensorFlow's CVAE tutorial), from `single_sample_estimate_term()`."""
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive finite number, got {sigma!r}")
    _, single = _per_dimension_functions()
    eps = np.random.default_rng(seed).standard_normal(n)
    # broadcast: SymPy may simplify a term to a constant in ε, which lambdify returns as a scalar
    return np.broadcast_to(np.asarray(single(float(mu), float(sigma), eps), dtype=float), (n,))


def kl_mc_variance(mu: float | np.ndarray, sigma: float | np.ndarray) -> float | np.ndarray:
    """Per-dimension variance of the single-sample KL estimate, μ²σ² + (σ² − 1)²/2.

    Evaluated from the derivation's final SymPy expression; sum over dimensions yourself.
    """
    return _variance_function()(np.asarray(mu, dtype=float), np.asarray(sigma, dtype=float))
