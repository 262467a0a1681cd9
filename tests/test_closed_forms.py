"""Each closed form, density and normaliser against an independent implementation."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from sympy.stats import Bernoulli as SympyBernoulli
from sympy.stats import density
from torch.distributions import Bernoulli, ContinuousBernoulli, Normal, kl_divergence
from torch.nn import functional as F

from derivations import REGISTRY, get, numeric
from derivations.base import D, mu, sigma, x
from derivations.bernoulli import (
    bernoulli_pmf,
    continuous_bernoulli_log_normaliser,
    continuous_bernoulli_mean,
    continuous_bernoulli_normaliser,
)
from derivations.elbo import beta_for_sigma, sigma_for_beta
from derivations.gaussian import normal_pdf
from derivations.gaussian_learned import mean_squared_error, optimal_sigma_squared
from derivations.huber import (
    Huber,
    alpha,
    huber_log_normaliser,
    huber_loss,
    huber_normaliser,
    huber_std,
    u,
)
from derivations.kl import kl_closed_form_term, kl_mc_variance
from derivations.laplace import b, laplace_pdf
from models.distributions import huber_log_normaliser as huber_log_normaliser_torch


def t64(a) -> torch.Tensor:
    return torch.as_tensor(a, dtype=torch.float64)


def step_function(slug: str, label: str, dims: int, symbols: list):
    """A derivation step at D = dims as a numpy function of flat arrays, one per IndexedBase."""
    expr = get(slug).step(label).expr.subs(D, dims).doit()
    args = []
    for s in symbols:
        if isinstance(s, sp.IndexedBase):
            args.append([s[k] for k in range(1, dims + 1)])
        else:
            args.append(s)
    return sp.lambdify(args, expr, modules=["scipy", "numpy"])


# --- Gaussian -------------------------------------------------------------------------------

GAUSSIAN_CASES = [  # (x, μ, σ): ordinary, far tail, tiny σ, huge σ
    (np.linspace(0, 1, 5), np.full(5, 0.4), 0.7),
    (np.array([10.0, -10.0, 0.0, 3.0, 5.0]), np.zeros(5), 1.0),
    (np.array([0.1, 0.2, 0.3, 0.4, 0.5]), np.array([0.1, 0.2, 0.3, 0.4, 0.5001]), 1e-3),
    (np.array([100.0, -50.0, 0.0, 1.0, 2.0]), np.zeros(5), 1e3),
]


@pytest.mark.parametrize(("xs", "ms", "sd"), GAUSSIAN_CASES)
def test_gaussian_log_density_matches_scipy(xs, ms, sd):
    expanded = step_function("gaussian-mse", "expanded", 5, [x, mu, sigma])
    product = step_function("gaussian-mse", "density", 5, [x, mu, sigma])
    reference = stats.multivariate_normal.logpdf(xs, ms, sd**2 * np.eye(5))
    assert expanded(xs, ms, sd) == pytest.approx(reference, rel=1e-10)
    if sd >= 1e-2:  # the product of raw densities over/underflows for tiny σ; the log form doesn't
        assert product(xs, ms, sd) == pytest.approx(reference, rel=1e-10)


def test_sympy_stats_densities_match_scipy():
    m, s, v = sp.symbols("m s v", real=True)
    normal = sp.lambdify((v, m, s), normal_pdf(v, m, s))
    laplace = sp.lambdify((v, m, s), laplace_pdf(v, m, s))
    for point in [(0.3, -0.2, 0.5), (4.0, 0.0, 1.0), (-1.0, 2.0, 3.0)]:
        assert normal(*point) == pytest.approx(stats.norm.pdf(*point), rel=1e-12)
        assert laplace(*point) == pytest.approx(stats.laplace.pdf(*point), rel=1e-12)


@pytest.mark.parametrize(("xs", "ms", "sd"), GAUSSIAN_CASES[:2])
def test_diagonal_gaussian_matches_scipy_and_torch_nll(xs, ms, sd):
    from derivations.gaussian import sigma_i

    sds = np.linspace(0.3, 2.0, 5) * sd
    expanded = step_function("gaussian-diagonal", "expanded", 5, [x, mu, sigma_i])
    nll_form = step_function("gaussian-diagonal", "Gaussian NLL form", 5, [x, mu, sigma_i])
    assert expanded(xs, ms, sds) == pytest.approx(stats.norm.logpdf(xs, ms, sds).sum(), rel=1e-10)
    torch_nll = F.gaussian_nll_loss(t64(ms), t64(xs), t64(sds**2), reduction="sum").item()
    assert nll_form(xs, ms, sds) == pytest.approx(-torch_nll, rel=1e-10)


def test_optimal_sigma_squared_is_the_mse():
    assert sp.simplify(optimal_sigma_squared() - mean_squared_error()) == 0


def test_gaussian_gradient_matches_autograd():
    xs, ms, sd = np.array([0.2, 0.9, 0.4]), np.array([0.5, 0.1, 0.45]), 0.6
    d = get("gaussian-gradient")
    from derivations.base import j

    for jj in (1, 2, 3):
        expr = d.step("gradient evaluated").expr.subs(j, jj)
        value = float(expr.subs({x[jj]: xs[jj - 1], mu[jj]: ms[jj - 1], sigma: sd}))
        m = t64(ms).requires_grad_()
        Normal(m, t64(sd)).log_prob(t64(xs)).sum().backward()
        assert value == pytest.approx(m.grad[jj - 1].item(), rel=1e-12)
    ratio = d.step("negative MSE gradient").term.subs({D: 3, sigma: sd})
    assert float(ratio) == pytest.approx(3 / (2 * sd**2))


# --- Laplace --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xs", "ms", "scale"),
    [
        (np.linspace(-1, 1, 4), np.full(4, 0.2), 0.5),
        (np.array([30.0, -30.0, 0.0, 1e-9]), np.zeros(4), 1.0),
        (np.array([0.1, 0.2, 0.3, 0.4]), np.zeros(4), 1e-3),
    ],
)
def test_laplace_log_density_matches_scipy(xs, ms, scale):
    expanded = step_function("laplace-l1", "expanded", 4, [x, mu, b])
    reference = stats.laplace.logpdf(xs, ms, scale).sum()
    assert expanded(xs, ms, scale) == pytest.approx(reference, rel=1e-10)


# --- Bernoulli ------------------------------------------------------------------------------


def test_bernoulli_pmf_matches_sympy_stats_and_torch():
    q = sp.Rational(3, 10)
    stats_pmf = density(SympyBernoulli("B", q))
    for value in (0, 1):
        assert bernoulli_pmf(sp.Integer(value), q) == stats_pmf[value]
    from derivations.bernoulli import p

    xs = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    for ps in (np.array([0.3, 0.6, 0.99, 1e-6, 1 - 1e-9]), np.full(5, 0.5)):
        f = step_function("bernoulli-bce", "negative BCE", 5, [x, p])
        reference = Bernoulli(probs=t64(ps)).log_prob(t64(xs)).sum().item()
        assert f(xs, ps) == pytest.approx(reference, rel=1e-9)


@pytest.mark.parametrize("logits", [np.array([-30.0, -3.0, 0.0, 2.5, 30.0]), np.zeros(5)])
def test_bernoulli_logits_match_torch(logits):
    from derivations.bernoulli import ell

    xs = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    f = step_function("bernoulli-logits", "logits form", 5, [x, ell])
    reference = Bernoulli(logits=t64(logits)).log_prob(t64(xs)).sum().item()
    assert f(xs, logits) == pytest.approx(reference, rel=1e-12)
    mean_form = step_function("bernoulli-logits", "negative mean BCE with logits", 5, [x, ell])
    torch_bce = F.binary_cross_entropy_with_logits(t64(logits), t64(xs)).item()
    assert mean_form(xs, logits) == pytest.approx(-torch_bce, rel=1e-12)


# --- continuous Bernoulli -------------------------------------------------------------------

CB_SHAPES = [1e-6, 0.01, 0.2, 0.4999, 0.5, 0.5001, 0.505, 0.52, 0.8, 0.99, 1 - 1e-6]


def log_normaliser_mpmath(shape: float) -> float:
    """log C(λ) at 50 digits from the defining formula (no series, no cancellation)."""
    with mpmath.workdps(50):
        lam = mpmath.mpf(shape)
        if lam == mpmath.mpf("0.5"):
            return math.log(2)
        return float(mpmath.log(2 * mpmath.atanh(1 - 2 * lam) / (1 - 2 * lam)))


@pytest.mark.parametrize("shape", CB_SHAPES)
def test_cb_log_normaliser_is_accurate_everywhere(shape):
    assert continuous_bernoulli_log_normaliser(shape) == pytest.approx(
        log_normaliser_mpmath(shape), rel=1e-13, abs=1e-13
    )


@settings(max_examples=60, deadline=None)
@given(st.floats(1e-9, 1 - 1e-9))
def test_cb_log_normaliser_property(shape):
    assert continuous_bernoulli_log_normaliser(shape) == pytest.approx(
        log_normaliser_mpmath(shape), rel=1e-12, abs=1e-12
    )


def test_cb_log_normaliser_vectorises():
    shapes = np.array(CB_SHAPES)
    expected = [continuous_bernoulli_log_normaliser(s) for s in CB_SHAPES]
    assert continuous_bernoulli_log_normaliser(shapes) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("shape", [0.02, 0.3, 0.5001, 0.7, 0.97])
def test_cb_density_integrates_to_one_and_matches_torch(shape):
    lam_ = sp.Symbol("lam", positive=True)
    value = sp.Symbol("v", real=True)
    pdf = sp.lambdify(
        (value, lam_), continuous_bernoulli_normaliser(lam_) * bernoulli_pmf(value, lam_)
    )
    total, _ = integrate.quad(pdf, 0, 1, args=(shape,), epsabs=1e-13)
    assert total == pytest.approx(1.0, abs=1e-9)
    xs = np.array([0.0, 0.13, 0.5, 0.77, 1.0])
    torch_log = ContinuousBernoulli(probs=t64(np.full(5, shape))).log_prob(t64(xs)).numpy()
    assert np.log(pdf(xs, shape)) == pytest.approx(torch_log, rel=1e-6)


@pytest.mark.parametrize("shape", [0.05, 0.3, 0.4999, 0.5, 0.6, 0.95])
def test_cb_mean_matches_torch_and_quadrature(shape):
    by_quadrature, _ = integrate.quad(
        lambda v: v * shape**v * (1 - shape) ** (1 - v), 0, 1, epsabs=1e-14
    )
    by_quadrature *= math.exp(continuous_bernoulli_log_normaliser(shape))
    assert continuous_bernoulli_mean(shape) == pytest.approx(by_quadrature, rel=1e-9)
    if abs(shape - 0.5) > 2e-3:  # torch switches to its own Taylor series near ½
        torch_mean = ContinuousBernoulli(probs=t64(shape)).mean.item()
        assert continuous_bernoulli_mean(shape) == pytest.approx(torch_mean, rel=1e-9)


def test_bce_on_grey_pixels_misses_exactly_the_log_normaliser():
    """−BCE = CB log-density − Σ log C(λ), with Σ log C(λ) varying in λ."""
    xs = np.array([0.1, 0.5, 0.9])
    gaps = []
    for shape in (0.2, 0.5001, 0.8):
        lam_t = t64(np.full(3, shape))
        log_density = ContinuousBernoulli(probs=lam_t).log_prob(t64(xs)).sum().item()
        bce = F.binary_cross_entropy(lam_t, t64(xs), reduction="sum").item()
        gap = log_density + bce
        assert gap == pytest.approx(3 * continuous_bernoulli_log_normaliser(shape), rel=1e-6)
        gaps.append(gap)
    assert max(gaps) - min(gaps) > 0.1  # depends on λ: cannot be dropped


# --- Huber ----------------------------------------------------------------------------------

HUBER_CASES = [(1.0, 1.0), (0.01, 1.0), (10.0, 0.1), (0.5, 100.0), (2.0, 0.05), (1.345, 1.0)]


def rho(v: float, a: float) -> float:
    return 0.5 * v * v if abs(v) <= a else a * (abs(v) - 0.5 * a)


def quad_over_real_line(f, a: float, b: float = 1.0) -> float:
    """∫ f over ℝ by scipy's quad, split at the kinks ±α·b."""
    pieces = [(-np.inf, -a * b), (-a * b, a * b), (a * b, np.inf)]
    return sum(integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-12)[0] for lo, hi in pieces)


@pytest.mark.parametrize("a", sorted({a for a, _ in HUBER_CASES}))
def test_huber_normaliser_matches_quadrature(a):
    expected = math.log(quad_over_real_line(lambda v: math.exp(-rho(v, a)), a))
    assert huber_log_normaliser(a) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # the engine's torch normaliser is the same function
    engine = float(huber_log_normaliser_torch(torch.tensor(a, dtype=torch.float64)))
    assert engine == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("a", "scale"), HUBER_CASES[:4])
def test_huber_density_integrates_to_one_with_the_documented_std(a, scale):
    """exp(−ρ_α(r/b))/(b·Z(α)) over the raw residual r: total mass 1, std huber_std(b, α)."""
    log_z = huber_log_normaliser(a)

    def density(r):
        return math.exp(-rho(r / scale, a) - math.log(scale) - log_z)

    assert quad_over_real_line(density, a, scale) == pytest.approx(1.0, abs=1e-9)
    variance = quad_over_real_line(lambda r: r * r * density(r), a, scale)
    assert huber_std(scale, a) == pytest.approx(math.sqrt(variance), rel=1e-8)


def test_huber_loss_matches_torch_including_the_kink():
    a = 0.7
    residuals = np.array([-5.0, -a, -0.3, 0.0, 0.2, a, a + 1e-9, 3.0])
    loss = sp.lambdify((u, alpha), huber_loss(u), modules="numpy")
    expected = F.huber_loss(
        t64(residuals), t64(np.zeros_like(residuals)), reduction="none", delta=a
    )
    assert loss(residuals, a) == pytest.approx(expected.numpy(), rel=1e-12, abs=1e-15)
    # The unevaluated Huber(r, α) used in the steps evaluates to the same Piecewise.
    assert Huber(sp.Float(-5.0), sp.Float(a)).doit() == pytest.approx(expected[0].item())


@pytest.mark.parametrize(("a", "scale"), [(1.0, 0.1), (0.3, 2.0), (5.0, 0.05)])
def test_standardised_huber_is_torch_huber_with_delta_alpha_b_over_b_squared(a, scale):
    """The step "torch's Huber": ρ_α(r/b) = H_{αb}(r)/b², against torch's huber_loss."""
    r = np.linspace(-4 * a * scale, 4 * a * scale, 41)
    standardised = np.array([rho(v / scale, a) for v in r])
    torch_loss = F.huber_loss(t64(r), t64(np.zeros_like(r)), reduction="none", delta=a * scale)
    np.testing.assert_allclose(standardised, torch_loss.numpy() / scale**2, rtol=1e-12)


def test_huber_normaliser_sympy_form_is_the_documented_one():
    documented = sp.sqrt(2 * sp.pi) * sp.erf(alpha / sp.sqrt(2)) + 2 / alpha * sp.exp(
        -(alpha**2) / 2
    )
    assert sp.simplify(huber_normaliser() - documented) == 0


# --- KL -------------------------------------------------------------------------------------

KL_CASES = [(0.0, 1.0), (0.5, 0.8), (-3.0, 0.1), (10.0, 1e-3), (-0.2, 50.0)]


@pytest.mark.parametrize(("m", "s"), KL_CASES)
def test_kl_closed_form_matches_torch(m, s):
    from derivations.base import j, mu_z, sigma_z

    kl = sp.lambdify((mu_z[j], sigma_z[j]), kl_closed_form_term())
    reference = kl_divergence(Normal(t64(m), t64(s)), Normal(t64(0.0), t64(1.0))).item()
    assert kl(m, s) == pytest.approx(reference, rel=1e-12, abs=1e-15)


def test_kl_closed_form_matches_sympy_integral():
    """Independently of the derivation's steps: SymPy integrates the definition directly."""
    m = sp.Symbol("m", real=True)
    s = sp.Symbol("s", positive=True)
    v = sp.Symbol("v", real=True)
    q, p = normal_pdf(v, m, s), normal_pdf(v, 0, 1)
    integral = sp.integrate(sp.expand(q * sp.expand_log(sp.log(q / p))), (v, -sp.oo, sp.oo))
    closed = (m**2 + s**2 - 1 - sp.log(s**2)) / 2
    assert sp.simplify(integral - closed) == 0


@pytest.mark.parametrize(("m", "s"), [(0.5, 0.8), (-1.5, 1.7), (0.0, 1.0), (2.0, 0.3)])
def test_kl_mc_variance_matches_a_large_monte_carlo_sample(m, s):
    rng = np.random.default_rng(12345)
    eps = rng.standard_normal(1_000_000)
    v = m + s * eps
    estimates = stats.norm.logpdf(v, m, s) - stats.norm.logpdf(v)
    kl = kl_divergence(Normal(t64(m), t64(s)), Normal(t64(0.0), t64(1.0))).item()
    predicted = kl_mc_variance(m, s)
    if predicted == 0:  # q = p: the estimate is exactly 0 for every ε
        assert np.allclose(estimates, 0)
        return
    assert estimates.var() == pytest.approx(predicted, rel=0.02)
    standard_error = math.sqrt(predicted / eps.size)
    assert abs(estimates.mean() - kl) < 5 * standard_error  # unbiased


def test_kl_mc_variance_vectorises():
    ms, ss = np.array([0.5, 0.0]), np.array([0.8, 1.0])
    assert kl_mc_variance(ms, ss) == pytest.approx([0.5**2 * 0.64 + (0.64 - 1) ** 2 / 2, 0.0])


# --- ELBO and β ----------------------------------------------------------------------------


def test_beta_is_two_sigma_squared_and_round_trips():
    assert beta_for_sigma(1.0) == pytest.approx(2.0)
    assert beta_for_sigma(0.1) == pytest.approx(0.02)
    assert beta_for_sigma(1.0, D=784) == pytest.approx(2.0 / 784)
    sigmas = np.array([1e-3, 0.1, 1.0, 30.0])
    assert sigma_for_beta(beta_for_sigma(sigmas)) == pytest.approx(sigmas)
    assert sigma_for_beta(beta_for_sigma(sigmas, D=10), D=10) == pytest.approx(sigmas)
    # Plain "MSE + KL" (β = 1 against the mean over D pixels) means σ² = D/2.
    assert sigma_for_beta(1.0, D=784) ** 2 == pytest.approx(392.0)


# --- the numeric panel ----------------------------------------------------------------------


def test_numeric_panel_covers_every_registered_slug():
    assert set(numeric.SLUGS) == set(REGISTRY)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("slug", sorted(REGISTRY))
def test_numeric_rows_all_agree(slug, seed):
    rows = numeric.compare(slug, seed)
    assert rows
    for row in rows:
        assert isinstance(row, numeric.NumericRow)
        assert math.isfinite(row.derived) and math.isfinite(row.reference)
        assert row.reference_name
        assert row.agree, row


def test_numeric_rows_detect_disagreement():
    row = numeric._row("x", 1.0, 1.1, "ref")
    assert not row.agree


def test_dropped_constants_come_from_the_sympy_term():
    values = numeric.dropped_constants(0.5, 8)
    assert values["−D/2·log 2π"] == pytest.approx(-4 * math.log(2 * math.pi))
    assert values["−D·log σ"] == pytest.approx(-8 * math.log(0.5))
    assert values["total"] == pytest.approx(values["−D/2·log 2π"] + values["−D·log σ"])
