"""Independent check of derivations.loss_code.read on generated snippets.

Snippets are assembled here from templates (our own code, never user text) in the shapes real
losses take: library losses with every reduction and the legacy flags, hand-written squared and
absolute errors, log_prob of torch.distributions, the KL in its logvar/std/var forms and via
kl_divergence, constant, named and batch-size weights, `+=`, helpers. Each snippet is read, then
executed on random float64 tensors (in this test only), and its value must equal
a·Σ ℓ(x̂, x) + k·Σ KL with the reader's a and k, where ℓ and KL come from torch directly.
Differences between two draws are compared, so additive constants (log_prob) drop out.
"""

from __future__ import annotations

import math
import random

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Laplace, Normal, kl_divergence

from derivations.loss_code import read
from derivations.loss_code.writer import calibrated_code, corrected_code

SHAPE, J, B = (2, 3, 4), 5, 6
D = math.prod(SHAPE)

RECON = [  # (expression in x_hat and x, per-pixel loss, huber δ or None)
    ("F.mse_loss(x_hat, x)", "squared", None),
    ("F.mse_loss(x_hat, x, reduction='sum')", "squared", None),
    ("F.mse_loss(x_hat, x, reduction='none').sum(dim=[1, 2, 3]).mean()", "squared", None),
    ("F.mse_loss(x_hat, x, size_average=False)", "squared", None),
    ("F.mse_loss(x_hat, x, reduce=False).view(x.size(0), -1).sum(1).mean()", "squared", None),
    ("nn.MSELoss(reduction='sum')(x_hat, x) / x.size(0)", "squared", None),
    ("((x_hat - x) ** 2).sum(dim=[1, 2, 3]).mean()", "squared", None),
    (f"(x_hat - x).pow(2).view(-1, {D}).sum(1).mean()", "squared", None),
    ("torch.square(x - x_hat).mean()", "squared", None),
    ("torch.sum((x_hat - x) ** 2) / len(x)", "squared", None),
    ("F.gaussian_nll_loss(x_hat, x, torch.full_like(x, 0.04), reduction='sum')", "squared", None),
    ("-Normal(x_hat, 0.2).log_prob(x).sum(dim=[1, 2, 3]).mean()", "squared", None),
    ("F.l1_loss(x_hat, x, reduction='sum') / x.shape[0]", "l1", None),
    ("(x_hat - x).abs().sum()", "l1", None),
    ("nn.L1Loss()(x_hat, x)", "l1", None),
    ("-Laplace(x_hat, 0.1).log_prob(x).sum()", "l1", None),
    ("F.smooth_l1_loss(x_hat, x, reduction='sum', beta=0.5)", "huber", 0.5),
    ("F.huber_loss(x_hat, x, delta=0.3)", "huber", 0.3),
    ("nn.HuberLoss(reduction='sum', delta=2.0)(x_hat, x)", "huber", 2.0),
    ("F.binary_cross_entropy(p, x, reduction='sum')", "bce", None),
    ("nn.BCELoss(reduction='none')(p, x).sum(dim=(1, 2, 3)).mean()", "bce", None),
    ("-torch.sum(x * torch.log(p) + (1 - x) * torch.log(1 - p))", "bce", None),
    ("-Bernoulli(probs=p, validate_args=False).log_prob(x).sum()", "bce", None),
    ("F.binary_cross_entropy_with_logits(x_hat, x, reduction='sum')", "bce-logits", None),
    (
        "-Bernoulli(logits=x_hat, validate_args=False).log_prob(x).sum(dim=[1, 2, 3]).mean()",
        "bce-logits",
        None,
    ),
]
KL = [  # (lines before, expression)
    ("", "-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"),
    ("", "torch.mean(-0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1), dim=0)"),
    ("", "-0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())"),
    ("", "0.5 * torch.sum(torch.exp(logvar) + mu ** 2 - 1 - logvar, dim=1).mean()"),
    (
        "std = torch.exp(0.5 * logvar)",
        "(0.5 * (std.pow(2) + mu.pow(2) - 1) - torch.log(std)).sum(-1).mean()",
    ),
    ("var = logvar.exp()", "-0.5 * torch.sum(1 + torch.log(var) - mu.pow(2) - var)"),
    (
        "std = torch.exp(0.5 * logvar)",
        "-0.5 * torch.sum(1 + torch.log(std ** 2) - mu ** 2 - std ** 2, dim=1).sum()",
    ),
    (
        "",
        "kl_divergence(Normal(mu, torch.exp(0.5 * logvar)),"
        " Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(1).mean()",
    ),
    ("", "kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0, 1)).sum()"),
]
WEIGHTS = ["", "0.5 * ", "beta * ", "kld_weight * "]
DIVISIONS = ["", " / x.size(0)", " / batch_size", " / x.shape[0]"]
NAMES = {"beta": 0.25, "kld_weight": 3.0, "batch_size": B}


def snippet(recon: str, kl: tuple[str, str], weight: str, division: str, style: str) -> str:
    before, kl_expr = kl
    pre = f"    {before}\n" if before else ""
    if style == "direct":
        return (
            f"def loss_function(x_hat, x, p, mu, logvar):\n{pre}"
            f"    return {recon}{division} + {weight}({kl_expr}){division}\n"
        )
    if style == "augmented":
        return (
            f"def loss_function(x_hat, x, p, mu, logvar):\n{pre}"
            f"    loss = {recon}\n    kl = {kl_expr}\n    kl *= 1\n"
            f"    loss += {weight}kl\n    loss = loss{division or ' / 1'}\n    return loss\n"
        )
    return (
        f"def reconstruction(x_hat, x, p):\n    return {recon}\n\n\n"
        f"def kl_term(mu, logvar):\n{pre}    return {kl_expr}\n\n\n"
        f"def loss_function(x_hat, x, p, mu, logvar):\n"
        f"    r = reconstruction(x_hat, x, p){division}\n"
        f"    return r + {weight}kl_term(mu, logvar){division}\n"
    )


def cases():
    rng = random.Random(7)
    out = []
    for n in range(3 * len(RECON)):
        recon = RECON[n % len(RECON)]
        kl = KL[n % len(KL)] if n < len(KL) else rng.choice(KL)
        out.append(
            (
                recon,
                kl,
                rng.choice(WEIGHTS),
                rng.choice(DIVISIONS),
                ("direct", "augmented", "helpers")[n % 3],
            )
        )
    return out


def draw(seed: int):
    g = torch.Generator().manual_seed(seed)
    x_hat = torch.randn(B, *SHAPE, generator=g, dtype=torch.float64)
    x = torch.rand(B, *SHAPE, generator=g, dtype=torch.float64)
    p = torch.rand(B, *SHAPE, generator=g, dtype=torch.float64) * 0.9 + 0.05
    mu = torch.randn(B, J, generator=g, dtype=torch.float64)
    logvar = torch.randn(B, J, generator=g, dtype=torch.float64)
    return x_hat, x, p, mu, logvar


def per_pixel_sum(kind: str, delta, x_hat, x, p) -> float:
    if kind == "squared":
        return float(((x_hat - x) ** 2).sum())
    if kind == "l1":
        return float((x_hat - x).abs().sum())
    if kind == "huber":
        return float(F.huber_loss(x_hat, x, reduction="none", delta=delta).sum())
    if kind == "bce":
        return float(F.binary_cross_entropy(p, x, reduction="none").sum())
    return float(F.binary_cross_entropy_with_logits(x_hat, x, reduction="none").sum())


def kl_sum(mu, logvar) -> float:
    q = Normal(mu, torch.exp(0.5 * logvar))
    return float(kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum())


def run(code: str, inputs) -> float:
    namespace = {
        "torch": torch,
        "F": F,
        "nn": torch.nn,
        "Normal": Normal,
        "Laplace": Laplace,
        "Bernoulli": Bernoulli,
        "kl_divergence": kl_divergence,
        **NAMES,
    }
    exec(compile(code, "<generated template>", "exec"), namespace)  # our template, not user text
    return float(namespace["loss_function"](*inputs))


@pytest.mark.parametrize("case", cases(), ids=lambda c: f"{c[0][0][:28]}|{c[4]}")
def test_generated_snippet_value_is_a_times_pixel_losses_plus_k_times_kl(case):
    (recon, kind, delta), kl, weight, division, style = case
    code = snippet(recon, kl, weight, division, style)
    used = {k: v for k, v in NAMES.items() if k in code}
    reading = read(code, SHAPE, J, B, used)
    a, k = float(reading.recon_coefficient), float(reading.kl_coefficient)
    assert reading.family == kind.split("-")[0]
    if kind == "huber":
        assert reading.huber_delta == pytest.approx(delta)
    first, second = draw(1), draw(2)
    value = run(code, first) - run(code, second)
    expected = a * (
        per_pixel_sum(kind, delta, *first[:3]) - per_pixel_sum(kind, delta, *second[:3])
    )
    expected += k * (kl_sum(*first[3:]) - kl_sum(*second[3:]))
    assert value == pytest.approx(expected, rel=1e-9, abs=1e-9), code


@pytest.mark.parametrize("family_case", [0, 12, 16, 19, 23])
@pytest.mark.parametrize("noise", [0.05, 0.3])
def test_corrected_code_runs_and_is_the_exact_elbo_at_the_chosen_noise(family_case, noise):
    recon, kind, delta = RECON[family_case]
    code = snippet(recon, KL[0], "", "", "direct")
    reading = read(code, SHAPE, J, B)
    fixed = corrected_code(reading, noise)
    again = read(fixed, SHAPE, J, B)  # the corrected code, read back, implies what it says
    if kind == "squared":
        assert again.implied.sigma2 == pytest.approx(noise**2)
    elif kind in ("l1", "huber"):
        assert again.implied.scale == pytest.approx(noise)
    else:
        assert again.implied.beta == pytest.approx(1.0)
    namespace = {}
    exec(compile(fixed, "<corrected>", "exec"), namespace)  # our generated code
    inputs = draw(3)
    x_hat, x, p, mu, logvar = inputs
    prediction = p if kind == "bce" else x_hat
    value = float(namespace["loss_function"](prediction, x, mu, logvar))
    pixels = per_pixel_sum(kind, delta, x_hat, x, p)
    scale = {"squared": 2 * noise**2, "l1": noise, "huber": noise**2}.get(kind.split("-")[0], 1.0)
    assert value == pytest.approx((pixels / scale + kl_sum(mu, logvar)) / B, rel=1e-9)


def test_calibrated_code_sets_sigma_to_the_batch_rms_error():
    code = snippet("F.mse_loss(x_hat, x)", KL[0], "", "", "direct")
    fixed = calibrated_code(read(code, SHAPE, J, B))
    namespace = {}
    exec(compile(fixed, "<calibrated>", "exec"), namespace)  # our generated code
    x_hat, x, _, mu, logvar = draw(4)
    value = float(namespace["loss_function"](x_hat, x, mu, logvar))
    sigma2 = float(((x_hat - x) ** 2).mean())
    nll = -Normal(x_hat, math.sqrt(sigma2)).log_prob(x).sum()
    assert value == pytest.approx((float(nll) + kl_sum(mu, logvar)) / B, rel=1e-9)


@pytest.mark.parametrize("framework", ["keras", "keras.ops", "tensorflow", "jax"])
def test_corrected_code_in_other_frameworks_reads_back_at_the_chosen_sigma(framework):
    """The written Keras/TF/JAX code is not run here (no such framework installed); it is read
    back, and must imply exactly the σ it was written for, in the same framework."""
    from tests.test_loss_code_table import CASES

    case = next(c for c in CASES if c.framework == framework)
    reading = read(case.code, case.shape, case.J, case.B, case.names)
    for noise in (0.05, 0.2):
        fixed = corrected_code(reading, noise)
        again = read(fixed, case.shape, case.J, case.B)
        assert again.framework == ("tensorflow" if framework == "keras" else framework)
        if reading.family == "squared":
            assert again.implied.sigma2 == pytest.approx(noise**2)
        else:
            assert again.implied.beta == pytest.approx(1.0)
