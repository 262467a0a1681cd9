"""Each likelihood family against an independent reference: scipy.stats, explicit formulas, and
numerical integration (the density integrates to one, the CDF is the integral of the density)."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from models import likelihoods
from models.distributions import ContinuousBernoulli, Huber, bin_edges, huber_rho

torch.set_default_dtype(torch.float32)
EXTREME_LOCS = np.array([[-3.0, -0.2, 0.0, 0.3, 0.5, 1.0, 1.7]])  # (1, 7) decoder locations
X = np.array([[0.0, 0.0, 0.5, 1.0, 0.25, 0.0, 1.0]])  # (1, 7) data in [0, 1]
LOGITS = np.array([[-50.0, -7.0, -1e-3, 0.0, 1e-5, 2.0, 50.0]])


def t64(a):
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)


def both_paths(lik, out, x):
    """log p via the Distribution object and via the training shortcut; they must agree."""
    a = lik.distribution(out, x).log_prob(x)
    b = lik.log_prob(out, x)
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    return a.detach().numpy()


# -- Gaussian, Laplace: scipy.stats


@pytest.mark.parametrize("sigma", [1e-4, 0.1, 1.0, 1e3])
@pytest.mark.parametrize("name", ["gaussian", "gaussian-learned"])
def test_gaussian_matches_scipy(name, sigma):
    lik = likelihoods.make(name, sigma=sigma).double()
    got = both_paths(lik, t64(EXTREME_LOCS), t64(X))
    want = stats.norm.logpdf(X, loc=EXTREME_LOCS, scale=sigma).sum(-1)
    # the learned σ is a float32 parameter, exact to ~1e-7
    np.testing.assert_allclose(got, want, rtol=1e-12 if name == "gaussian" else 1e-6)
    assert np.isfinite(got).all()


def test_gaussian_optimal_uses_batch_rmse_in_training_and_running_value_in_eval():
    rng = np.random.default_rng(0)
    loc, x = rng.normal(0.5, 0.1, (32, 10)), rng.uniform(0, 1, (32, 10))
    lik = likelihoods.make("gaussian-optimal").double()
    lik.train()
    rmse = np.sqrt(np.mean((x - loc) ** 2))
    got = lik.log_prob(t64(loc), t64(x)).numpy()
    np.testing.assert_allclose(got, stats.norm.logpdf(x, loc, rmse).sum(-1), rtol=1e-10)
    assert lik.params["sigma"] < 1.0  # the running value moved from 1 toward the RMSE
    lik.eval()
    s = lik.params["sigma"]
    got = lik.log_prob(t64(loc), t64(x)).numpy()
    np.testing.assert_allclose(got, stats.norm.logpdf(x, loc, s).sum(-1), rtol=1e-10)


def test_gaussian_learned_sigma_gets_a_gradient():
    lik = likelihoods.make("gaussian-learned", sigma=0.5)
    assert [p.shape for p in lik.parameters()] == [torch.Size([])]
    lik.log_prob(torch.zeros(4, 3), torch.full((4, 3), 0.1)).sum().backward()
    assert lik.log_sigma.grad is not None and lik.log_sigma.grad != 0


@pytest.mark.parametrize("scale", [1e-4, 0.1, 1e3])
def test_laplace_matches_scipy(scale):
    lik = likelihoods.make("laplace", scale=scale)
    got = both_paths(lik, t64(EXTREME_LOCS), t64(X))
    want = (-np.abs(X - EXTREME_LOCS) / scale - math.log(2 * scale)).sum(-1)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    ref = stats.laplace.logpdf(X, loc=EXTREME_LOCS, scale=scale).sum(-1)
    if np.isfinite(ref).all():  # scipy underflows to -inf at scale 1e-4, 3 units away
        np.testing.assert_allclose(got, ref, rtol=1e-12)


# -- Bernoulli and continuous Bernoulli: explicit formulas


def test_bernoulli_matches_explicit_formula_and_torch():
    lik = likelihoods.make("bernoulli")
    xs = np.array([[0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]])
    got = both_paths(lik, t64(LOGITS), t64(xs))
    want = (xs * special.log_expit(LOGITS) + (1 - xs) * special.log_expit(-LOGITS)).sum(-1)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    ref = torch.distributions.Bernoulli(logits=t64(LOGITS)).log_prob(t64(xs)).sum(-1)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-12)


def test_bernoulli_on_grey_data_is_improper():
    """∫_0^1 exp(x log p + (1-x) log(1-p)) dx < 1: BCE is not a density on [0, 1]."""
    lik = likelihoods.make("bernoulli")
    for eta in (-3.0, 0.0, 2.0):
        f = lambda x, eta=eta: math.exp(float(lik.log_prob(t64([[eta]]), t64([[x]]))[0]))  # noqa: E731
        assert integrate.quad(f, 0, 1)[0] < 0.99
    assert not likelihoods.info("bernoulli").has_cdf


def cb_reference_log_prob(eta, x):
    """log p(x|λ) = log C(λ) + x log λ + (1-x) log(1-λ), C(λ) = 2 atanh(1-2λ)/(1-2λ), C(½) = 2."""
    lam = special.expit(eta)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(eta == 0, 2.0, 2 * np.arctanh(1 - 2 * lam) / (1 - 2 * lam))
        # λ within 1e-16 of 0 or 1 loses atanh in double precision: use its logit form there
        c = np.where(np.abs(eta) > 30, np.abs(eta) / np.abs(1 - 2 * lam), c)
    return np.log(c) + x * special.log_expit(eta) + (1 - x) * special.log_expit(-eta)


def test_continuous_bernoulli_matches_formula_with_normaliser():
    lik = likelihoods.make("continuous-bernoulli")
    got = both_paths(lik, t64(LOGITS), t64(X))
    want = cb_reference_log_prob(LOGITS, X).sum(-1)
    np.testing.assert_allclose(got, want, rtol=1e-9)


@pytest.mark.parametrize("eta", [-50.0, -4.0, -1e-3, 0.0, 1e-4, 0.05, 0.3, 4.0, 50.0])
def test_continuous_bernoulli_integrates_to_one_with_its_mean_variance_and_cdf(eta):
    d = ContinuousBernoulli(logits=t64(eta))
    pdf = lambda x: math.exp(float(d.log_prob(t64(x))))  # noqa: E731
    pts = [1 - 1e-2, 1 - 1e-3] if eta > 10 else [1e-3, 1e-2] if eta < -10 else None
    assert integrate.quad(pdf, 0, 1, points=pts)[0] == pytest.approx(1, abs=1e-9)
    m = integrate.quad(lambda x: x * pdf(x), 0, 1, points=pts)[0]
    v = integrate.quad(lambda x: (x - m) ** 2 * pdf(x), 0, 1, points=pts)[0]
    assert float(d.mean) == pytest.approx(m, abs=1e-9)
    assert float(d.variance) == pytest.approx(v, rel=1e-6, abs=1e-12)
    for t in (0.1, 0.5, 0.97):
        want = integrate.quad(pdf, 0, t, points=[p for p in pts or [] if p < t] or None)[0]
        assert float(d.cdf(t64(t))) == pytest.approx(want, abs=1e-9)
        if float(d.cdf(t64(t))) < 1 - 1e-9:  # beyond that the CDF has no digits left to invert
            assert float(d.icdf(d.cdf(t64(t)))) == pytest.approx(t, abs=1e-6)


def test_continuous_bernoulli_agrees_with_torch_where_torch_is_accurate():
    eta = torch.linspace(-5, 5, 41, dtype=torch.float64)
    x = torch.rand(41, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ref = torch.distributions.ContinuousBernoulli(logits=eta)
    ours = ContinuousBernoulli(logits=eta)
    torch.testing.assert_close(ours.log_prob(x), ref.log_prob(x), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(ours.mean, ref.mean, rtol=1e-6, atol=1e-6)


# -- Huber: normalised by numerical integration


def huber_reference_log_z(alpha):
    f = lambda u: math.exp(-float(huber_rho(t64(u), alpha)))  # noqa: E731
    return math.log(integrate.quad(f, -np.inf, np.inf, points=None)[0])


@pytest.mark.parametrize("alpha", [0.05, 0.5, 1.0, 2.5, 8.0])
@pytest.mark.parametrize("scale", [1e-4, 0.1, 1e3])
def test_huber_log_prob_against_numerically_normalised_density(alpha, scale):
    lik = likelihoods.make("huber", alpha=alpha, scale=scale)
    got = both_paths(lik, t64(EXTREME_LOCS), t64(X))
    u = (X - EXTREME_LOCS) / scale
    rho = np.where(np.abs(u) <= alpha, u**2 / 2, alpha * np.abs(u) - alpha**2 / 2)
    want = (-rho - math.log(scale) - huber_reference_log_z(alpha)).sum(-1)
    np.testing.assert_allclose(got, want, rtol=1e-9)


@pytest.mark.parametrize("alpha", [1e-3, 0.5, 1.0, 3.0, 50.0])
def test_huber_integrates_to_one_and_its_cdf_variance_icdf(alpha):
    d = Huber(t64(0.3), t64(2.0), t64(alpha))
    pdf = lambda x: math.exp(float(d.log_prob(t64(x))))  # noqa: E731
    knots = [0.3 - 2 * alpha, 0.3, 0.3 + 2 * alpha]
    total = sum(
        integrate.quad(pdf, a, b)[0]
        for a, b in zip([-np.inf, *knots], [*knots, np.inf], strict=True)
    )
    assert total == pytest.approx(1, abs=1e-8)
    for x in (-40.0, -3.0, 0.0, 0.3, 1.1, 25.0):
        want = integrate.quad(pdf, -np.inf, min(x, knots[0]))[0] + (
            integrate.quad(pdf, knots[0], x)[0] if x > knots[0] else 0.0
        )
        assert float(d.cdf(t64(x))) == pytest.approx(want, rel=1e-7, abs=1e-12)
        p = d.cdf(t64(x))
        if 1e-12 < float(p) < 1 - 1e-9:
            assert float(d.icdf(p)) == pytest.approx(x, rel=1e-5, abs=1e-5)
    var = sum(
        integrate.quad(lambda x: (x - 0.3) ** 2 * pdf(x), a, b)[0]
        for a, b in zip([-np.inf, *knots], [*knots, np.inf], strict=True)
    )
    assert float(d.variance) == pytest.approx(var, rel=1e-7)


# -- every family: shapes, extremes, mean and sample

EXTREMES = [
    ("gaussian", {"sigma": 1e-4}),
    ("gaussian", {"sigma": 1e3}),
    ("gaussian-learned", {"sigma": 1e-4}),
    ("gaussian-learned", {"sigma": 1e3}),
    ("gaussian-optimal", {}),
    ("bernoulli", {}),
    ("continuous-bernoulli", {}),
    ("laplace", {"scale": 1e-4}),
    ("laplace", {"scale": 1e3}),
    ("huber", {"scale": 1e-4, "alpha": 1e-2}),
    ("huber", {"scale": 1e3, "alpha": 1e2}),
    ("gaussian-per-pixel", {"sigma_min": 1e-4}),
    ("gaussian-per-pixel", {"sigma_min": 1.0}),
]
LOG_SCALES = np.array([[-30.0, -5.0, -1.0, 0.0, 1.0, 3.0, 5.0]])  # gaussian-per-pixel's 2nd half


@pytest.mark.parametrize(("name", "params"), EXTREMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_extremes_are_finite_and_shapes_are_per_example(name, params, dtype):
    lik = likelihoods.make(name, **params).to(dtype)
    B, D = 5, 7
    big = LOGITS if likelihoods.info(name).output == "logits" else EXTREME_LOCS
    if lik.outputs_per_pixel == 2:
        big = np.concatenate([big, LOG_SCALES], axis=1)
    out = torch.as_tensor(np.repeat(big, B, 0), dtype=dtype)  # (B, D) or (B, 2·D)
    x = torch.as_tensor(np.repeat(X, B, 0), dtype=dtype)
    d = lik.distribution(out, x)
    assert d.batch_shape == (B,) and d.event_shape == (D,)
    for lp in (d.log_prob(x), lik.log_prob(out, x)):
        assert lp.shape == (B,) and torch.isfinite(lp).all()
    nll = lik.nll(out, x)  # the training shortcut: the batch mean of -log p
    assert nll.shape == () and torch.isfinite(nll)
    torch.testing.assert_close(nll, -lik.log_prob(out, x).mean(), rtol=1e-5, atol=0)
    g = torch.Generator().manual_seed(0)
    mean, sample = lik.mean(out), lik.sample(out, generator=g)
    assert mean.shape == sample.shape == (B, D)
    assert torch.isfinite(mean).all() and torch.isfinite(sample).all()
    if lik.has_cdf:
        lp = lik.discretised_log_prob(out, x, levels=17)
        assert lp.shape == (B,) and torch.isfinite(lp).all() and (lp <= 0).all()


def test_sample_is_reproducible_with_a_generator_and_has_the_right_moments():
    for name in likelihoods.names():
        lik = likelihoods.make(name)
        lik.eval()
        out = torch.full((20000, lik.outputs_per_pixel), 0.4)
        a = lik.sample(out, torch.Generator().manual_seed(1))
        b = lik.sample(out, torch.Generator().manual_seed(1))
        assert torch.equal(a, b)
        assert float(a.detach().mean()) == pytest.approx(float(lik.mean(out)[0, 0]), abs=0.02)


# -- bins for bits/dim


@pytest.mark.parametrize(
    ("name", "params", "out"),
    [
        ("gaussian", {"sigma": 1e-4}, 0.2),
        ("gaussian", {"sigma": 0.1}, 0.5),
        ("gaussian", {"sigma": 1e3}, -2.0),
        ("laplace", {"scale": 1e-4}, 0.9),
        ("laplace", {"scale": 0.2}, 0.3),
        ("huber", {"scale": 0.05, "alpha": 0.7}, 0.6),
        ("huber", {"scale": 1e-4, "alpha": 2.0}, 0.1),
        ("continuous-bernoulli", {}, -50.0),
        ("continuous-bernoulli", {}, 0.0),
        ("continuous-bernoulli", {}, 3.0),
    ],
)
@pytest.mark.parametrize("levels", [2, 17, 256])
def test_bin_probabilities_sum_to_one(name, params, out, levels):
    lik = likelihoods.make(name, **params)
    x = (torch.arange(levels, dtype=torch.float64) / (levels - 1))[:, None]  # every level
    o = torch.full_like(x, out)
    lp = lik.discretised_log_prob(o, x, levels)
    assert torch.isfinite(lp).all() or name != "continuous-bernoulli"
    assert float(torch.logsumexp(lp, 0)) == pytest.approx(0, abs=1e-9)


def test_gaussian_bins_match_scipy_cdf_differences_even_in_far_tails():
    lik = likelihoods.make("gaussian", sigma=1e-3)
    loc, x = 0.2, np.array([0.0, 0.1875, 0.25, 0.5, 1.0])
    lo, hi = bin_edges(t64(x), 17)
    got = lik.discretised_log_prob(t64(np.full((5, 1), loc)), t64(x[:, None]), 17).numpy()
    a, b = (lo.numpy() - loc) / 1e-3, (hi.numpy() - loc) / 1e-3
    # reference: scipy's log-CDF/log-SF, lower tail by CDF, upper tail by survival function
    with np.errstate(divide="ignore"):  # np.where evaluates both branches
        ref = np.where(
            a + b <= 0,
            stats.norm.logcdf(b) + np.log(-np.expm1(stats.norm.logcdf(a) - stats.norm.logcdf(b))),
            stats.norm.logsf(a) + np.log(-np.expm1(stats.norm.logsf(b) - stats.norm.logsf(a))),
        )
    np.testing.assert_allclose(got, ref, rtol=1e-9)
    assert got[-1] < -1e5  # 800 σ away: tiny, yet finite


def test_bernoulli_has_bins_only_for_binary_data():
    lik = likelihoods.make("bernoulli")
    out, x = torch.zeros(3, 4), torch.tensor([[0.0, 1.0, 1.0, 0.0]] * 3)
    assert torch.allclose(
        lik.discretised_log_prob(out, x, 2), torch.full((3,), 4 * math.log(0.5)).double()
    )
    with pytest.raises(NotImplementedError):
        lik.discretised_log_prob(out, x, 17)


# -- the registry


def test_info_describes_what_make_builds():
    """The metadata the UI builds controls from must match the object training uses."""
    for n in likelihoods.names():
        i, lik = likelihoods.info(n), likelihoods.make(n)
        assert i.slider is None or i.slider in lik.params
        assert set(i.params) <= set(lik.params) and i.params == lik.defaults
        out = torch.zeros(3, 4 * i.outputs_per_pixel)
        assert lik.mean(out).shape == (3, 4)  # one value per pixel whatever the output width
        assert lik.log_prob(out, torch.full((3, 4), 0.5)).shape == (3,)
        assert i.has_cdf == (n != "bernoulli")  # the only family whose bins are binary-only


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (-1.0, "sigma must be between 0.0001 and 1000, got -1"),
        (0.0, "sigma must be between 0.0001 and 1000, got 0"),
        (1e-200, "sigma must be between 0.0001 and 1000, got 1e-200"),
        (5e-324, "sigma must be between 0.0001 and 1000, got 4.94066e-324"),
        (1e200, "sigma must be between 0.0001 and 1000, got 1e+200"),
        (float("nan"), "sigma must be a finite number between 0.0001 and 1000, got nan"),
        (float("inf"), "sigma must be a finite number between 0.0001 and 1000, got inf"),
        (True, "sigma must be a finite number between 0.0001 and 1000, got True"),
        ("0.1", "sigma must be a finite number between 0.0001 and 1000, got '0.1'"),
        (None, "sigma must be a finite number between 0.0001 and 1000, got None"),
    ],
)
def test_make_rejects_bad_values_with_a_specific_message(bad, message):
    with pytest.raises(ValueError) as e:
        likelihoods.make("gaussian", sigma=bad)
    assert str(e.value) == message
    with pytest.raises(ValueError, match="scale must be"):
        likelihoods.make("huber", scale=bad)
    with pytest.raises(ValueError, match="sigma_min must be"):
        likelihoods.make("gaussian-per-pixel", sigma_min=bad)


@pytest.mark.parametrize("name", likelihoods.names())
def test_every_parameter_range_end_gives_finite_log_probs(name):
    """The stated ranges are safe: at both ends of every range, float32 log p is finite."""
    lik = likelihoods.make(name)
    x = torch.as_tensor(np.repeat(X, 3, 0), dtype=torch.float32)
    for key in lik.defaults:
        for end in likelihoods.PARAM_RANGES[key]:
            lik.update(**{key: end})
            out = torch.zeros(3, 7 * lik.outputs_per_pixel)
            assert torch.isfinite(lik.log_prob(out, x)).all(), (key, end)
            assert torch.isfinite(lik.nll(out, x)), (key, end)
        lik.update(**{key: likelihoods.info(name).params[key]})


def test_make_messages():
    with pytest.raises(ValueError) as e:
        likelihoods.make("gaussian", sigma=-1)
    assert str(e.value) == "sigma must be between 0.0001 and 1000, got -1"
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'; choose one of: gaussian, "):
        likelihoods.make("poisson")
    with pytest.raises(ValueError, match="laplace takes scale; got sigma"):
        likelihoods.make("laplace", sigma=0.1)
    lik = likelihoods.make("laplace")
    lik.update(scale=0.3)
    assert lik.params == {"scale": 0.3}


# -- gaussian-per-pixel: torch.distributions.Normal


def test_gaussian_per_pixel_matches_torch_normal_with_its_floor():
    lik = likelihoods.make("gaussian-per-pixel", sigma_min=0.02).double()
    g = torch.Generator().manual_seed(0)
    mu = torch.rand(6, 5, generator=g, dtype=torch.float64)
    log_excess = torch.randn(6, 5, generator=g, dtype=torch.float64) * 3
    x = torch.rand(6, 5, generator=g, dtype=torch.float64)
    out = torch.cat([mu, log_excess], dim=1)
    sigma = 0.02 + log_excess.exp()  # the documented map from the decoder's second half
    ref = torch.distributions.Normal(mu, sigma).log_prob(x).sum(-1)
    torch.testing.assert_close(lik.log_prob(out, x), ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(both_paths_t(lik, out, x), ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lik.nll(out, x), -ref.mean(), rtol=1e-12, atol=0)
    torch.testing.assert_close(lik.mean(out), mu)
    # the floor bounds each pixel's log-density, even where the decoder asks for σ -> 0
    squeezed = torch.cat([x, torch.full_like(x, -1e3)], dim=1)  # μ = x exactly, exp(-1000) = 0
    bound = -5 * (math.log(0.02) + 0.5 * math.log(2 * math.pi))
    torch.testing.assert_close(lik.log_prob(squeezed, x), torch.full((6,), bound).double())
    lik.update(sigma_min=0.05)
    assert float(lik.log_prob(squeezed, x)[0]) < bound  # a higher floor, a lower cap


def both_paths_t(lik, out, x):
    a = lik.distribution(out, x).log_prob(x)
    torch.testing.assert_close(a, lik.log_prob(out, x), rtol=1e-10, atol=1e-10)
    return a


def test_gaussian_per_pixel_bins_match_normal_cdf_differences():
    lik = likelihoods.make("gaussian-per-pixel", sigma_min=0.01)
    mu, log_excess = t64([[0.3, 0.7]]), t64([[-2.0, -4.0]])
    x = t64([[0.25, 1.0]])
    got = lik.discretised_log_prob(torch.cat([mu, log_excess], 1), x, levels=5)
    sd = 0.01 + np.exp(log_excess.numpy()[0])
    lo, hi = np.array([0.125, 0.875]), np.array([0.375, np.inf])
    m = mu.numpy()[0]  # survival functions: the upper bin is 6σ out, where 1 − Φ cancels
    ref = np.log(stats.norm.sf(lo, m, sd) - stats.norm.sf(hi, m, sd))
    assert float(got[0]) == pytest.approx(ref.sum(), rel=1e-9)
