"""Bernoulli decoders → BCE (in probabilities and in logits), and the continuous Bernoulli.

BCE is the exact negative log-pmf only for binary x. On grey pixels x ∈ [0, 1] the normalised
density is the continuous Bernoulli (Loaiza-Ganem & Cunningham 2019, "The continuous Bernoulli:
fixing a pervasive error in variational autoencoders"): p(x | λ) = C(λ)·λˣ(1 − λ)¹⁻ˣ with
C(λ) = 2·artanh(1 − 2λ)/(1 − 2λ) for λ ≠ ½ and C(½) = 2.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from derivations.base import DATA_SYMBOLS, D, Derivation, Step, i, per_pixel_start, x

p = sp.IndexedBase("p", positive=True)  # decoder probability per pixel, in (0, 1)
ell = sp.IndexedBase("ell", real=True)  # decoder logit per pixel: p = sigmoid(ℓ)
lam = sp.IndexedBase("lambda", positive=True)  # continuous-Bernoulli shape per pixel, in (0, 1)

PROBABILITY_RANGE = (0.05, 0.95)
PIXEL_RANGE = (0.0, 1.0)


def bernoulli_pmf(value: sp.Expr, prob: sp.Expr) -> sp.Expr:
    """pˣ(1 − p)¹⁻ˣ: equals p at x = 1 and 1 − p at x = 0."""
    return prob**value * (1 - prob) ** (1 - value)


def negative_bce_terms(value: sp.Expr, prob: sp.Expr) -> sp.Expr:
    """x·log p + (1 − x)·log(1 − p), i.e. minus one pixel's binary cross-entropy."""
    return value * sp.log(prob) + (1 - value) * sp.log(1 - prob)


def sigmoid(logit: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-logit))


def softplus(logit: sp.Expr) -> sp.Expr:
    return sp.log(1 + sp.exp(logit))


def continuous_bernoulli_normaliser(shape: sp.Expr) -> sp.Expr:
    """C(λ) = 2·artanh(1 − 2λ)/(1 − 2λ) (λ ≠ ½; the limit at ½ is 2)."""
    return 2 * sp.atanh(1 - 2 * shape) / (1 - 2 * shape)


def bernoulli_bce() -> Derivation:
    steps = (
        *per_pixel_start(bernoulli_pmf(x[i], p[i]), "Bernoulli pmf"),
        Step(
            sp.Sum(negative_bce_terms(x[i], p[i]), (i, 1, D)),
            "equal",
            "log(pˣ(1 − p)¹⁻ˣ) = x·log p + (1 − x)·log(1 − p): minus the binary cross-entropy.",
            label="negative BCE",
        ),
        Step(
            sp.Sum(negative_bce_terms(x[i], p[i]), (i, 1, D)) / D,
            "scale",
            "Dividing by the pixel count D > 0 gives the mean BCE that libraries report.",
            term=D,
            label="negative mean BCE",
        ),
    )
    return Derivation(
        slug="bernoulli-bce",
        title="Bernoulli decoder → binary cross-entropy",
        parameters=(p,),
        steps=steps,
        summary="For binary pixels, log ∏ pᵢ^xᵢ(1 − pᵢ)^(1−xᵢ) is exactly −BCE: nothing is "
        "dropped.",
        symbols={**DATA_SYMBOLS, "p": p},
        sample_ranges={p: PROBABILITY_RANGE, x: PIXEL_RANGE},
    )


def bernoulli_logits() -> Derivation:
    l = ell[i]
    steps = (
        *per_pixel_start(bernoulli_pmf(x[i], sigmoid(l)), "Bernoulli pmf with p = σ(ℓ)"),
        Step(
            sp.Sum(negative_bce_terms(x[i], sigmoid(l)), (i, 1, D)),
            "equal",
            "The log of the pmf is −BCE at p = σ(ℓ) = 1/(1 + e^(−ℓ)).",
            label="negative BCE",
        ),
        Step(
            -sp.Sum(x[i] * softplus(-l) + (1 - x[i]) * softplus(l), (i, 1, D)),
            "equal",
            "log σ(ℓ) = −log(1 + e^(−ℓ)) and log(1 − σ(ℓ)) = −log(1 + e^ℓ): softplus terms.",
            label="softplus form",
        ),
        Step(
            sp.Sum(x[i] * l - softplus(l), (i, 1, D)),
            "equal",
            "softplus(−ℓ) = softplus(ℓ) − ℓ, so each pixel contributes xℓ − log(1 + e^ℓ).",
            label="logits form",
        ),
        Step(
            sp.Sum(x[i] * l - softplus(l), (i, 1, D)) / D,
            "scale",
            "Dividing by D > 0 gives minus the mean BCE-with-logits that libraries compute.",
            term=D,
            label="negative mean BCE with logits",
        ),
    )
    return Derivation(
        slug="bernoulli-logits",
        title="Bernoulli decoder in logits → BCE with logits",
        parameters=(ell,),
        steps=steps,
        summary="In logits the Bernoulli log-pmf is Σ xᵢℓᵢ − log(1 + e^ℓᵢ), which is what "
        "BCE-with-logits evaluates without ever forming σ(ℓ).",
        symbols={**DATA_SYMBOLS, "ell": ell, "l": ell},
        sample_ranges={ell: (-4.0, 4.0), x: PIXEL_RANGE},
    )


def continuous_bernoulli() -> Derivation:
    shape = lam[i]
    log_normaliser = sp.log(continuous_bernoulli_normaliser(shape))
    pdf = continuous_bernoulli_normaliser(shape) * bernoulli_pmf(x[i], shape)
    steps = (
        *per_pixel_start(pdf, "continuous-Bernoulli density"),
        Step(
            sp.Sum(log_normaliser + negative_bce_terms(x[i], shape), (i, 1, D)),
            "equal",
            "log(C(λ)·λˣ(1 − λ)¹⁻ˣ) = log C(λ) + x·log λ + (1 − x)·log(1 − λ).",
            label="expanded",
        ),
        Step(
            sp.Sum(log_normaliser, (i, 1, D)) + sp.Sum(negative_bce_terms(x[i], shape), (i, 1, D)),
            "equal",
            "The second sum is −BCE; the first, Σ log C(λᵢ), depends on λ, so it can NOT be "
            "dropped.",
            label="normaliser split off",
        ),
    )
    return Derivation(
        slug="continuous-bernoulli",
        title="Grey pixels: BCE is not a normalised likelihood",
        parameters=(lam,),
        steps=steps,
        summary="On x ∈ [0, 1], −BCE = log-density − Σ log C(λᵢ); since C depends on λ, "
        "minimising BCE on grey data maximises no normalised likelihood.",
        symbols={**DATA_SYMBOLS, "lambda": lam, "lam": lam},
        sample_ranges={lam: PROBABILITY_RANGE, x: PIXEL_RANGE},
    )


# Near λ = ½ the closed forms are 0/0; use the Taylor series in t = 1 − 2λ there.
_NEAR_HALF = 1e-2


def continuous_bernoulli_log_normaliser(lam: float | np.ndarray) -> float | np.ndarray:
    """log C(λ), stable near λ = ½ (where C → 2) and for λ → 0 or 1.

    2·artanh(1 − 2λ) = log((1 − λ)/λ), computed with log1p; near ½ the series
    log C = log 2 + t²/3 + 13t⁴/90 + 251t⁶/2835 + … with t = 1 − 2λ (error < 1e-14 for |t| < 0.01).
    """
    shape = np.asarray(lam, dtype=float)
    t = 1.0 - 2.0 * shape
    near = np.abs(t) < _NEAR_HALF
    t_far = np.where(near, 0.5, t)  # placeholder keeps the far branch finite where unused
    s_far = np.where(near, 0.25, shape)
    far = np.log((np.log1p(-s_far) - np.log(s_far)) / t_far)
    t2 = t * t
    series = np.log(2.0) + t2 * (1 / 3 + t2 * (13 / 90 + t2 * (251 / 2835)))
    out = np.where(near, series, far)
    return float(out) if out.ndim == 0 else out


def continuous_bernoulli_mean(lam: float | np.ndarray) -> float | np.ndarray:
    """E[X] under the continuous Bernoulli: λ/(2λ − 1) + 1/(2·artanh(1 − 2λ)); ½ at λ = ½.

    It is not λ: a decoder trained with the CB likelihood outputs a λ whose *mean* matches x.
    Near ½: E[X] = ½ − t/6 − 2t³/45 − 22t⁵/945 + … with t = 1 − 2λ.
    """
    shape = np.asarray(lam, dtype=float)
    t = 1.0 - 2.0 * shape
    near = np.abs(t) < _NEAR_HALF
    t_far = np.where(near, 0.5, t)
    s_far = np.where(near, 0.25, shape)
    far = -s_far / t_far + 1.0 / (np.log1p(-s_far) - np.log(s_far))
    series = 0.5 - t / 6 - 2 * t**3 / 45 - 22 * t**5 / 945
    out = np.where(near, series, far)
    return float(out) if out.ndim == 0 else out
