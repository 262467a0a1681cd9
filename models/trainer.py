"""Training in bounded slices, so a caller (a script, the CLI, a UI) can interleave training with
drawing. The trainer knows nothing about any UI: it trains when asked and keeps a history.

    tr = Trainer(VAEConfig(latent_dim=2), load_dataset("digits"), "gaussian", seed=0)
    r = tr.run(max_steps=200)        # or max_seconds=0.5; returns a SliceResult
    tr.set_param(sigma=0.05)         # mid-run changes are recorded in tr.history.events
    tr.status.stop                   # a Stop if a non-finite loss or a divergence stopped it

The objective per step is the negative ELBO with a KL weight β (β = 1 is the ELBO itself):
    loss = mean_b[ -log p(x_b | z_b) + β·KL(q(z|x_b) || p(z)) ],   z_b = μ_b + σ_b·ε_b
with one reparameterised sample per example (Kingma & Welling 2014, eq. 10) and the KL in closed
form (their Appendix B).

Speed: the whole train split is one tensor and each batch is an index_select of random rows (no
DataLoader); Adam is the fused CPU kernel; per-step numbers stay on-tensor and are read once per
`check_every` steps, which is also when finiteness and divergence are checked and a good state
kept. The trainer writes no user-facing text: mid-run changes are `Event`s and stops are `Stop`s
(data), which a caller words.

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
from numbers import Real

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
    check_every: int = 100  # steps per window: finiteness and divergence checks, good-state copies
    divergence_spreads: float = 10.0  # a window this many spreads above the best one is a rise
    divergence_windows: int = 2  # consecutive risen windows that stop the run (0: never stop)


@dataclass
class SliceResult:
    steps: int  # steps taken in this slice (0 if a stop restored weights from before it)
    seconds: float  # wall time of the slice
    step: int  # total steps so far
    loss: float  # mean over the slice's steps (nan if none)
    recon: float  # mean -log p(x|z), nats per example
    kl: float  # mean KL(q(z|x) || p(z)), nats per example
    stopped_reason: str | None = None  # "non-finite" or "diverged" if the run stopped

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Event:
    """A setting changed mid-run. `name` is a likelihood parameter ("sigma", "scale", "alpha",
    "sigma_min"), "beta", "lr", or "likelihood" (then before/after are family names, and the new
    family's parameters follow as their own events)."""

    step: int  # steps done when the change was made
    name: str
    before: object
    after: object


@dataclass(frozen=True)
class Stop:
    """Why training stopped, as data; the caller words it (the trainer writes no prose).

    reason "non-finite": a loss or weight became inf/nan. reason "diverged": the median loss of
    `divergence_windows` consecutive windows rose above `threshold` (see Trainer._watch).
    """

    reason: str  # "non-finite" or "diverged"
    step: int  # the step at which it was detected
    restored_step: int  # weights, Adam moments and RNG were restored to the end of this step
    settings: dict  # likelihood name and parameters, lr and beta in force at the stop
    loss: float = math.nan  # diverged: median loss of the last window
    best: float = math.nan  # diverged: median loss of the best window since the last change
    threshold: float = math.nan  # diverged: best + spreads·(that window's interquartile range)


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

    def truncate(self, step: int) -> None:
        """Forget rows after `step` (their weights were thrown away by a restore)."""
        while self.step and self.step[-1] > step:
            for values in (self.step, self.loss, self.recon, self.kl):
                values.pop()


@dataclass
class Status:
    step: int  # total steps
    stopped: bool  # True after a stop, until a setting changes or resume() is called
    stopped_reason: str | None  # "non-finite" or "diverged"
    stop: Stop | None  # the details
    last_good_step: int  # the step whose weights a failure would restore


class Trainer:
    """Divergence. A run can fail without ever producing inf or nan: with Adam at lr = 1 and
    σ = 1e-3 the loss jumps a thousandfold in two steps and stays there. The criterion, checked
    once per window of `check_every` steps:

    - a *reference* is the best window since the settings last changed: its median loss and its
      interquartile range (the spread of per-step losses, which scales with the loss itself, so
      the rule needs no units). When the settings change, the first reference is a probe: the
      loss of the current model on 8 batches, taken before any update under the new settings (a
      run can blow up within its first two steps, before any window exists).
    - a window *has risen* when its median exceeds reference + `divergence_spreads` × spread
      (10 by default). The median of 100 step losses moves by about a tenth of a spread by
      chance, so a healthy run never rises that far; training that makes things worse does.
    - `divergence_windows` consecutive risen windows (2) stop the run with Stop("diverged"), and
      the weights go back to the end of the last window that had not risen.

    Good-state copies are taken only at the end of a window that has not risen, so a restore
    never lands on weights that were already on their way up.
    """

    PROBE_BATCHES = 8  # batches in the probe that sets the first reference after a change

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
        lik = likelihoods.make(likelihood) if isinstance(likelihood, str) else likelihood
        self.config = replace(config, data_dim=dataset.dim, outputs_per_pixel=lik.outputs_per_pixel)
        self.dataset = dataset
        self.seed = seed
        self.model = VAE(self.config, seed=seed)
        self.X = dataset.train.contiguous()  # (N, D), batches are index_selects of it
        self.gen = torch.Generator().manual_seed(seed + 1_000_003)  # batches and ε, private
        self.opt = torch.optim.Adam(self.model.parameters(), lr=tc.lr, fused=True)
        self.beta = _check_beta(tc.beta)
        self.lr = float(tc.lr)
        self.step = 0
        self.history = History()
        self._stop: Stop | None = None
        self._use_likelihood(lik)

    # -- settings
    def _use_likelihood(self, lik: likelihoods.Likelihood) -> None:
        self.likelihood = lik
        params = list(lik.parameters())  # a learned σ gets its own Adam (Adam is per-parameter)
        self.lik_opt = torch.optim.Adam(params, lr=self.lr, fused=True) if params else None
        self._snapshot()
        self._new_reference()

    def set_likelihood(self, name: str, **params) -> None:
        """Switch family mid-run (the weights are kept); recorded as events: the family, then
        each of the new family's parameters. A family whose decoder output has another width
        (gaussian-per-pixel) needs a new model: ValueError."""
        lik = likelihoods.make(name, **params)
        if lik.outputs_per_pixel != self.config.outputs_per_pixel:
            raise ValueError(
                f"{name} needs a decoder with {lik.outputs_per_pixel} outputs per pixel and this "
                f"model has {self.config.outputs_per_pixel}: build a new model for it"
            )
        before = self.likelihood.name
        self._use_likelihood(lik)
        self._record("likelihood", before, lik.name)
        for key, value in lik.params.items():
            self._record(key, None, value)

    def set_param(self, **changes) -> None:
        """Change σ / scale / α (of the likelihood), beta or lr mid-run; each change is an event."""
        for k, v in changes.items():
            if k == "beta":
                v = _check_beta(v)
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
        self._new_reference()

    def resume(self) -> None:
        """Clear a stop without changing anything (the same settings may fail again)."""
        self._stop = None
        self._new_reference()

    def _record(self, name: str, before, after) -> None:
        self.history.events.append(Event(self.step, name, before, after))
        self._stop = None

    @property
    def status(self) -> Status:
        stop = self._stop
        return Status(
            self.step, stop is not None, stop.reason if stop else None, stop, self._good[0]
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
        self.history.truncate(step)

    def _weights_finite(self) -> bool:
        ps = [
            p.detach().reshape(-1)
            for p in (*self.model.parameters(), *self.likelihood.parameters())
        ]
        return bool(torch.isfinite(torch.cat(ps)).all())

    # -- divergence watch (see the class docstring)
    @torch.no_grad()
    def _new_reference(self) -> None:
        """Probe the current model under the current settings: the first reference."""
        self._window: list[float] = []
        self._risen = 0
        B = self.train_config.batch_size
        g = torch.Generator().manual_seed(self.seed + 7919 * (self.step + 1))  # never self.gen
        modes = self.model.training, self.likelihood.training
        self.model.eval()
        self.likelihood.eval()  # gaussian-optimal: use, do not update, its running σ
        try:
            losses = []
            for _ in range(self.PROBE_BATCHES):
                x = self.X.index_select(0, torch.randint(self.X.shape[0], (B,), generator=g))
                eps = torch.randn(B, self.config.latent_dim, generator=g)
                out, mu, logvar = self.model(x, eps)
                kl = kl_per_dim(mu, logvar).sum(-1).mean()
                losses.append(float(self.likelihood.nll(out, x) + self.beta * kl))
        finally:
            self.model.train(modes[0])
            self.likelihood.train(modes[1])
        self._reference = _median_and_spread(losses)

    def _watch(self, losses: list[float]) -> bool:
        """Feed per-step losses; at each full window, judge it. True when the run diverged."""
        self._window.extend(losses)
        W = self.train_config.check_every
        while len(self._window) >= W:
            window, self._window = self._window[:W], self._window[W:]
            median, spread = _median_and_spread(window)
            best, best_spread = self._reference
            self._threshold = best + self.train_config.divergence_spreads * best_spread
            if median > self._threshold:
                self._risen += 1
                self._last_median = median
                limit = self.train_config.divergence_windows
                if limit and self._risen >= limit:
                    return True
            else:
                self._risen = 0
                if median <= best:
                    self._reference = (median, spread)
        return False

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

        Every `check_every` steps (and at the end) the losses are read and checked. A non-finite
        loss or weight, or a divergence (class docstring), restores the last good state (weights,
        Adam moments, RNG and history), stops the run and sets `status.stop`.
        """
        if max_steps is None and max_seconds is None:
            raise ValueError("give max_steps or max_seconds (or both)")
        first = self.step
        if self._stop is not None:
            return SliceResult(0, 0.0, self.step, math.nan, math.nan, math.nan, self._stop.reason)
        self.model.train()
        self.likelihood.train()
        t0 = time.perf_counter()
        deadline = math.inf if max_seconds is None else t0 + max_seconds
        target = math.inf if max_steps is None else self.step + max_steps
        sums, counted = [0.0, 0.0, 0.0], 0
        while self.step < target and time.perf_counter() < deadline:
            W = self.train_config.check_every
            n = int(min(W - len(self._window), target - self.step))
            rows = []
            for _ in range(n):
                rows.append(torch.stack(self._step()))
                if time.perf_counter() >= deadline:
                    break
            vals = torch.stack(rows)  # (n, 3): loss, recon, kl
            finite = torch.isfinite(vals).all(dim=1)
            if not (bool(finite.all()) and self._weights_finite()):
                self._halt("non-finite", self.step + len(rows))
                break
            h = self.history
            h.step.extend(range(self.step + 1, self.step + len(rows) + 1))
            loss, recon, kl = vals.T.tolist()
            h.loss.extend(loss)
            h.recon.extend(recon)
            h.kl.extend(kl)
            for i, col in enumerate((loss, recon, kl)):
                sums[i] += sum(col)
            counted += len(rows)
            self.step += len(rows)
            if self._watch(loss):
                self._halt("diverged", self.step)
                break
            if not self._window and not self._risen:
                self._snapshot()  # the end of a window that has not risen: a good state
        seconds = time.perf_counter() - t0
        steps = max(self.step - first, 0)
        means = [v / counted if counted else math.nan for v in sums]
        reason = self._stop.reason if self._stop else None
        result = SliceResult(steps, seconds, self.step, *means, stopped_reason=reason)
        if steps:
            self.history.slices.append(result)
        return result

    def _halt(self, reason: str, at_step: int) -> None:
        settings = {"likelihood": self.likelihood.name, **self.likelihood.params}
        settings.update(lr=self.lr, beta=self.beta)
        extra = {}
        if reason == "diverged":
            extra = dict(loss=self._last_median, best=self._reference[0], threshold=self._threshold)
        self._restore()
        self._stop = Stop(reason, at_step, self.step, settings, **extra)
        self._window, self._risen = [], 0


def _check_beta(value) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"beta must be a finite number >= 0, got {value!r}")
    return float(value)


def _median_and_spread(values: list[float]) -> tuple[float, float]:
    """Median and interquartile range; the range is floored at a millionth of the level's size
    so a perfectly flat loss still has a positive spread."""
    t = torch.tensor(values, dtype=torch.float64)
    q25, q50, q75 = torch.quantile(t, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
    spread = max(float(q75 - q25), 1e-6 * (1.0 + abs(float(q50))))
    return float(q50), spread
