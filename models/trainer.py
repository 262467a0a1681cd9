"""Training in bounded slices, so a caller (a script, the CLI, a UI) can interleave training with
drawing. The trainer knows nothing about any UI: it trains when asked and keeps a history.

    tr = Trainer(VAEConfig(latent_dim=2), load_dataset("digits"), "gaussian", seed=0)
    r = tr.run(max_steps=200)        # or max_seconds=0.5; returns a SliceResult
    tr.set_param(sigma=0.05)         # mid-run changes are recorded in tr.history.events
    tr.status.stopped_reason         # set if a non-finite loss stopped the run

The objective per step is the negative ELBO with a KL weight β (β = 1 is the ELBO itself):
    loss = mean_b[ -log p(x_b | z_b) + β·KL(q(z|x_b) || p(z)) ],   z_b = μ_b + σ_b·ε_b
with one reparameterised sample per example (Kingma & Welling 2014, eq. 10) and the KL in closed
form (their Appendix B).

Speed: the whole train split is one tensor and each batch is an index_select of random rows (no
DataLoader); Adam is the fused CPU kernel; per-step numbers stay on-tensor and are read once per
`check_every` steps, which is also when finiteness is checked and a good state kept.

Threads: `torch.set_num_threads` is process-wide, so a per-session value cannot exist. The trainer
sets it once, at creation, when `TrainConfig.num_threads` is not None and differs from the current
value; with the default 1 every session asks for the same thing, so sessions never fight over it
(and one thread is fastest for these small matrices). Use one trainer from one thread at a time.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field, replace

import torch

from models import likelihoods
from models.data import Dataset
from models.vae import VAE, VAEConfig, kl_per_dim


@dataclass
class TrainConfig:
    lr: float = 1e-3  # Adam learning rate
    batch_size: int = 128  # examples per step, drawn with replacement from the train split
    beta: float = 1.0  # weight of the KL term (β-VAE, Higgins et al. 2017); 1 gives the ELBO
    num_threads: int | None = 1  # torch.set_num_threads at creation (process-wide); None: leave it
    check_every: int = 100  # steps between finiteness checks, good-state copies and reads of loss


@dataclass
class SliceResult:
    steps: int  # steps taken in this slice
    seconds: float  # wall time of the slice
    step: int  # total steps so far
    loss: float  # mean over the slice's steps (nan if none)
    recon: float  # mean -log p(x|z), nats per example
    kl: float  # mean KL(q(z|x) || p(z)), nats per example
    stopped_reason: str | None = None  # why the run stopped, if it did

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Event:
    step: int  # steps done when the change was made
    what: str  # "likelihood", "sigma", "scale", "alpha", "beta" or "lr"
    before: object
    after: object


@dataclass
class History:
    """One entry per step: the loss at step s is the one computed before the s-th update."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)  # recon + β·kl
    recon: list[float] = field(default_factory=list)  # -log p(x|z) in nats per example
    kl: list[float] = field(default_factory=list)  # KL(q(z|x) || p(z)) in nats per example
    events: list[Event] = field(default_factory=list)  # settings changed mid-run
    slices: list[SliceResult] = field(default_factory=list)  # one per run() that took steps

    def compact(self, max_rows: int) -> None:
        """Keep at most `max_rows` rows by averaging the oldest half in pairs, so a long live run
        costs bounded memory while recent steps keep full resolution. A merged row carries the
        later step of its pair and the mean of its losses."""
        while len(self.step) > max(max_rows, 2):
            half = (len(self.step) // 2) & ~1  # an even number of the oldest rows
            self.step[:half] = self.step[1:half:2]
            for values in (self.loss, self.recon, self.kl):
                pairs = zip(values[0:half:2], values[1:half:2], strict=True)
                values[:half] = [(a + b) / 2 for a, b in pairs]


@dataclass
class Status:
    step: int  # total steps
    stopped: bool  # True after a non-finite loss, until a setting changes or resume() is called
    stopped_reason: str | None  # e.g. "non-finite loss at step 812 (σ = 0.001, lr = 0.1): ..."
    last_good_step: int  # the step whose weights a failure would restore


class Trainer:
    def __init__(
        self,
        config: VAEConfig,
        dataset: Dataset,
        likelihood: str | likelihoods.Likelihood = "gaussian",
        seed: int = 0,
        train: TrainConfig | None = None,
    ):
        self.train_config = tc = train or TrainConfig()
        likelihoods.check_positive("lr", tc.lr)
        if tc.batch_size < 1 or tc.check_every < 1:
            raise ValueError("batch_size and check_every must be at least 1")
        if tc.num_threads is not None and torch.get_num_threads() != tc.num_threads:
            torch.set_num_threads(tc.num_threads)
        self.config = replace(config, data_dim=dataset.dim)
        self.dataset = dataset
        self.seed = seed
        self.model = VAE(self.config, seed=seed)
        self.X = dataset.train.contiguous()  # (N, D), batches are index_selects of it
        self.gen = torch.Generator().manual_seed(seed + 1_000_003)  # batches and ε, private
        self.opt = torch.optim.Adam(self.model.parameters(), lr=tc.lr, fused=True)
        self.beta = float(tc.beta)
        self.lr = float(tc.lr)
        self.step = 0
        self.history = History()
        self._stopped_reason: str | None = None
        self._use_likelihood(
            likelihoods.make(likelihood) if isinstance(likelihood, str) else likelihood
        )

    # -- settings
    def _use_likelihood(self, lik: likelihoods.Likelihood) -> None:
        self.likelihood = lik
        params = list(lik.parameters())  # a learned σ gets its own Adam (Adam is per-parameter)
        self.lik_opt = torch.optim.Adam(params, lr=self.lr, fused=True) if params else None
        self._snapshot()

    def set_likelihood(self, name: str, **params) -> None:
        """Switch family mid-run (the weights are kept); recorded as an event."""
        before = _describe(self.likelihood)
        self._use_likelihood(likelihoods.make(name, **params))
        self._record("likelihood", before, _describe(self.likelihood))

    def set_param(self, **changes) -> None:
        """Change σ / scale / α (of the likelihood), beta or lr mid-run; each change is an event."""
        for k, v in changes.items():
            if k == "beta":
                v = float(v)
                if not (math.isfinite(v) and v >= 0):
                    raise ValueError(f"beta must be a finite number >= 0, got {v!r}")
                before, self.beta = self.beta, v
            elif k == "lr":
                v = likelihoods.check_positive("lr", v)
                before, self.lr = self.lr, v
                for opt in (self.opt, self.lik_opt):
                    for group in opt.param_groups if opt else ():
                        group["lr"] = v
            else:
                before = self.likelihood.params.get(k)
                self.likelihood.update(**{k: v})
                v = self.likelihood.params[k]
            self._record(k, before, v)
        self._snapshot()

    def resume(self) -> None:
        """Clear a stop without changing anything (the same settings may fail again)."""
        self._stopped_reason = None

    def _record(self, what: str, before, after) -> None:
        self.history.events.append(Event(self.step, what, before, after))
        self._stopped_reason = None

    @property
    def status(self) -> Status:
        return Status(
            self.step, self._stopped_reason is not None, self._stopped_reason, self._good[0]
        )

    # -- good-state copies
    def _snapshot(self) -> None:
        self._good = (
            self.step,
            copy.deepcopy(self.model.state_dict()),
            copy.deepcopy(self.opt.state_dict()),
            copy.deepcopy(self.likelihood.state_dict()),
            copy.deepcopy(self.lik_opt.state_dict()) if self.lik_opt else None,
            self.gen.get_state(),
        )

    def _restore(self) -> None:
        step, model, opt, lik, lik_opt, gen = copy.deepcopy(self._good)
        self.step = step
        self.model.load_state_dict(model)
        self.opt.load_state_dict(opt)
        self.likelihood.load_state_dict(lik)
        if self.lik_opt:
            self.lik_opt.load_state_dict(lik_opt)
        self.gen.set_state(gen)

    def _weights_finite(self) -> bool:
        ps = [
            p.detach().reshape(-1)
            for p in (*self.model.parameters(), *self.likelihood.parameters())
        ]
        return bool(torch.isfinite(torch.cat(ps)).all())

    # -- training
    def _step(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One Adam step on the β-weighted negative ELBO of a random batch."""
        B, L = self.train_config.batch_size, self.config.latent_dim
        idx = torch.randint(self.X.shape[0], (B,), generator=self.gen)
        x = self.X.index_select(0, idx)  # (B, D)
        eps = torch.randn(B, L, generator=self.gen)  # (B, L)
        out, mu, logvar = self.model(x, eps)
        recon = self.likelihood.nll(out, x)  # -E_q[log p(x|z)], one sample per example
        kl = kl_per_dim(mu, logvar).sum(-1).mean()  # KL(q(z|x) || N(0, I)), closed form
        loss = recon + self.beta * kl
        self.opt.zero_grad(set_to_none=True)
        if self.lik_opt:
            self.lik_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.lik_opt:
            self.lik_opt.step()
        return loss.detach(), recon.detach(), kl.detach()

    def run(self, max_steps: int | None = None, max_seconds: float | None = None) -> SliceResult:
        """Train one slice: stop after `max_steps` steps or `max_seconds` seconds, whichever first.

        Every `check_every` steps (and at the end) the losses are read and checked; a non-finite
        loss or weight restores the last good state (weights, Adam moments, RNG), stops the run and
        sets `status.stopped_reason`. History holds only steps whose weights were kept.
        """
        if max_steps is None and max_seconds is None:
            raise ValueError("give max_steps or max_seconds (or both)")
        first = self.step
        if self._stopped_reason is not None:
            return SliceResult(
                0, 0.0, self.step, math.nan, math.nan, math.nan, self._stopped_reason
            )
        self.model.train()
        self.likelihood.train()
        t0 = time.perf_counter()
        deadline = math.inf if max_seconds is None else t0 + max_seconds
        target = math.inf if max_steps is None else self.step + max_steps
        sums = [0.0, 0.0, 0.0]
        while self.step < target and time.perf_counter() < deadline:
            n = int(min(self.train_config.check_every, target - self.step))
            rows = []
            for _ in range(n):
                rows.append(torch.stack(self._step()))
                if time.perf_counter() >= deadline:
                    break
            vals = torch.stack(rows)  # (n, 3): loss, recon, kl
            finite = torch.isfinite(vals).all(dim=1)
            if not (bool(finite.all()) and self._weights_finite()):
                self._fail(int((~finite).int().argmax()) if not finite.all() else None, len(rows))
                break
            h = self.history
            h.step.extend(range(self.step + 1, self.step + len(rows) + 1))
            loss, recon, kl = vals.T.tolist()
            h.loss.extend(loss)
            h.recon.extend(recon)
            h.kl.extend(kl)
            for i, col in enumerate((loss, recon, kl)):
                sums[i] += sum(col)
            self.step += len(rows)
            self._snapshot()
        seconds = time.perf_counter() - t0
        steps = self.step - first
        means = [s / steps if steps else math.nan for s in sums]
        result = SliceResult(steps, seconds, self.step, *means, stopped_reason=self._stopped_reason)
        if steps:
            self.history.slices.append(result)
        return result

    def _fail(self, bad_row: int | None, rows: int) -> None:
        settings = ", ".join(
            [f"{_SYMBOL.get(k, k)} = {v:.3g}" for k, v in self.likelihood.params.items()]
            + [f"lr = {self.lr:.3g}"]
            + ([f"β = {self.beta:.3g}"] if self.beta != 1 else [])
        )
        if bad_row is None:
            what = f"non-finite weights after step {self.step + rows}"
        else:
            what = f"non-finite loss at step {self.step + bad_row + 1}"
        self._restore()
        hint = "lower the learning rate" + (
            f" or raise {_SYMBOL.get(self.likelihood.slider, self.likelihood.slider)}"
            if self.likelihood.slider
            else ""
        )
        self._stopped_reason = f"{what} ({settings}): weights restored to step {self.step}; {hint}"


_SYMBOL = {"sigma": "σ", "alpha": "α", "scale": "scale"}


def _describe(lik: likelihoods.Likelihood) -> str:
    p = ", ".join(f"{k}={v:.4g}" for k, v in lik.params.items())
    return f"{lik.name}({p})"
