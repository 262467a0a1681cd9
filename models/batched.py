"""K independent MLP VAEs trained by one step over K batches: the engine of the likelihood race.
(Over 500 lines: stacked weights, fused per-family losses, per-model Adam state, NaN rollback
and slicing must stay in step with each other and with models.trainer, so they live together.)

    specs = [ModelSpec("gaussian", {"sigma": s}, seed=0) for s in (0.05, 0.1, 0.2)]
    bt = BatchedTrainer(VAEConfig(latent_dim=2), load_dataset("digits"), specs)
    bt.run(max_steps=200)              # or max_seconds=0.05: bounded slices, as Trainer.run
    bt.histories[k], bt.status(k)      # per model: models.trainer.History and Status
    bt.model(k), bt.likelihoods[k]     # model k as a plain VAE + its likelihood, for evaluate()

Why it is the same model as `Trainer` (tests/test_models_batched.py checks it):
- weights: model k's initial weights are those of `VAE(config, seed=spec.seed)`, copied in;
- batches and ε: model k owns a generator seeded like `Trainer.gen` and draws from it, in the
  same order (row indices, then ε), exactly what a lone Trainer with that seed draws;
- loss: each model's loss depends on its own weights only, so the gradient of Σ_k loss_k with
  respect to model k's weights is the gradient of loss_k, computed by batched matmuls;
- Adam is elementwise, so one update of the stacked weights is K Adam updates, each with its own
  learning rate. A stopped model's weights, moments and generator are frozen at its last good
  state (copied back after each step), so it neither learns nor disturbs the others.

Storage: all K models' weights live in one (K, P) tensor whose slices are the layer tensors
(leaves for autograd, their .grad slices of one (K, P) gradient tensor), so Adam is a handful of
elementwise ops on two (K, P) tensors whatever the layer count. Layers are stored (in, out), the
transpose of nn.Linear, so each one is a single `baddbmm`.

Losses: families whose parameters are plain numbers share one fused loss per family (FUSED: the
Gaussian's σ, Laplace's scale, Huber's α and scale become (K_g, 1, 1) tensors); families with
state or learned parameters (gaussian-learned, gaussian-optimal, and any family added later) run
their own `Likelihood.nll` per model. A family whose decoder emits more than one number per pixel
(attribute `outputs_per_pixel`) gets a wider output layer; the stack is padded to the widest and
the padding stays exactly zero (zero gradient, zero Adam moments).
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace

import torch
import torch.nn.functional as F
from torch import Tensor

from models import likelihoods
from models.data import Dataset
from models.distributions import (
    HALF_LOG_2PI,
    ContinuousBernoulli,
    huber_log_normaliser,
    huber_rho,
)
from models.evaluate import Metrics, evaluate
from models.trainer import History, SliceResult
from models.vae import VAE, VAEConfig, kl_per_dim

ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults, as Trainer uses
ADAM_EPS = 1e-8
GEN_OFFSET = 1_000_003  # Trainer seeds its batch/ε generator with seed + this
LAYERS = ("w1", "b1", "w2", "b2", "w3", "b3", "w4", "b4")  # nn.Linear order in VAE.parameters()
SYMBOLS = {"sigma": "σ", "alpha": "α", "scale": "scale"}
# The layer tensors are slices of one (K, P) tensor, so their gradients are too; torch warns once
# that such strides "may impair performance". The layout is what makes Adam one call per step.
warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout contract")


@dataclass
class ModelSpec:
    likelihood: str = "gaussian"
    params: dict[str, float] = field(default_factory=dict)  # σ / scale / α; defaults if absent
    beta: float = 1.0  # KL weight
    seed: int = 0  # initial weights, batches and ε, exactly as Trainer(seed=...)
    lr: float = 1e-3

    def label(self) -> str:
        """Short name for tables and legends, e.g. "gaussian σ=0.1" or "laplace scale=0.1, β=2"."""
        parts = [f"{SYMBOLS.get(k, k)}={v:g}" for k, v in self.params.items()]
        if self.beta != 1:
            parts.append(f"β={self.beta:g}")
        return self.likelihood + (" " + ", ".join(parts) if parts else "")


@dataclass
class ModelStatus:
    step: int  # model k's steps
    stopped: bool  # True once a non-finite loss or weight stopped it (for the rest of the run)
    stopped_reason: str | None  # what happened, the settings, and the step its weights are from
    last_good_step: int  # the step whose weights a failure would restore


@dataclass
class BatchSliceResult:
    steps: int  # batched steps taken in this slice (each trains every running model once)
    seconds: float
    per_model: list[SliceResult]  # model k's slice, as Trainer.run would report it

    @property
    def model_steps_per_second(self) -> float:
        done = sum(r.steps for r in self.per_model)
        return done / self.seconds if self.seconds > 0 else 0.0


def output_width(lik: likelihoods.Likelihood, data_dim: int) -> int:
    """Decoder outputs for this family: D, or D times the family's `outputs_per_pixel`."""
    return data_dim * int(getattr(lik, "outputs_per_pixel", 1))


# -------------------------------------------------------------------------------------------------
# Fused losses: out, x (K_g, B, D); p[name] a (K_g, 1, 1) tensor per parameter; returns the
# per-model mean over the batch of -log p(x|z), shape (K_g,). Each equals that family's `nll`.


# Constants come precomputed per group (`_constants`): the divisors 2Bσ² and B·b are formed in
# float64 and rounded once, as the single nll's Python float is, so the gradient scale is the same
# number Trainer uses.


def _gaussian(out: Tensor, x: Tensor, p: dict[str, Tensor]) -> Tensor:
    return (out - x).pow(2).sum((1, 2)) / p["divisor"] + p["constant"]


def _laplace(out, x, p):
    return (out - x).abs().sum((1, 2)) / p["divisor"] + p["constant"]


def _huber(out, x, p):
    B, D = out.shape[1:]
    s, a = p["scale"], p["alpha"]
    rho = huber_rho((x - out) / s, a).sum((1, 2)) / B
    return rho + D * (torch.log(s) + huber_log_normaliser(a)).view(-1)


def _bernoulli(out, x, p):
    return F.binary_cross_entropy_with_logits(out, x, reduction="none").sum((1, 2)) / out.shape[1]


def _continuous_bernoulli(out, x, p):
    return (
        -ContinuousBernoulli(logits=out, validate_args=False).log_prob(x).sum((1, 2))
        / (out.shape[1])
    )


def _constants(family: str, params: dict[str, list[float]], batch: int, dim: int) -> dict:
    """Per-model constants of a fused group: (K_g,) float32 tensors, or (K_g, 1, 1) parameters."""
    if family == "gaussian":
        s = params["sigma"]
        return {
            "divisor": torch.tensor([2 * batch * v**2 for v in s]),
            "constant": torch.tensor([dim * (math.log(v) + HALF_LOG_2PI) for v in s]),
        }
    if family == "laplace":
        b = params["scale"]
        return {
            "divisor": torch.tensor([batch * v for v in b]),
            "constant": torch.tensor([dim * math.log(2 * v) for v in b]),
        }
    return {name: torch.tensor(values).view(-1, 1, 1) for name, values in params.items()}


FUSED: dict[str, Callable[[Tensor, Tensor, dict[str, Tensor]], Tensor]] = {
    "gaussian": _gaussian,
    "laplace": _laplace,
    "huber": _huber,
    "bernoulli": _bernoulli,
    "continuous-bernoulli": _continuous_bernoulli,
}


@dataclass
class _Group:
    family: str
    models: list[int]  # indices into the K models, ascending
    index: Tensor  # the same as a tensor, for index_select on the model axis
    width: int  # decoder outputs each of these models reads
    params: dict[str, Tensor]  # (K_g, 1, 1) per parameter (fused groups only)
    fused: bool


# -------------------------------------------------------------------------------------------------


class BatchedTrainer:
    def __init__(
        self,
        config: VAEConfig,
        dataset: Dataset,
        specs: Sequence[ModelSpec],
        batch_size: int = 128,
        check_every: int = 100,
        num_threads: int | None = 1,
    ):
        if not specs:
            raise ValueError("a batched run needs at least one model")
        if config.linear:
            raise ValueError("the batched engine trains the MLP VAE only")
        if batch_size < 1 or check_every < 1:
            raise ValueError("batch_size and check_every must be at least 1")
        if num_threads is not None and torch.get_num_threads() != num_threads:
            torch.set_num_threads(num_threads)  # process-wide, as Trainer does
        self.config = replace(config, data_dim=dataset.dim)
        self.dataset = dataset
        self.specs = [copy.deepcopy(s) for s in specs]
        self.batch_size, self.check_every = batch_size, check_every
        self.X = dataset.train.contiguous()
        self.K = K = len(specs)
        D, L, H = self.config.data_dim, self.config.latent_dim, self.config.hidden

        self.likelihoods: list[likelihoods.Likelihood] = []
        for s in self.specs:
            s.beta = float(s.beta)
            if not (math.isfinite(s.beta) and s.beta >= 0):
                raise ValueError(f"beta must be a finite number >= 0, got {s.beta!r}")
            s.lr = likelihoods.check_positive("lr", s.lr)
            lik = likelihoods.make(s.likelihood, **s.params)
            s.params = {k: v for k, v in lik.params.items() if k in lik.defaults}
            self.likelihoods.append(lik)
        self.widths = [output_width(lik, D) for lik in self.likelihoods]
        W = max(self.widths)

        # One (K, P) tensor holds every weight; _shapes in the order of the forward pass.
        shapes = {"w1": (D, H), "b1": (1, H), "w2": (H, 2 * L), "b2": (1, 2 * L)}
        shapes |= {"w3": (L, H), "b3": (1, H), "w4": (H, W), "b4": (1, W)}
        self._slices: dict[str, tuple[int, int, tuple[int, int]]] = {}
        offset = 0
        for name, shape in shapes.items():
            self._slices[name] = (offset, offset + shape[0] * shape[1], shape)
            offset += shape[0] * shape[1]
        self.flat = torch.zeros(K, offset)
        self.grad = torch.zeros(K, offset)
        self.exp_avg = torch.zeros(K, offset)
        self.exp_avg_sq = torch.zeros(K, offset)
        with torch.no_grad():
            for k, s in enumerate(self.specs):
                self._load_row(k, VAE(self._vae_config(k, initial=True), seed=s.seed))
        self.layers: dict[str, Tensor] = {}
        for name in shapes:
            p = self._view(self.flat, name).requires_grad_()
            p.grad = self._view(self.grad, name)  # backward accumulates into the (K, P) tensor
            self.layers[name] = p

        self._adam_sets = self._make_adam_sets()
        self.beta = torch.tensor([s.beta for s in self.specs])
        self.adam_step = 0  # updates taken by every model still running (they started together)
        self.gens = [torch.Generator().manual_seed(s.seed + GEN_OFFSET) for s in self.specs]
        self.lik_opts = [
            torch.optim.Adam(list(lik.parameters()), lr=s.lr, fused=True)
            if list(lik.parameters())
            else None
            for lik, s in zip(self.likelihoods, self.specs, strict=True)
        ]
        self.groups = self._make_groups()
        self.steps = [0] * K
        self.histories = [History() for _ in range(K)]
        self.stopped: list[str | None] = [None] * K
        self._idx = torch.empty(K, batch_size, dtype=torch.long)
        self._eps = torch.empty(K, batch_size, L)
        self._snapshot()

    # -- layout ----------------------------------------------------------------------------------
    def _view(self, flat: Tensor, name: str) -> Tensor:
        a, b, shape = self._slices[name]
        return flat[:, a:b].view(self.K, *shape)

    def _vae_config(self, k: int, initial: bool = False) -> VAEConfig:
        """Model k's plain-VAE config: the decoder width of its family, where VAEConfig has one.
        Without one, a wider family starts from the D-output VAE's weights, its extra outputs'
        weights zero (`initial`), and cannot be handed out as a plain VAE."""
        per_pixel = self.widths[k] // self.config.data_dim
        if "outputs_per_pixel" in {f.name for f in fields(VAEConfig)}:
            return replace(self.config, outputs_per_pixel=per_pixel)
        if per_pixel != 1 and not initial:
            raise NotImplementedError("this VAEConfig has one decoder output per pixel")
        return self.config

    def _load_row(self, k: int, vae: VAE) -> None:
        """Copy a plain VAE's weights (nn.Linear stores (out, in)) into row k, transposed."""
        for name, p in zip(LAYERS, vae.parameters(), strict=True):
            t = p.detach().T if p.dim() == 2 else p.detach().view(1, -1)
            self._view(self.flat, name)[k, :, : t.shape[1]].copy_(t)

    def model(self, k: int) -> VAE:
        """Model k as a plain `VAE` (a copy), for models.evaluate and the pages' views."""
        vae = VAE(self._vae_config(k), seed=0)
        w = self.widths[k]
        with torch.no_grad():
            for name, p in zip(LAYERS, vae.parameters(), strict=True):
                t = self._view(self.flat, name)[k]
                t = t[:, :w] if name in ("w4", "b4") else t
                p.copy_(t.T if p.dim() == 2 else t.view(-1))
        return vae

    def _make_groups(self) -> list[_Group]:
        by_family: dict[str, list[int]] = {}
        for k, s in enumerate(self.specs):
            by_family.setdefault(s.likelihood, []).append(k)
        groups = []
        for family, models in by_family.items():
            fused = family in FUSED and len({self.widths[k] for k in models}) == 1
            params = {}
            if fused:
                values = {
                    name: [self.specs[k].params[name] for k in models]
                    for name in self.likelihoods[models[0]].defaults
                }
                params = _constants(family, values, self.batch_size, self.config.data_dim)
            groups.append(
                _Group(
                    family,
                    models,
                    torch.tensor(models),
                    self.widths[models[0]],
                    params,
                    fused,
                )
            )
        if not all(g.fused for g in groups):  # per-model groups for the rest
            split = []
            for g in groups:
                if g.fused:
                    split.append(g)
                else:
                    split += [
                        _Group(g.family, [k], torch.tensor([k]), self.widths[k], {}, False)
                        for k in g.models
                    ]
            groups = split
        order = [k for g in groups for k in g.models]
        self._unpermute = (
            None if order == list(range(self.K)) else torch.argsort(torch.tensor(order))
        )
        return groups

    # -- state -----------------------------------------------------------------------------------
    def status(self, k: int) -> ModelStatus:
        return ModelStatus(
            self.steps[k], self.stopped[k] is not None, self.stopped[k], self._good_step[k]
        )

    @property
    def running(self) -> list[int]:
        return [k for k in range(self.K) if self.stopped[k] is None]

    def _snapshot(self) -> None:
        self._good = (
            self.flat.clone(),
            self.exp_avg.clone(),
            self.exp_avg_sq.clone(),
            [g.get_state() for g in self.gens],
            [copy.deepcopy(lik.state_dict()) for lik in self.likelihoods],
            [copy.deepcopy(o.state_dict()) if o else None for o in self.lik_opts],
        )
        self._good_step = list(self.steps)

    def _restore(self, models: list[int]) -> None:
        """Put models' weights, moments, generators and likelihood state back to the snapshot."""
        flat, m, v, gens, liks, opts = self._good
        rows = torch.tensor(models)
        with torch.no_grad():
            for live, good in ((self.flat, flat), (self.exp_avg, m), (self.exp_avg_sq, v)):
                live.index_copy_(0, rows, good.index_select(0, rows))
        for k in models:
            self.gens[k].set_state(gens[k])
            self.likelihoods[k].load_state_dict(copy.deepcopy(liks[k]))
            if self.lik_opts[k]:
                self.lik_opts[k].load_state_dict(copy.deepcopy(opts[k]))
            self.steps[k] = self._good_step[k]

    def _weights_finite(self) -> Tensor:
        """(K,) bool: every weight of model k (and its likelihood's) is finite."""
        ok = torch.isfinite(self.flat).all(dim=1)
        for k, lik in enumerate(self.likelihoods):
            for p in lik.parameters():
                ok[k] &= bool(torch.isfinite(p).all())
        return ok

    # -- one step --------------------------------------------------------------------------------
    def _batch(self) -> tuple[Tensor, Tensor]:
        """Model k's batch rows and ε from its own generator, in Trainer._step's order."""
        B, L = self.batch_size, self.config.latent_dim
        N = self.X.shape[0]
        for k in range(self.K):
            if self.stopped[k] is None:
                torch.randint(N, (B,), generator=self.gens[k], out=self._idx[k])
                torch.randn(B, L, generator=self.gens[k], out=self._eps[k])
        x = self.X.index_select(0, self._idx.view(-1)).view(self.K, B, -1)
        return x, self._eps

    def forward(self, x: Tensor, eps: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(K, B, D) inputs and (K, B, L) noise -> decoder outputs (K, B, W), μ, log σ²."""
        p = self.layers
        h = torch.baddbmm(p["b1"], x, p["w1"]).relu()
        mu, logvar = torch.baddbmm(p["b2"], h, p["w2"]).chunk(2, dim=-1)
        z = mu + torch.exp(0.5 * logvar) * eps
        h = torch.baddbmm(p["b3"], z, p["w3"]).relu()
        return torch.baddbmm(p["b4"], h, p["w4"]), mu, logvar

    def _recon(self, out: Tensor, x: Tensor) -> Tensor:
        """(K,) mean over the batch of -log p(x|z), each model under its own likelihood."""
        parts = []
        D = x.shape[-1]
        for g in self.groups:
            if g.fused:
                first, count = g.models[0], len(g.models)
                if g.models == list(range(first, first + count)):  # a view, no copy
                    o, xg = out.narrow(0, first, count), x.narrow(0, first, count)
                else:
                    o, xg = out.index_select(0, g.index), x.index_select(0, g.index)
                parts.append(
                    FUSED[g.family](o[..., : g.width] if g.width < o.shape[-1] else o, xg, g.params)
                )
            else:
                (k,) = g.models
                if self.stopped[k] is not None:  # keep a frozen model's likelihood state as is
                    parts.append(out.new_zeros(1))
                else:
                    nll = self.likelihoods[k].nll(out[k, :, : g.width], x[k, :, :D])
                    parts.append(nll.view(1))
        recon = parts[0] if len(parts) == 1 else torch.cat(parts)
        return recon if self._unpermute is None else recon.index_select(0, self._unpermute)

    def _step(self) -> Tensor:
        """One Adam step for every running model; returns (3, K): loss, recon, kl."""
        x, eps = self._batch()
        out, mu, logvar = self.forward(x, eps)
        recon = self._recon(out, x)
        kl = kl_per_dim(mu, logvar).sum(-1).mean(-1)  # (K,)
        loss = recon + self.beta * kl
        self.grad.zero_()
        for opt in self.lik_opts:
            if opt:
                opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        self._adam()
        for k, opt in enumerate(self.lik_opts):
            if opt and self.stopped[k] is None:
                opt.step()
        return torch.stack((loss, recon, kl)).detach()

    @torch.no_grad()
    def _adam(self) -> None:
        """torch.optim.Adam's fused CPU kernel (the one Trainer uses) on the (K, P) tensors: one
        call per distinct learning rate; frozen models are copied back from their good state."""
        self.adam_step += 1
        for lr, params, grads, exp_avgs, exp_avg_sqs, steps in self._adam_sets:
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(
                params,
                grads,
                exp_avgs,
                exp_avg_sqs,
                [],
                steps,
                amsgrad=False,
                lr=lr,
                beta1=ADAM_BETAS[0],
                beta2=ADAM_BETAS[1],
                weight_decay=0.0,
                eps=ADAM_EPS,
                maximize=False,
                grad_scale=None,
                found_inf=None,
            )
        frozen = [k for k in range(self.K) if self.stopped[k] is not None]
        if frozen:
            self._restore_rows(frozen)

    def _make_adam_sets(self) -> list[tuple]:
        """Rows grouped by learning rate (all K rows as one tensor when they share it)."""
        lrs = [s.lr for s in self.specs]
        tensors = (self.flat, self.grad, self.exp_avg, self.exp_avg_sq)
        if len(set(lrs)) == 1:
            return [(lrs[0], *([t] for t in tensors), [torch.zeros(())])]
        sets = []
        for lr in sorted(set(lrs)):
            rows = [k for k in range(self.K) if lrs[k] == lr]
            sets.append(
                (lr, *([t[k] for k in rows] for t in tensors), [torch.zeros(()) for _ in rows])
            )
        return sets

    def _restore_rows(self, models: list[int]) -> None:
        flat, m, v = self._good[:3]
        rows = torch.tensor(models)
        for live, good in ((self.flat, flat), (self.exp_avg, m), (self.exp_avg_sq, v)):
            live.index_copy_(0, rows, good.index_select(0, rows))

    # -- slices ----------------------------------------------------------------------------------
    def run(
        self, max_steps: int | None = None, max_seconds: float | None = None
    ) -> BatchSliceResult:
        """Train one slice of at most `max_steps` batched steps or `max_seconds`, as Trainer.run:
        every `check_every` steps the losses are read and checked per model; a model whose loss
        or weights are not finite goes back to its last good state and stops alone."""
        if max_steps is None and max_seconds is None:
            raise ValueError("give max_steps or max_seconds (or both)")
        first = list(self.steps)
        sums = torch.zeros(3, self.K, dtype=torch.float64)
        t0 = time.perf_counter()
        deadline = math.inf if max_seconds is None else t0 + max_seconds
        done = 0
        target = math.inf if max_steps is None else max_steps
        for lik in self.likelihoods:
            lik.train()
        while self.running and done < target and time.perf_counter() < deadline:
            n = int(min(self.check_every, target - done))
            rows = []
            for _ in range(n):
                rows.append(self._step())
                if time.perf_counter() >= deadline:
                    break
            vals = torch.stack(rows)  # (n, 3, K)
            done += len(rows)
            finite = torch.isfinite(vals).all(dim=1)  # (n, K)
            ok = finite.all(dim=0) & self._weights_finite()
            for k in list(self.running):
                if not ok[k]:
                    bad = None if finite[:, k].all() else int((~finite[:, k]).int().argmax())
                    self._fail(k, bad, len(rows))
                    continue
                h = self.histories[k]
                h.step.extend(range(self.steps[k] + 1, self.steps[k] + len(rows) + 1))
                loss, recon, kl = vals[:, :, k].T.tolist()
                h.loss.extend(loss)
                h.recon.extend(recon)
                h.kl.extend(kl)
                sums[:, k] += vals[:, :, k].double().sum(0)
                self.steps[k] += len(rows)
            self._snapshot()
        seconds = time.perf_counter() - t0
        per_model = []
        for k in range(self.K):
            steps = self.steps[k] - first[k]
            means = (sums[:, k] / steps).tolist() if steps else [math.nan] * 3
            loss, recon, kl = means
            result = SliceResult(
                steps=steps,
                seconds=seconds,
                step=self.steps[k],
                loss=loss,
                recon=recon,
                kl=kl,
                stopped_reason="non-finite" if self.stopped[k] else None,
            )
            if steps:
                self.histories[k].slices.append(result)
            per_model.append(result)
        return BatchSliceResult(done, seconds, per_model)

    def _fail(self, k: int, bad_row: int | None, rows: int) -> None:
        s = self.specs[k]
        settings = ", ".join(
            [f"{SYMBOLS.get(n, n)} = {v:.3g}" for n, v in s.params.items()]
            + [f"lr = {s.lr:.3g}"]
            + ([f"β = {s.beta:.3g}"] if s.beta != 1 else [])
        )
        if bad_row is None:
            what = f"non-finite weights after step {self.steps[k] + rows}"
        else:
            what = f"non-finite loss at step {self.steps[k] + bad_row + 1}"
        self._restore([k])
        self.stopped[k] = (
            f"{what} ({settings}): weights restored to step {self.steps[k]}; this model stopped, "
            "the others train on"
        )

    # -- evaluation ------------------------------------------------------------------------------
    def evaluate(self, index: int, **kwargs) -> Metrics:
        """models.evaluate.evaluate (same keywords) of model `index`, a plain VAE copy, with its
        likelihood."""
        return evaluate(self.model(index), self.dataset, self.likelihoods[index], **kwargs)

    def evaluate_all(self, **kwargs) -> list[Metrics]:
        return [self.evaluate(index, **kwargs) for index in range(self.K)]
