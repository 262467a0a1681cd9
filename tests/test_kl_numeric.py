"""The KL page's numbers come from the SymPy terms; check them against torch and Monte Carlo."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from derivations.kl import kl_mc_variance, kl_value, single_sample_estimates


@pytest.mark.parametrize(("mu", "sigma"), [(0.0, 1.0), (1.0, 0.5), (-2.5, 0.05), (0.3, 3.0)])
def test_closed_form_matches_torch_kl_divergence(mu, sigma):
    reference = kl_divergence(Normal(torch.tensor(mu), torch.tensor(sigma)), Normal(0.0, 1.0))
    assert kl_value(mu, sigma) == pytest.approx(float(reference), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize(("mu", "sigma"), [(1.0, 0.5), (0.0, 2.0)])
def test_single_sample_estimates_are_unbiased_with_the_derived_variance(mu, sigma):
    samples = single_sample_estimates(mu, sigma, n=400_000, seed=1)
    assert samples.shape == (400_000,)
    assert samples.mean() == pytest.approx(kl_value(mu, sigma), abs=5e-3 * max(1.0, samples.std()))
    assert samples.var() == pytest.approx(kl_mc_variance(mu, sigma), rel=2e-2)


def test_bad_sigma_is_refused():
    with pytest.raises(ValueError, match="positive finite"):
        single_sample_estimates(0.0, -1.0, n=10)
    with pytest.raises(ValueError, match="positive finite"):
        single_sample_estimates(0.0, float("nan"), n=10)
