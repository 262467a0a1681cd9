"""The linear VAE optimum against scipy densities, numeric optimisation and Monte Carlo."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from scipy import optimize
from scipy.stats import multivariate_normal
from torch.distributions import Normal

from derivations.base import check_derivation
from derivations.linear_vae import (
    collapse_derivation,
    data_eigen,
    decoder_columns,
    linear_elbo,
    marginal_loglik,
    optimal_encoder,
    optimum,
)

LAM = np.array([4.0, 2.0, 1.0, 0.5, 0.2])  # data-covariance eigenvalues, D = 5


def rotation(D: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((D, D)))
    return q * np.sign(np.diag(r))


def covariance(lam: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    Q = rotation(lam.size, seed)
    return Q @ np.diag(lam) @ Q.T, Q


def data_with_covariance(lam: np.ndarray, N: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """N rows with mean exactly 0 and (1/N) covariance exactly Q diag(λ) Qᵀ."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((N, lam.size))
    Z -= Z.mean(axis=0)
    L = np.linalg.cholesky(Z.T @ Z / N)
    Z = np.linalg.solve(L, Z.T).T  # now (1/N) ZᵀZ = I
    Q = rotation(lam.size, seed + 1)
    return Z * np.sqrt(lam) @ Q.T, Q


# --- the formulas -------------------------------------------------------------------------------


@pytest.mark.parametrize(("sigma2", "latent_dim"), [(0.8, 3), (1.5, 3), (0.1, 2), (5.0, 4)])
def test_loglik_is_the_average_scipy_log_density(sigma2, latent_dim):
    X, _ = data_with_covariance(LAM, N=300, seed=3)
    lam, U = data_eigen(X)
    np.testing.assert_allclose(lam, LAM, rtol=1e-10)
    W = decoder_columns(U, lam, sigma2, latent_dim)
    C = W @ W.T + sigma2 * np.eye(LAM.size)
    expected = multivariate_normal(mean=np.zeros(LAM.size), cov=C).logpdf(X).mean()
    opt = optimum(LAM, sigma2, latent_dim)
    assert opt.loglik == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(np.linalg.eigvalsh(C)[::-1], opt.model_eigenvalues, rtol=1e-10)


def test_active_dimensions_and_column_norms():
    opt = optimum(LAM, 1.5, 3)
    assert opt.active == 2 and opt.collapsed == 1
    np.testing.assert_allclose(opt.column_norms, [math.sqrt(2.5), math.sqrt(0.5), 0.0])
    np.testing.assert_allclose(
        opt.kl_per_dim, [0.5 * math.log(4 / 1.5), 0.5 * math.log(2 / 1.5), 0]
    )
    np.testing.assert_allclose(opt.posterior_variances, [1.5 / 4, 1.5 / 2, 1.0])
    assert opt.total_kl == pytest.approx(opt.kl_per_dim.sum())
    # σ² above every eigenvalue: total collapse, and the model is pure noise
    none = optimum(LAM, 10.0, 3)
    assert none.active == 0 and none.total_kl == 0
    assert none.loglik == pytest.approx(
        multivariate_normal(np.zeros(5), 10.0 * np.eye(5)).logpdf(np.zeros(5))
        - 0.5 * LAM.sum() / 10.0
    )


def test_eigenvalue_order_and_latent_dim_beyond_D():
    shuffled = optimum(LAM[[3, 0, 4, 1, 2]], 0.3, 7)
    np.testing.assert_allclose(shuffled.eigenvalues, LAM)
    assert shuffled.column_norms.shape == (7,) and shuffled.active == 4
    np.testing.assert_array_equal(shuffled.column_norms[5:], 0.0)
    assert shuffled.loglik == pytest.approx(optimum(LAM, 0.3, 5).loglik)


def test_elbo_is_tight_at_the_optimum_and_a_bound_elsewhere():
    for sigma2, J in [(0.8, 3), (1.5, 3), (0.3, 5)]:
        opt = optimum(LAM, sigma2, J)
        assert opt.elbo == pytest.approx(opt.loglik, rel=1e-12)
        assert opt.reconstruction == pytest.approx(opt.elbo + opt.total_kl)
    S, _ = covariance(LAM, seed=5)
    rng = np.random.default_rng(5)
    for _ in range(5):
        W = rng.standard_normal((5, 3))
        V, v = optimal_encoder(W, 0.8)
        assert linear_elbo(S, W, V, v, 0.8) <= marginal_loglik(S, W, 0.8) + 1e-12


# --- numeric optimisation -----------------------------------------------------------------------


@pytest.mark.parametrize(("sigma2", "active"), [(0.8, 3), (1.5, 2)])
def test_optimum_matches_numeric_ppca_maximisation(sigma2, active):
    """Maximise the pPCA log-likelihood over W (D = 5, J = 3) with L-BFGS."""
    S, Q = covariance(LAM, seed=1)
    D, J = 5, 3

    def negloglik(flat):
        W = flat.reshape(D, J)
        C = W @ W.T + sigma2 * np.eye(D)
        Ci_W = np.linalg.solve(C, W)
        grad = (
            Ci_W - np.linalg.solve(C, S) @ Ci_W
        )  # ∂/∂W of −log-likelihood (Tipping & Bishop, 1999)
        return -marginal_loglik(S, W, sigma2), grad.ravel()

    w0 = np.random.default_rng(0).standard_normal(D * J)
    res = optimize.minimize(negloglik, w0, jac=True, method="L-BFGS-B", options={"gtol": 1e-10})
    W = res.x.reshape(D, J)
    opt = optimum(LAM, sigma2, J)
    assert opt.active == active
    assert -res.fun == pytest.approx(opt.loglik, abs=1e-8)
    # pPCA fixes W only up to a rotation of its columns: compare singular values
    np.testing.assert_allclose(np.linalg.svd(W, compute_uv=False), opt.column_norms, atol=1e-4)
    assert marginal_loglik(S, decoder_columns(Q, LAM, sigma2, J), sigma2) == pytest.approx(
        opt.loglik, rel=1e-12
    )


def _torch_elbo(S, W, V, logv, sigma2):
    """The same expected ELBO written independently in torch (for gradients and a cross-check)."""
    D = S.shape[0]
    R = torch.eye(D, dtype=S.dtype) - W @ V
    v = logv.exp()
    sq = torch.trace(R @ S @ R.T) + torch.trace(W @ torch.diag(v) @ W.T)
    recon = -0.5 * D * math.log(2 * math.pi * sigma2) - sq / (2 * sigma2)
    kl = 0.5 * (torch.diagonal(V @ S @ V.T) + v - 1 - logv).sum()
    return recon - kl


def test_optimum_matches_numeric_elbo_maximisation():
    """Maximise the linear VAE's ELBO over decoder W, encoder V and log-variances jointly."""
    lam, sigma2, D, J = np.array([3.0, 1.5, 0.6, 0.3]), 1.0, 4, 3
    S_np, _ = covariance(lam, seed=2)
    S = torch.tensor(S_np)
    sizes = (D * J, J * D, J)

    def unpack(flat):
        w, vv, lv = torch.split(torch.tensor(flat, requires_grad=True), sizes)
        return w.reshape(D, J), vv.reshape(J, D), lv

    def objective(flat):
        t = torch.tensor(flat, requires_grad=True)
        w, vv, lv = torch.split(t, sizes)
        value = -_torch_elbo(S, w.reshape(D, J), vv.reshape(J, D), lv, sigma2)
        value.backward()
        return value.item(), t.grad.numpy().copy()

    best = None
    for seed in range(2):
        x0 = 0.5 * np.random.default_rng(seed).standard_normal(sum(sizes))
        res = optimize.minimize(objective, x0, jac=True, method="L-BFGS-B", options={"gtol": 1e-9})
        best = res if best is None or res.fun < best.fun else best
    W, V, logv = (a.detach().numpy() for a in unpack(best.x))
    opt = optimum(lam, sigma2, J)
    assert opt.active == 2
    assert -best.fun == pytest.approx(opt.elbo, abs=1e-7)
    assert linear_elbo(S_np, W, V, np.exp(logv), sigma2) == pytest.approx(-best.fun, rel=1e-10)
    # with a diagonal posterior the optimal columns are orthogonal, so the norms themselves match
    np.testing.assert_allclose(
        np.sort(np.linalg.norm(W, axis=0))[::-1], opt.column_norms, atol=1e-3
    )
    np.testing.assert_allclose(np.sort(np.exp(logv)), np.sort(opt.posterior_variances), atol=1e-3)


# --- Monte Carlo --------------------------------------------------------------------------------


def test_kl_per_dim_and_elbo_by_monte_carlo():
    """Sample x ~ N(0, S), z ~ q(z|x) from the optimal encoder; average log q − log p per dim."""
    sigma2, J, N = 0.8, 4, 200_000
    S, Q = covariance(LAM, seed=4)
    opt = optimum(LAM, sigma2, J)
    W = decoder_columns(Q, LAM, sigma2, J)
    V, v = optimal_encoder(W, sigma2)
    np.testing.assert_allclose(v, opt.posterior_variances, rtol=1e-12)

    g = torch.Generator().manual_seed(0)
    L = torch.tensor(np.linalg.cholesky(S))
    x = torch.randn(N, 5, generator=g, dtype=torch.float64) @ L.T
    q = Normal(x @ torch.tensor(V).T, torch.tensor(np.sqrt(v)))
    z = q.mean + q.stddev * torch.randn(N, J, generator=g, dtype=torch.float64)
    prior = Normal(0.0, 1.0)
    kl_mc = (q.log_prob(z) - prior.log_prob(z)).mean(dim=0).numpy()
    np.testing.assert_allclose(kl_mc, opt.kl_per_dim, atol=0.01)
    assert opt.kl_per_dim[3] == 0 and opt.active == 3  # λ₄ = 0.5 < σ²: collapsed

    decoder = Normal(z @ torch.tensor(W).T, math.sqrt(sigma2))
    elbo_mc = (
        decoder.log_prob(x).sum(dim=1) + prior.log_prob(z).sum(dim=1) - q.log_prob(z).sum(dim=1)
    )
    assert elbo_mc.mean().item() == pytest.approx(opt.elbo, abs=0.02)


def test_kl_formula_from_encoder_moments():
    """½(E μ² + v − 1 − log v) with E μ² = 1 − σ²/λ and v = σ²/λ is ½ log(λ/σ²)."""
    sigma2 = 0.8
    S, Q = covariance(LAM, seed=6)
    W = decoder_columns(Q, LAM, sigma2, 3)
    V, v = optimal_encoder(W, sigma2)
    mean_sq = np.diag(V @ S @ V.T)
    np.testing.assert_allclose(mean_sq, 1 - sigma2 / LAM[:3], rtol=1e-10)
    kl = 0.5 * (mean_sq + v - 1 - np.log(v))
    np.testing.assert_allclose(kl, optimum(LAM, sigma2, 3).kl_per_dim, rtol=1e-10)


def test_collapse_derivation_checks():
    dv = collapse_derivation()
    assert all(c.ok for c in check_derivation(dv))


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((LAM, 0.0, 3), "sigma2 must be positive (it is a noise variance), got 0.0"),
        ((LAM, -1.0, 3), "sigma2 must be positive"),
        ((LAM, float("nan"), 3), "sigma2 must be a positive finite number, got nan"),
        ((LAM, 0.5, 0), "latent_dim must be a positive integer, got 0"),
        ((LAM, 0.5, 2.0), "latent_dim must be a positive integer, got 2.0"),
        (([1.0, float("nan")], 0.5, 1), "eigenvalues must be finite (found NaN or infinity)"),
        (([1.0, -0.3], 0.5, 1), "eigenvalues must be non-negative"),
        (([], 0.5, 1), "eigenvalues must not be empty"),
        (([[1.0, 2.0]], 0.5, 1), "eigenvalues must be a 1-D sequence, got shape (1, 2)"),
    ],
)
def test_invalid_inputs(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        optimum(*args)


def test_rounding_negative_eigenvalues_are_clipped():
    opt = optimum([2.0, 1.0, -1e-12], 0.5, 2)
    assert opt.eigenvalues[-1] == 0.0 and np.isfinite(opt.loglik)


def test_decoder_columns_and_data_eigen_validate():
    with pytest.raises(ValueError, match="one column per eigenvalue"):
        decoder_columns(np.eye(3), LAM, 0.5, 2)
    with pytest.raises(ValueError, match="at least 2 rows"):
        data_eigen(np.ones(4))
    with pytest.raises(ValueError, match="X must be finite"):
        data_eigen(np.array([[1.0, np.nan], [0.0, 1.0]]))
