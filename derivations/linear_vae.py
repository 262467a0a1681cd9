"""Posterior collapse without a neural network: the linear VAE (Lucas et al., 2019).

Model: p(z) = N(0, I_J), p(x | z) = N(W z, σ² I_D) on centred data with covariance S, and the
encoder q(z | x) = N(V x, diag(v)). Lucas et al. ("Don't Blame the ELBO!", NeurIPS 2019) show that
the ELBO's global optimum is the probabilistic-PCA solution (Tipping & Bishop, 1999): with S's
eigenvalues λ₁ ≥ λ₂ ≥ … and eigenvectors uᵢ,

    wᵢ = uᵢ · √max(λᵢ − σ², 0),   q's variance vᵢ = σ²/λᵢ,   E_x KL(q(zᵢ|x) ‖ N(0, 1)) = ½log(λᵢ/σ²)

for the top J directions. A direction with λᵢ ≤ σ² gets a zero column and q(zᵢ | x) = N(0, 1): that
latent dimension has *collapsed*, and it is the noise level σ², not the ELBO, that decided it. The
bound is tight at the optimum (the true posterior is Gaussian with diagonal covariance there), so
the ELBO equals the pPCA log-likelihood.

The KL per dimension, derived: at the optimum the encoder mean is μᵢ = √(λᵢ − σ²)/λᵢ · uᵢᵀx, so
E_x μᵢ² = (λᵢ − σ²)/λᵢ = 1 − σ²/λᵢ, and with vᵢ = σ²/λᵢ,
E_x KL = ½(E μᵢ² + vᵢ − 1 − log vᵢ) = ½(1 − σ²/λᵢ + σ²/λᵢ − 1 + log(λᵢ/σ²)) = ½ log(λᵢ/σ²).

Everything here is per example and in nats; data are assumed centred (the optimal decoder bias is
the data mean, which `data_eigen` subtracts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from numbers import Integral, Real

import numpy as np
import sympy as sp

from derivations.base import Derivation, Step, sigma

NEGATIVE_TOLERANCE = 1e-9  # relative: eigenvalues down to −1e-9·max|λ| are rounding, set to 0


@dataclass(frozen=True, eq=False)
class LinearOptimum:
    """The ELBO optimum of a linear VAE; per-dimension arrays have length latent_dim."""

    eigenvalues: np.ndarray  # λ: data-covariance eigenvalues, sorted descending (D,)
    sigma2: float  # observation noise σ² (fixed, not learned)
    latent_dim: int  # J
    active: int  # how many latent dimensions have λᵢ > σ²
    column_norms: np.ndarray  # ‖wᵢ‖ = √max(λᵢ − σ², 0); 0 beyond D
    posterior_variances: np.ndarray  # vᵢ = σ²/λᵢ when active, 1 (the prior) when collapsed
    posterior_mean_variances: np.ndarray  # Var_x μᵢ(x) = 1 − σ²/λᵢ when active, else 0
    kl_per_dim: np.ndarray  # E_x KL(q(zᵢ|x) ‖ N(0, 1)) = ½ log(λᵢ/σ²) when active, else 0
    total_kl: float  # Σ kl_per_dim
    model_eigenvalues: np.ndarray  # eigenvalues of W Wᵀ + σ² I (D,)
    loglik: float  # average log p(x) under N(0, W Wᵀ + σ² I), nats per example
    elbo: float  # the ELBO per example at the optimum (equals loglik: the bound is tight)
    reconstruction: float  # E log p(x | z) = elbo + total_kl

    @property
    def collapsed(self) -> int:
        return self.latent_dim - self.active


# --- validation ---------------------------------------------------------------------------------


def _check_sigma2(sigma2: object) -> float:
    if isinstance(sigma2, bool) or not isinstance(sigma2, Real) or not math.isfinite(sigma2):
        raise ValueError(f"sigma2 must be a positive finite number, got {sigma2!r}")
    if sigma2 <= 0:
        raise ValueError(f"sigma2 must be positive (it is a noise variance), got {sigma2!r}")
    return float(sigma2)


def _check_latent_dim(latent_dim: object) -> int:
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, Integral) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
    return int(latent_dim)


def _check_eigenvalues(eigenvalues: object) -> np.ndarray:
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.ndim != 1:
        raise ValueError(f"eigenvalues must be a 1-D sequence, got shape {lam.shape}")
    if lam.size == 0:
        raise ValueError("eigenvalues must not be empty")
    if not np.all(np.isfinite(lam)):
        raise ValueError("eigenvalues must be finite (found NaN or infinity)")
    floor = -NEGATIVE_TOLERANCE * max(1.0, float(np.max(np.abs(lam))))
    if np.min(lam) < floor:
        raise ValueError(
            f"eigenvalues must be non-negative (a covariance has none below 0), got {lam.min():g}"
        )
    return np.clip(lam, 0.0, None)


def _sorted_desc(lam: np.ndarray) -> np.ndarray:
    return np.argsort(-lam, kind="stable")


# --- the optimum --------------------------------------------------------------------------------


def optimum(eigenvalues, sigma2: float, latent_dim: int) -> LinearOptimum:
    """The analytic ELBO optimum for data-covariance eigenvalues, fixed σ² and J latent dims.

    Latent dimensions beyond D (J > D) have nothing to explain and are always collapsed.
    """
    lam = _check_eigenvalues(eigenvalues)
    s2 = _check_sigma2(sigma2)
    J = _check_latent_dim(latent_dim)
    lam = lam[_sorted_desc(lam)]
    D = lam.size
    k = min(J, D)
    top = lam[:k]
    on = active_directions(top, s2)

    # The SymPy expressions below (column_norm_expr, …), lambdified; beyond D: collapsed.
    per_direction = optimum_per_direction(top, s2)
    norms, post_var, mean_var, kl = np.zeros(J), np.ones(J), np.zeros(J), np.zeros(J)
    norms[:k] = per_direction["norm"]
    post_var[:k] = per_direction["post_var"]
    mean_var[:k] = per_direction["mean_var"]
    kl[:k] = per_direction["kl"]

    model = np.full(D, s2)
    model[:k] = np.maximum(top, s2)
    loglik = -0.5 * (D * math.log(2 * math.pi) + np.sum(np.log(model)) + np.sum(lam / model))

    # The ELBO, computed from the encoder and decoder themselves (in the eigenbasis) rather than
    # assumed equal to the log-likelihood.
    W = np.zeros((D, J))
    W[np.arange(k), np.arange(k)] = norms[:k]
    V, v = optimal_encoder(W, s2)
    elbo_value = linear_elbo(np.diag(lam), W, V, v, s2)
    total_kl = float(np.sum(kl))
    return LinearOptimum(
        eigenvalues=lam,
        sigma2=s2,
        latent_dim=J,
        active=int(np.sum(on)),
        column_norms=norms,
        posterior_variances=post_var,
        posterior_mean_variances=mean_var,
        kl_per_dim=kl,
        total_kl=total_kl,
        model_eigenvalues=model,
        loglik=float(loglik),
        elbo=float(elbo_value),
        reconstruction=float(elbo_value + total_kl),
    )


def decoder_columns(eigenvectors, eigenvalues, sigma2: float, latent_dim: int) -> np.ndarray:
    """The optimal decoder W (D × latent_dim): column i is uᵢ·√max(λᵢ − σ², 0), uᵢ sorted by λᵢ.

    ``eigenvectors`` holds the uᵢ as columns, in the same order as ``eigenvalues``. Collapsed
    dimensions (and any beyond the number of eigenvectors) are zero columns.
    """
    lam = _check_eigenvalues(eigenvalues)
    s2 = _check_sigma2(sigma2)
    J = _check_latent_dim(latent_dim)
    U = np.asarray(eigenvectors, dtype=float)
    if U.ndim != 2 or U.shape[1] != lam.size:
        raise ValueError(
            f"eigenvectors must be a 2-D array with one column per eigenvalue ({lam.size}), "
            f"got shape {U.shape}"
        )
    order = _sorted_desc(lam)
    lam, U = lam[order], U[:, order]
    k = min(J, lam.size)
    W = np.zeros((U.shape[0], J))
    W[:, :k] = U[:, :k] * np.sqrt(np.maximum(lam[:k] - s2, 0.0))
    return W


def data_eigen(X) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors (columns) of the centred data covariance.

    The covariance divides by N (the maximum-likelihood estimate), so `optimum(...).loglik` is
    exactly the average log-likelihood of these N rows under the optimal pPCA model.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"X must be a 2-D array with at least 2 rows (examples), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite (found NaN or infinity)")
    Xc = X - X.mean(axis=0)
    S = Xc.T @ Xc / X.shape[0]
    lam, U = np.linalg.eigh(S)
    order = _sorted_desc(lam)
    return np.clip(lam[order], 0.0, None), U[:, order]


# --- any linear VAE, not only the optimum -------------------------------------------------------


def optimal_encoder(W, sigma2: float) -> tuple[np.ndarray, np.ndarray]:
    """The best encoder for decoder W: mean map V = M⁻¹Wᵀ and diagonal variances v = σ²/diag(M).

    M = WᵀW + σ²I. V is the exact posterior mean map; v is the best *diagonal* variance (it is
    the exact posterior variance when W's columns are orthogonal, as at the optimum).
    """
    W = np.asarray(W, dtype=float)
    s2 = _check_sigma2(sigma2)
    M = W.T @ W + s2 * np.eye(W.shape[1])
    return np.linalg.solve(M, W.T), s2 / np.diag(M)


def linear_elbo(cov, W, V, post_var, sigma2: float) -> float:
    """The ELBO per example, in expectation over centred data with covariance ``cov``.

    E_x E_q log N(x | Wz, σ²I) − E_x KL(N(Vx, diag v) ‖ N(0, I)), in closed form:
    −D/2·log 2πσ² − [tr((I − WV) S (I − WV)ᵀ) + tr(W diag(v) Wᵀ)]/(2σ²)
    − ½ Σⱼ [(V S Vᵀ)ⱼⱼ + vⱼ − 1 − log vⱼ].
    """
    S, W, V = (np.asarray(a, dtype=float) for a in (cov, W, V))
    v = np.asarray(post_var, dtype=float)
    s2 = _check_sigma2(sigma2)
    D = S.shape[0]
    R = np.eye(D) - W @ V
    sq_err = np.trace(R @ S @ R.T) + np.trace(W @ np.diag(v) @ W.T)
    recon = -0.5 * D * math.log(2 * math.pi * s2) - sq_err / (2 * s2)
    kl = 0.5 * np.sum(np.diag(V @ S @ V.T) + v - 1 - np.log(v))
    return float(recon - kl)


def marginal_loglik(cov, W, sigma2: float) -> float:
    """Average log N(x | 0, W Wᵀ + σ² I) over centred data with covariance ``cov`` (pPCA)."""
    S, W = np.asarray(cov, dtype=float), np.asarray(W, dtype=float)
    s2 = _check_sigma2(sigma2)
    D = S.shape[0]
    C = W @ W.T + s2 * np.eye(D)
    _, logdet = np.linalg.slogdet(C)
    return float(-0.5 * (D * math.log(2 * math.pi) + logdet + np.trace(np.linalg.solve(C, S))))


# --- why a direction collapses, in SymPy --------------------------------------------------------

lam_i = sp.Symbol("lambda_i", positive=True)  # data variance along eigen-direction uᵢ
w_i = sp.Symbol("w_i", real=True)  # the decoder column's length along uᵢ


def _per_direction_loglik() -> sp.Expr:
    """E_x log N(uᵢᵀx | 0, wᵢ² + σ²): the start of `collapse_derivation`."""
    return -sp.log(2 * sp.pi * (w_i**2 + sigma**2)) / 2 - lam_i / (2 * (w_i**2 + sigma**2))


@cache
def column_norm_expr() -> sp.Expr:
    """‖wᵢ‖ at the optimum of an active direction: the positive stationary point of the
    per-direction log-likelihood (SymPy solves ∂/∂wᵢ = 0; the other roots: 0 and its negative)."""
    roots = sp.solve(sp.diff(_per_direction_loglik(), w_i), w_i)
    (positive,) = [r for r in roots if r != 0 and r.subs({lam_i: 2, sigma: 1}).is_positive]
    return positive


@cache
def posterior_variance_expr() -> sp.Expr:
    """vᵢ = σ²/(wᵢ² + σ²), the exact posterior variance along uᵢ, at the optimal wᵢ."""
    return sp.simplify((sigma**2 / (w_i**2 + sigma**2)).subs(w_i, column_norm_expr()))


@cache
def posterior_mean_variance_expr() -> sp.Expr:
    """Var_x μᵢ(x) at the optimum: μᵢ(x) = wᵢ/(wᵢ² + σ²)·uᵢᵀx and Var_x uᵢᵀx = λᵢ."""
    mean_map = w_i / (w_i**2 + sigma**2)
    return sp.simplify((mean_map**2 * lam_i).subs(w_i, column_norm_expr()))


@cache
def kl_per_direction_expr() -> sp.Expr:
    """E_x KL(N(μᵢ(x), vᵢ) ‖ N(0, 1)) = ½(E μᵢ² + vᵢ − 1 − log vᵢ) at the optimum, returned in
    the form the page prints, ½·log(λᵢ/σ²), after SymPy confirms it equals the derived one."""
    v = posterior_variance_expr()
    derived = (posterior_mean_variance_expr() + v - 1 - sp.log(v)) / 2
    stated = sp.log(lam_i / sigma**2) / 2
    if sp.simplify(sp.expand_log(derived - stated, force=True)) != 0:
        raise AssertionError(f"the stated KL {stated} differs from the derived {derived}")
    return stated


@cache
def _lambdified() -> dict[str, object]:
    args = (lam_i, sigma)
    return {
        "norm": sp.lambdify(args, column_norm_expr(), modules="numpy"),
        "post_var": sp.lambdify(args, posterior_variance_expr(), modules="numpy"),
        "mean_var": sp.lambdify(args, posterior_mean_variance_expr(), modules="numpy"),
        "kl": sp.lambdify(args, kl_per_direction_expr(), modules="numpy"),
    }


def active_directions(lam: np.ndarray, sigma2: float) -> np.ndarray:
    """Which directions are active at the optimum: λᵢ > σ² (the SymPy norm is real only there)."""
    return np.asarray(lam, dtype=float) > sigma2


def optimum_per_direction(lam: np.ndarray, sigma2: float) -> dict[str, np.ndarray]:
    """Column norms, posterior variances, Var_x μᵢ and KLs of the optimum, from the lambdified
    SymPy expressions for active directions; a collapsed one has 0, 1 (the prior), 0 and 0."""
    lam = np.asarray(lam, dtype=float)
    on = active_directions(lam, sigma2)
    s = math.sqrt(sigma2)
    functions = _lambdified()
    out = {
        "norm": np.zeros(lam.shape),
        "post_var": np.ones(lam.shape),
        "mean_var": np.zeros(lam.shape),
        "kl": np.zeros(lam.shape),
    }
    for name, values in out.items():
        values[on] = np.broadcast_to(functions[name](lam[on], s), values[on].shape)
    return out


def collapse_derivation() -> Derivation:
    """pPCA's log-likelihood along one eigen-direction → which latent dimensions collapse."""
    c = w_i**2 + sigma**2  # the model's variance along uᵢ
    t = lam_i / c  # data variance over model variance
    start = -sp.log(2 * sp.pi * c) / 2 - lam_i / (2 * c)
    steps = (
        Step(
            start,
            "start",
            "E_x log N(uᵢᵀx | 0, wᵢ² + σ²): data variance λᵢ, model variance wᵢ² + σ² along "
            "eigen-direction uᵢ.",
            label="per-direction log-likelihood",
        ),
        Step(
            -sp.log(c) / 2 - lam_i / (2 * c),
            "drop",
            "−½log 2π does not depend on wᵢ.",
            term=-sp.log(2 * sp.pi) / 2,
            label="constant dropped",
        ),
        Step(
            -sp.log(c) - t,
            "scale",
            "Multiply by 2: the maximiser is unchanged.",
            term=sp.Rational(1, 2),
            label="doubled",
        ),
        Step(
            -sp.log(lam_i) - 1 - (t - 1 - sp.log(t)),
            "equal",
            "With t = λᵢ/(wᵢ² + σ²): −log(wᵢ² + σ²) = −log λᵢ + log t.",
            label="gap form",
        ),
        Step(
            -(t - 1 - sp.log(t)),
            "drop",
            "−log λᵢ − 1 is free of wᵢ; −(t − 1 − log t) ≤ 0 peaks at t = 1, out of reach when "
            "λᵢ ≤ σ².",
            term=-sp.log(lam_i) - 1,
            label="collapse",
        ),
    )
    return Derivation(
        slug="linear-vae-collapse",
        title="Linear VAE: which latent dimensions collapse",
        parameters=(w_i,),
        steps=steps,
        summary="pPCA's log-likelihood (Tipping & Bishop, 1999) splits into one term per "
        "eigen-direction of the data. What is left after the drops, −(t − 1 − log t) with "
        "t = λᵢ/(wᵢ² + σ²), is ≤ 0 and reaches 0 only at t = 1, i.e. wᵢ² = λᵢ − σ², which needs "
        "λᵢ > σ². Otherwise the best is wᵢ = 0: the column is zero, q(zᵢ|x) = N(0, 1) and the "
        "dimension collapses (Lucas et al., 2019). Then ‖wᵢ‖ = √(λᵢ − σ²) and the expected KL "
        "is ½log(λᵢ/σ²) when active.",
        symbols={"lambda_i": lam_i, "w_i": w_i, "sigma": sigma},
    )
