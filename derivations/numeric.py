"""Numbers for the numeric check panel: each derived closed form against an independent library.
(Over 500 lines because it holds one short comparison per likelihood family and derivation, the
way tests list cases; adding a family adds one function here.)

`compare(slug, seed)` evaluates SymPy step expressions (lambdified once, cached) at seeded random
data and parameters, and puts each next to scipy.stats / torch.distributions / quadrature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy as sp
import torch
from scipy import integrate, optimize, stats
from torch.distributions import Bernoulli, ContinuousBernoulli, Normal, kl_divergence
from torch.nn import functional as F

from derivations import get
from derivations.base import D, J, i, j, sigma
from derivations.bernoulli import continuous_bernoulli_normaliser, lam
from derivations.gaussian_learned import optimal_sigma_squared
from derivations.huber import huber_normaliser
from derivations.kl import epsilon, single_sample_estimate_term

DIMS = 8  # D: pixels per example in the panel
LATENTS = 4  # J: latent dimensions
GRADIENT_INDEX = 3  # the j in ∂/∂μⱼ


@dataclass(frozen=True)
class NumericRow:
    label: str
    derived: float  # the SymPy closed form, lambdified
    reference: float  # an independent library's value
    reference_name: str  # e.g. "scipy.stats.norm.logpdf"
    agree: bool  # np.isclose(derived, reference)


Values = Mapping[str, np.ndarray | float]


def _lambdify(expr: sp.Expr, sizes: Mapping[sp.Symbol, int]) -> Callable[[Values], float]:
    """expr with concrete sizes, as a function of {name: array or float}.

    Each Indexed x[k] becomes one argument, read from values["x"][k - 1] (SymPy indices are
    1-based); other free symbols are read by name.
    """
    concrete = expr.subs(sizes).doit()
    indexed = sorted(concrete.atoms(sp.Indexed), key=sp.default_sort_key)
    labels = {t.base.label for t in indexed}
    scalars = sorted(concrete.free_symbols - labels - set(indexed), key=str)
    flat = {t: sp.Dummy(str(t.base)) for t in indexed}
    fn = sp.lambdify(
        [*flat.values(), *scalars], concrete.xreplace(flat), modules=["scipy", "numpy"]
    )

    # Names and 0-based positions read once here, not on every slider move.
    lookups = [(str(t.base), int(t.indices[0]) - 1) for t in indexed]
    scalar_names = [str(s) for s in scalars]

    def evaluate(values: Values) -> float:
        args = [np.asarray(values[name])[k] for name, k in lookups]
        return float(fn(*args, *(values[name] for name in scalar_names)))

    return evaluate


SIZES = {D: DIMS, J: LATENTS}


@cache
def _step_function(slug: str, label: str, part: str = "expr") -> Callable[[Values], float]:
    step = get(slug).step(label)
    expr = step.expr if part == "expr" else step.term
    return _lambdify(expr, {**SIZES, j: GRADIENT_INDEX} if slug == "gaussian-gradient" else SIZES)


@cache
def _expr_function(name: str) -> Callable[[Values], float]:
    """Closed forms that are not a whole step: built from the same SymPy objects."""
    eps = sp.IndexedBase("epsilon", real=True)
    exprs = {
        "optimal sigma squared": optimal_sigma_squared(),
        "cb log normaliser": sp.Sum(sp.log(continuous_bernoulli_normaliser(lam[i])), (i, 1, D)),
        "huber log normaliser": sp.log(huber_normaliser()),
        "kl single sample": sp.Sum(single_sample_estimate_term().subs(epsilon, eps[j]), (j, 1, J)),
    }
    return _lambdify(exprs[name], SIZES)


def _sample(seed: int) -> dict[str, np.ndarray | float]:
    """Seeded data and parameters, each inside its domain."""
    rng = np.random.default_rng(seed)
    return {
        "x": rng.uniform(0.0, 1.0, DIMS),  # grey pixels
        "x_binary": (rng.uniform(size=DIMS) < 0.5).astype(float),
        "mu": rng.normal(0.5, 0.4, DIMS),
        "sigma": float(rng.uniform(0.3, 1.5)),
        "sigma_vec": rng.uniform(0.3, 1.5, DIMS),
        "p": rng.uniform(0.05, 0.95, DIMS),
        "ell": rng.normal(0.0, 2.0, DIMS),
        "lambda": rng.uniform(0.05, 0.95, DIMS),
        "b": float(rng.uniform(0.3, 1.5)),
        "alpha": float(rng.uniform(0.3, 2.0)),
        "mu_z": rng.normal(0.0, 1.0, LATENTS),
        "sigma_z": rng.uniform(0.3, 2.0, LATENTS),
        "epsilon": rng.normal(0.0, 1.0, LATENTS),
    }


def _t(a) -> torch.Tensor:
    return torch.as_tensor(a, dtype=torch.float64)


def _row(label: str, derived: float, reference: float, reference_name: str) -> NumericRow:
    derived, reference = float(derived), float(reference)
    return NumericRow(
        label, derived, reference, reference_name, bool(np.isclose(derived, reference))
    )


def _huber_log_z_by_quadrature(alpha: float) -> float:
    """log ∫ exp(−ρ_α(u)) du by scipy's quad, piece by piece."""

    def unnormalised(r: float) -> float:
        h = 0.5 * r * r if abs(r) <= alpha else alpha * (abs(r) - 0.5 * alpha)
        return float(np.exp(-h))

    core, _ = integrate.quad(unnormalised, -alpha, alpha, epsabs=0, epsrel=1e-12)
    tail, _ = integrate.quad(unnormalised, alpha, np.inf, epsabs=0, epsrel=1e-12)
    return float(np.log(core + 2 * tail))  # H is even: both tails are equal


def _gaussian_rows(slug: str, v: dict) -> list[NumericRow]:
    x, m, sd = v["x"], v["mu"], v["sigma"]
    logpdf = stats.norm.logpdf(x, m, sd).sum()
    f = _step_function
    if slug == "gaussian-mse":
        expanded = f(slug, "expanded")(v)
        kept = f(slug, "constants dropped")(v)
        return [
            _row(
                "log N(x; μ, σ²I): density",
                f(slug, "density")(v),
                logpdf,
                "scipy.stats.norm.logpdf",
            ),
            _row(
                "log N(x; μ, σ²I): expanded",
                expanded,
                stats.multivariate_normal.logpdf(x, m, sd**2 * np.eye(DIMS)),
                "scipy.stats.multivariate_normal.logpdf",
            ),
            _row(
                "dropped constants",
                f(slug, "constants dropped", "term")(v),
                logpdf - kept,
                "scipy.stats.norm.logpdf − kept term",
            ),
            _row(
                "−MSE",
                f(slug, "negative MSE")(v),
                -F.mse_loss(_t(m), _t(x)).item(),
                "torch.nn.functional.mse_loss",
            ),
        ]
    if slug == "gaussian-gradient":
        k = GRADIENT_INDEX - 1
        mu_t = _t(m).requires_grad_()
        Normal(mu_t, _t(sd)).log_prob(_t(x)).sum().backward()
        grad_log_p = mu_t.grad[k].item()
        mu_t = _t(m).requires_grad_()
        F.mse_loss(mu_t, _t(x)).backward()
        grad_mse = mu_t.grad[k].item()
        return [
            _row(
                "∂ log p/∂μⱼ",
                f(slug, "log-density gradient")(v),
                grad_log_p,
                "torch.autograd on Normal.log_prob",
            ),
            _row(
                "(xⱼ − μⱼ)/σ²",
                f(slug, "gradient evaluated")(v),
                grad_log_p,
                "torch.autograd on Normal.log_prob",
            ),
            _row(
                "−∂MSE/∂μⱼ",
                f(slug, "MSE gradient evaluated")(v),
                -grad_mse,
                "torch.autograd on F.mse_loss",
            ),
        ]
    if slug == "gaussian-diagonal":
        vd = {**v, "sigma": v["sigma_vec"]}
        var = _t(v["sigma_vec"] ** 2)
        return [
            _row(
                "log N(x; μ, diag σ²)",
                f(slug, "expanded")(vd),
                stats.norm.logpdf(x, m, v["sigma_vec"]).sum(),
                "scipy.stats.norm.logpdf",
            ),
            _row(
                "−Gaussian NLL",
                f(slug, "Gaussian NLL form")(vd),
                -F.gaussian_nll_loss(_t(m), _t(x), var, reduction="sum").item(),
                "torch.nn.functional.gaussian_nll_loss",
            ),
        ]
    if slug == "gaussian-learned-sigma":

        def negative_log_likelihood(log_sd: float) -> float:
            return -stats.norm.logpdf(x, m, np.exp(log_sd)).sum()

        best = optimize.minimize_scalar(negative_log_likelihood, options={"xtol": 1e-12})
        return [
            _row("log-likelihood", f(slug, "log-likelihood")(v), logpdf, "scipy.stats.norm.logpdf"),
            _row(
                "log-likelihood (optimum exposed)",
                f(slug, "optimum exposed")(v),
                logpdf,
                "scipy.stats.norm.logpdf",
            ),
            _row(
                "optimal σ² (= MSE)",
                _expr_function("optimal sigma squared")(v),
                np.exp(2 * best.x),
                "scipy.optimize.minimize_scalar",
            ),
        ]
    if slug == "gaussian-sigma-stationary":
        sd_t = _t(sd).requires_grad_()
        Normal(_t(m), sd_t).log_prob(_t(x)).sum().backward()
        return [
            _row(
                "∂ log p/∂σ",
                f(slug, "stationary point")(v),
                sd_t.grad.item(),
                "torch.autograd on Normal.log_prob",
            )
        ]
    if slug == "gaussian-calibrated":
        sd_hat = np.sqrt(np.mean((x - m) ** 2))
        return [
            _row(
                "profile log-likelihood",
                f(slug, "profile log-likelihood")(v),
                stats.norm.logpdf(x, m, sd_hat).sum(),
                "scipy.stats.norm.logpdf at σ² = MSE",
            )
        ]
    raise KeyError(slug)


def _bernoulli_rows(slug: str, v: dict) -> list[NumericRow]:
    f = _step_function
    if slug == "bernoulli-bce":
        vb = {**v, "x": v["x_binary"]}
        xt, pt = _t(vb["x"]), _t(v["p"])
        log_pmf = Bernoulli(probs=pt).log_prob(xt).sum().item()
        return [
            _row("log-pmf", f(slug, "density")(vb), log_pmf, "torch.distributions.Bernoulli"),
            _row(
                "−BCE (sum)",
                f(slug, "negative BCE")(vb),
                stats.bernoulli.logpmf(vb["x"], v["p"]).sum(),
                "scipy.stats.bernoulli.logpmf",
            ),
            _row(
                "−BCE (mean)",
                f(slug, "negative mean BCE")(vb),
                -F.binary_cross_entropy(pt, xt).item(),
                "torch.nn.functional.binary_cross_entropy",
            ),
        ]
    if slug == "bernoulli-logits":
        vb = {**v, "x": v["x_binary"]}
        xt, lt = _t(vb["x"]), _t(v["ell"])
        log_pmf = Bernoulli(logits=lt).log_prob(xt).sum().item()
        return [
            _row("log-pmf", f(slug, "density")(vb), log_pmf, "torch.distributions.Bernoulli"),
            _row(
                "logits form", f(slug, "logits form")(vb), log_pmf, "torch.distributions.Bernoulli"
            ),
            _row(
                "−BCE with logits (mean)",
                f(slug, "negative mean BCE with logits")(vb),
                -F.binary_cross_entropy_with_logits(lt, xt).item(),
                "torch.nn.functional.binary_cross_entropy_with_logits",
            ),
        ]
    if slug == "continuous-bernoulli":
        x, shape = v["x"], v["lambda"]
        log_density = ContinuousBernoulli(probs=_t(shape)).log_prob(_t(x)).sum().item()
        bce_sum = F.binary_cross_entropy(_t(shape), _t(x), reduction="sum").item()
        by_quadrature = sum(
            -np.log(integrate.quad(lambda u, q=q: q**u * (1 - q) ** (1 - u), 0, 1)[0])
            for q in shape
        )
        return [
            _row(
                "log-density",
                f(slug, "expanded")(v),
                log_density,
                "torch.distributions.ContinuousBernoulli",
            ),
            _row(
                "Σ log C(λ)",
                _expr_function("cb log normaliser")(v),
                by_quadrature,
                "scipy.integrate.quad",
            ),
            _row(
                "log-density − (−BCE) = Σ log C(λ)",
                _expr_function("cb log normaliser")(v),
                log_density + bce_sum,
                "ContinuousBernoulli.log_prob + F.binary_cross_entropy",
            ),
        ]
    raise KeyError(slug)


def _laplace_huber_rows(slug: str, v: dict) -> list[NumericRow]:
    f = _step_function
    x, m = v["x"], v["mu"]
    if slug == "laplace-l1":
        logpdf = stats.laplace.logpdf(x, m, v["b"]).sum()
        return [
            _row("log-density", f(slug, "density")(v), logpdf, "scipy.stats.laplace.logpdf"),
            _row("expanded", f(slug, "expanded")(v), logpdf, "scipy.stats.laplace.logpdf"),
            _row(
                "−L1 (mean)",
                f(slug, "negative mean L1")(v),
                -F.l1_loss(_t(m), _t(x)).item(),
                "torch.nn.functional.l1_loss",
            ),
        ]
    alpha, b = v["alpha"], v["b"]
    log_z = _huber_log_z_by_quadrature(alpha)
    if slug == "huber-normaliser":
        return [
            _row(
                "log Z(α)",
                np.log(f(slug, "closed form")(v)),
                log_z,
                "scipy.integrate.quad",
            )
        ]
    if slug == "huber":
        delta = alpha * b  # the switch point on the raw residual
        huber_sum = F.huber_loss(_t(m), _t(x), reduction="sum", delta=delta).item()
        return [
            _row(
                "log Z(α)",
                _expr_function("huber log normaliser")(v),
                log_z,
                "scipy.integrate.quad",
            ),
            _row(
                "log-density",
                f(slug, "expanded")(v),
                -huber_sum / b**2 - DIMS * (np.log(b) + log_z),
                "F.huber_loss + scipy.integrate.quad",
            ),
            _row(
                "−Huber (mean)",
                f(slug, "negative mean Huber")(v),
                -F.huber_loss(_t(m), _t(x), delta=delta).item(),
                "torch.nn.functional.huber_loss",
            ),
        ]
    raise KeyError(slug)


def _kl_rows(slug: str, v: dict) -> list[NumericRow]:
    f = _step_function
    m, sd = v["mu_z"], v["sigma_z"]
    q = Normal(_t(m), _t(sd))
    kl_torch = kl_divergence(q, Normal(_t(0.0), _t(1.0)))
    # E over ε ~ N(0, 1) by Gauss–Hermite quadrature: exact here, since the integrands are
    # polynomials in ε (of degree ≤ 4) times the standard normal density.
    nodes, weights = np.polynomial.hermite_e.hermegauss(16)
    weights = weights / np.sqrt(2 * np.pi)
    u = m[:, None] + sd[:, None] * nodes  # J × nodes: z = μ + σε
    log_ratio = stats.norm.logpdf(u, m[:, None], sd[:, None]) - stats.norm.logpdf(u)
    quadrature_name = "Gauss–Hermite quadrature of scipy.stats.norm.logpdf"
    if slug == "kl-gaussian":
        return [
            _row(
                "KL closed form",
                f(slug, "closed form")(v),
                kl_torch.sum().item(),
                "torch.distributions.kl_divergence",
            ),
            _row(
                "KL closed form",
                f(slug, "closed form")(v),
                (log_ratio @ weights).sum(),
                quadrature_name,
            ),
        ]
    if slug == "kl-monte-carlo":
        z = _t(m + sd * v["epsilon"])
        estimate = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum().item()
        return [
            _row(
                "single-sample estimate",
                _expr_function("kl single sample")(v),
                estimate,
                "torch.distributions.Normal.log_prob",
            ),
            _row(
                "its expectation (closed form)",
                f(slug, "closed form")(v),
                kl_torch.sum().item(),
                "torch.distributions.kl_divergence",
            ),
        ]
    if slug == "kl-monte-carlo-variance":
        centred = log_ratio - kl_torch.numpy()[:, None]
        return [
            _row(
                "variance of the estimate",
                f(slug, "variance")(v),
                (centred**2 @ weights).sum(),
                quadrature_name,
            )
        ]
    raise KeyError(slug)


def _elbo_rows(slug: str, v: dict) -> list[NumericRow]:
    f = _step_function
    x, m, sd = v["x"], v["mu"], v["sigma"]
    kl = kl_divergence(Normal(_t(v["mu_z"]), _t(v["sigma_z"])), Normal(_t(0.0), _t(1.0))).sum()
    log_p = Normal(_t(m), _t(sd)).log_prob(_t(x)).sum()
    sse = F.mse_loss(_t(m), _t(x), reduction="sum")
    return [
        _row(
            "ELBO",
            f(slug, "ELBO")(v),
            (log_p - kl).item(),
            "torch Normal.log_prob − kl_divergence",
        ),
        _row(
            "−(SSE + 2σ²·KL)",
            f(slug, "negative SSE + beta KL")(v),
            -(sse + 2 * sd**2 * kl).item(),
            "torch F.mse_loss(sum) + kl_divergence",
        ),
    ]


def _linear_vae_rows(slug: str, v: dict) -> list[NumericRow]:
    """One pPCA direction: E_u[log N(u; 0, σ² + w²)] for data variance λ, by quadrature."""
    lam_i, w_i, sd = float(v["lambda"][0]) + 0.5, float(v["mu"][0]), v["sigma"]
    values = {"lambda_i": lam_i, "w_i": w_i, "sigma": sd}
    model_sd = np.sqrt(sd**2 + w_i**2)

    def integrand(u: float) -> float:
        return stats.norm.pdf(u, scale=np.sqrt(lam_i)) * stats.norm.logpdf(u, scale=model_sd)

    bound = 12 * np.sqrt(lam_i)
    expected, _ = integrate.quad(integrand, -bound, bound, epsabs=0, epsrel=1e-12)
    return [
        _row(
            "E log N(u; 0, σ² + w²), u ~ N(0, λ)",
            _step_function(slug, "per-direction log-likelihood")(values),
            expected,
            "scipy.integrate.quad of scipy.stats.norm.logpdf",
        )
    ]


def _elbo_gap_rows(slug: str, v: dict) -> list[NumericRow]:
    """One pixel x = w·z + noise: log p(x) = ELBO + KL(q ‖ p(z|x)) in closed form vs scipy."""
    rng = np.random.default_rng(int(v["seed"]))
    point = {
        "x": float(rng.normal(0.0, 1.5)),
        "w": float(rng.normal(0.0, 1.5)),
        "s": float(rng.uniform(0.3, 1.5)),
        "m": float(rng.normal(0.0, 1.0)),
        "v": float(rng.uniform(0.3, 1.5)),
    }
    evidence = stats.norm.logpdf(point["x"], 0.0, np.hypot(point["s"], point["w"]))
    return [
        _row(
            "ELBO + KL(q ‖ p(z|x)) = log p(x)",
            _step_function(slug, "closed forms")(point),
            float(evidence),
            "scipy.stats.norm.logpdf(x; 0, s² + w²)",
        )
    ]


def _dequantisation_rows(slug: str, v: dict) -> list[NumericRow]:
    """A Gaussian's probability of one 8-bit bin, as a CDF difference and by quadrature."""
    rng = np.random.default_rng(int(v["seed"]))
    width = 1.0 / 255.0
    point = {
        "mu": float(rng.uniform(0.0, 1.0)),
        "sigma": float(rng.uniform(0.02, 0.5)),
        "xtilde": float(rng.integers(0, 256) * width),
        "w": width,
    }
    lo, hi = point["xtilde"] - width / 2, point["xtilde"] + width / 2
    cdf = stats.norm.cdf(hi, point["mu"], point["sigma"]) - stats.norm.cdf(
        lo, point["mu"], point["sigma"]
    )
    mass = integrate.quad(stats.norm.pdf, lo, hi, args=(point["mu"], point["sigma"]))[0]
    return [
        _row(
            "log P(bin)",
            _step_function(slug, "bin probability")(point),
            float(np.log(cdf)),
            "scipy.stats.norm.cdf difference",
        ),
        _row(
            "log w + log E_u p(x̃ + w·u)",
            _step_function(slug, "log w + log E_u p")(point),
            float(np.log(mass)),
            "scipy.integrate.quad of scipy.stats.norm.pdf",
        ),
    ]


_ROWS: dict[str, Callable[[str, dict], list[NumericRow]]] = {
    **dict.fromkeys(
        (
            "gaussian-mse",
            "gaussian-gradient",
            "gaussian-diagonal",
            "gaussian-learned-sigma",
            "gaussian-sigma-stationary",
            "gaussian-calibrated",
        ),
        _gaussian_rows,
    ),
    **dict.fromkeys(("bernoulli-bce", "bernoulli-logits", "continuous-bernoulli"), _bernoulli_rows),
    **dict.fromkeys(("laplace-l1", "huber", "huber-normaliser"), _laplace_huber_rows),
    **dict.fromkeys(("kl-gaussian", "kl-monte-carlo", "kl-monte-carlo-variance"), _kl_rows),
    "elbo": _elbo_rows,
    "linear-vae-collapse": _linear_vae_rows,
    "elbo-gap": _elbo_gap_rows,
    "dequantisation": _dequantisation_rows,
}

SLUGS = tuple(_ROWS)  # every slug compare() covers


def compare(slug: str, seed: int = 0) -> list[NumericRow]:
    """Derived closed forms vs independent libraries at seeded random data (D = 8, J = 4)."""
    return _ROWS[slug](slug, {**_sample(seed), "seed": seed})


@cache
def _constant_functions() -> dict[str, Callable[[float, int], float]]:
    term = get("gaussian-mse").step("constants dropped").term
    log_sigma_part, log_two_pi_part = term.as_independent(sigma, as_Add=True)[::-1]
    pieces = {
        "−D/2·log 2π": log_two_pi_part,
        "−D·log σ": log_sigma_part,
        "total": term,
    }
    return {name: sp.lambdify((sigma, D), e, modules="numpy") for name, e in pieces.items()}


def dropped_constants(sigma: float, D: int) -> dict[str, float]:
    """The Gaussian's dropped constants at (σ, D), from the SymPy term the derivation drops."""
    return {name: float(fn(sigma, D)) for name, fn in _constant_functions().items()}
