"""The VAE: a Gaussian encoder q(z|x), a standard normal prior p(z), and a decoder whose output a
likelihood (models/likelihoods.py) turns into p(x|z).

Two shapes share one interface (`encode`, `decode`, `forward`):
- the MLP VAE (Kingma & Welling 2014): x -> hidden -> (μ, log σ²) and z -> hidden -> output;
- the linear VAE of Lucas et al. 2019 ("Don't Blame the ELBO!"): decoder Wz + b, encoder
  q(z|x) = N(V(x - b), diag(exp(s))) with a log-variance s learned per latent but independent of x.
  With a Gaussian likelihood of fixed σ² its optimum is probabilistic PCA: latent i stays active
  iff the i-th eigenvalue of the data covariance exceeds σ² (see `ppca_kl_per_dim`).
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from models import likelihoods


@dataclass
class VAEConfig:
    data_dim: int = 64  # pixels per image (8×8 digits); the Trainer takes it from the dataset
    latent_dim: int = 2  # 2 so the latent space can be drawn
    hidden: int = 128  # width of the one hidden layer of the encoder and of the decoder
    linear: bool = False  # True: the linear VAE of Lucas et al. 2019 (hidden is then unused)
    outputs_per_pixel: int = 1  # decoder outputs per pixel: the likelihood's (2 for μ and log σ)


def kl_per_dim(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) || N(0, 1)) per latent = ½(μ² + σ² - 1 - log σ²).

    Kingma & Welling 2014, Appendix B: -KL = ½ Σ_j (1 + log σ_j² - μ_j² - σ_j²).
    """
    return 0.5 * (mu * mu + logvar.exp() - 1 - logvar)


class VAE(nn.Module):
    def __init__(self, config: VAEConfig, seed: int = 0):
        super().__init__()
        self.config = config
        D, L, H = config.data_dim, config.latent_dim, config.hidden
        O = D * config.outputs_per_pixel  # decoder output width
        if config.linear:
            self.V = nn.Parameter(torch.empty(L, D))  # encoder mean: μ = V(x - b[:D])
            self.enc_logvar = nn.Parameter(torch.zeros(L))  # log σ² per latent, independent of x
            self.W = nn.Parameter(torch.empty(O, L))  # decoder: Wz + b
            self.b = nn.Parameter(torch.empty(O))
        else:
            self.enc = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, 2 * L))  # μ, log σ²
            self.dec = nn.Sequential(nn.Linear(L, H), nn.ReLU(), nn.Linear(H, O))
        self.reset_parameters(seed)

    @torch.no_grad()
    def reset_parameters(self, seed: int) -> None:
        """nn.Linear's default init, U(±1/√fan_in), drawn from a private generator seeded by `seed`
        so that building a model never depends on (or disturbs) another session's global RNG."""
        g = torch.Generator().manual_seed(seed)
        for name, p in self.named_parameters():
            if name in ("enc_logvar", "b"):  # linear VAE: prior-width posterior, zero offset
                p.zero_()
                continue
            fan_in = p.shape[1] if p.dim() == 2 else p.shape[0]
            if name.endswith("bias"):  # nn.Linear: the bias shares its weight's fan-in
                fan_in = dict(self.named_parameters())[name[: -len("bias")] + "weight"].shape[1]
            bound = 1 / math.sqrt(fan_in)
            p.uniform_(-bound, bound, generator=g)

    # -- the model
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """q(z|x) = N(μ, diag σ²): returns μ and log σ², each (B, L)."""
        if self.config.linear:
            mu = (x - self.b[: x.shape[-1]]) @ self.V.T
            return mu, self.enc_logvar.expand_as(mu)
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """The raw decoder output (B, D): a location or logits, as the likelihood reads it."""
        if self.config.linear:
            return torch.addmm(self.b, z, self.W.T)
        return self.dec(z)

    def forward(self, x: Tensor, eps: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Reparameterised z = μ + σ·ε (Kingma & Welling 2014, eq. 10) -> output, μ, log σ²."""
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.decode(z), mu, logvar

    # -- helpers for pages
    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Decoder output at the posterior mean z = μ(x); pass it to likelihood.mean or .sample."""
        return self.decode(self.encode(x)[0])

    @torch.no_grad()
    def sample_prior(self, n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
        """n draws z ~ N(0, I) from a generator seeded by `seed`, and their decoder outputs."""
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.config.latent_dim, generator=g)
        return z, self.decode(z)


# -------------------------------------------------------------------------------------------------
# Saving for download: one bytes blob with the config, the weights and the likelihood.


def to_bytes(model: VAE, likelihood: likelihoods.Likelihood | None = None) -> bytes:
    """Serialise model (+ likelihood name, parameters and state) with torch.save into bytes."""
    blob = {"config": asdict(model.config), "model": model.state_dict()}
    if likelihood is not None:
        blob["likelihood"] = {
            "name": likelihood.name,
            "params": {k: v for k, v in likelihood.params.items() if k in likelihood.defaults},
            "state": likelihood.state_dict(),
        }
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def from_bytes(data: bytes) -> tuple[VAE, likelihoods.Likelihood | None]:
    """Inverse of `to_bytes` (loads with weights_only=True, so only tensors and plain data)."""
    blob = torch.load(io.BytesIO(data), weights_only=True)
    model = VAE(VAEConfig(**blob["config"]))
    model.load_state_dict(blob["model"])
    lik = None
    if "likelihood" in blob:
        lb = blob["likelihood"]
        lik = likelihoods.make(lb["name"], **lb["params"])
        lik.load_state_dict(lb["state"])
    return model, lik
