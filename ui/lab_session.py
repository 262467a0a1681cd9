"""One browser session's lab: its own model, optimiser, settings, history and pinned runs.

Pure Python + PyTorch (no Streamlit), so isolation and the training/rerun race are unit-tested.
A page keeps one `LabSession` per Streamlit session in `st.session_state`; nothing here is shared
between sessions except read-only data sets.

Concurrency: the background worker (ui/training_pool.py) trains a session while the page's
reruns read and change it. Every method that touches the trainer holds `self.lock`. Views and
setting changes queue for it with priority (`_locked`); `train_slice` only *tries* it and gives
up its turn while anyone waits, so a drag or click never waits behind training.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import functools
import io
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np
import torch

from models import likelihoods
from models.data import DataError, Dataset, load_dataset
from models.evaluate import Metrics, evaluate
from models.trainer import Event, SliceResult, Stop, TrainConfig, Trainer
from models.vae import VAEConfig, to_bytes
from ui.lab_settings import LR_RANGE, SYMBOLS, LabSettings
from ui.live_session import LiveSession
from ui.training_pool import POOL, TrainingPool

HIDDEN = 128  # decoder/encoder width: small enough for 8 sessions on 2 cores
EVAL_EXAMPLES = 360  # the whole digits test split; the first 360 of a larger one
EVAL_EXAMPLES_LARGE = 100  # images of D > 64 (28×28): bits/dim costs ∝ images·K·D (bench/README)
EVAL_K = 8  # importance samples for the live IWAE / bits-per-dim estimate
HISTORY_ROWS = 100_000  # per-step rows kept; older ones are merged in pairs beyond this
CHART_ROWS = 2_000  # rows handed to the chart (which buckets them further)
CHART_EVENTS = 12  # most recent setting changes marked on the chart


@functools.lru_cache(maxsize=4)
def cached_dataset(name: str, folder: str | None = None) -> Dataset:
    """Data sets are read-only tensors, so every session may share one copy."""
    return load_dataset(name, folder)


@dataclass(frozen=True)
class PinnedRun:
    settings: LabSettings
    step: int
    metrics: dict  # Metrics.as_dict()
    grid_rows: list  # reconstruction rows (arrays) for the comparison grid
    image_shape: tuple[int, int]


@dataclass
class LabSession(LiveSession):
    # While training, the background worker re-evaluates the test metrics this often (on a copy
    # of the model, see `between_slices`); the analysis view only reads them. As often as the
    # view evaluated them before: each evaluation costs ~2 % of a core per session for 28×28 data.
    METRICS_SECONDS: ClassVar[float] = 5.0

    settings: LabSettings = field(default_factory=LabSettings)
    data_folder: str | None = None
    linear: bool = False  # the linear VAE of Lucas et al. 2019 (the collapse page)
    step_budget: int | None = None  # pause by itself after this many steps (None: never)
    # Re-entrant so a view may call another view (pin → metrics + images) under one hold.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _count_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    trainer: Trainer | None = None
    running: bool = False
    message: str | None = None  # why training stopped, in words (see stop_message)
    stop: Stop | None = None  # the trainer's structured reason, when it stopped itself
    metrics: Metrics | None = None
    metrics_step: int = -1
    metrics_time: float = 0.0  # time.monotonic() of the last evaluation
    # The worker keeps the test metrics fresh while training (`between_slices`): for the lab's
    # analysis view. Pages that evaluate on their own schedule (collapse, the MSE demo) leave it.
    live_metrics: bool = False
    pinned: list[PinnedRun] = field(default_factory=list)
    update_ms: deque = field(default_factory=lambda: deque(maxlen=200))
    last_seen: float = field(default_factory=time.monotonic)  # the page's last heartbeat
    # Who trains it in the background; None: only explicit train_slice calls (tests, scripts).
    pool: TrainingPool | None = field(default=POOL, repr=False)
    _needs_reset: bool = False
    _waiting: int = 0  # threads blocked on the lock for a view or a setting (they go first)
    _progress: deque = field(default_factory=lambda: deque(maxlen=12), repr=False)

    @contextlib.contextmanager
    def holding_model(self):
        """The current trainer (None before the first start), held with a view's priority, for
        views kept outside this class (ui/draw_view.py)."""
        with self._locked():
            yield self.trainer

    def wants_training(self) -> bool:
        return (
            self.running
            and self.trainer is not None
            and not self._needs_reset
            and time.monotonic() - self.last_seen < self.HEARTBEAT_SECONDS
        )

    def stop_with_error(self, error: Exception) -> None:
        self.running, self.message, self.stop = False, f"training stopped: {error}", None

    # -- lifecycle -------------------------------------------------------------------------------
    def dataset(self) -> Dataset:
        """The data set the *settings* name (what the next reset trains on)."""
        name = self.settings.dataset
        if name in ("mnist", "fashion-mnist") and not self.data_folder:
            raise DataError(
                f"{name} is read from local IDX files, and this server has no folder for them "
                "(set LIKELIHOOD_LAB_IDX_DIR before starting the app)"
            )
        return cached_dataset(name, self.data_folder)

    @property
    def data(self) -> Dataset | None:
        """The data set the current model trains on; views use this, never the settings'."""
        return None if self.trainer is None else self.trainer.dataset

    def _new_trainer(self) -> Trainer:
        s = self.settings
        likelihood = likelihoods.make(s.likelihood, **s.likelihood_params())
        return Trainer(
            VAEConfig(latent_dim=s.latent_dim, hidden=HIDDEN, linear=self.linear),
            self.dataset(),
            likelihood,
            seed=s.seed,
            train=TrainConfig(lr=s.lr, beta=s.beta),
        )

    def _replace_trainer(self) -> None:
        """A fresh model from the current settings; its metrics and speed readings start over.
        Call with the lock held."""
        self.trainer = self._new_trainer()
        self._needs_reset = False
        self.metrics, self.metrics_step = None, -1
        self._progress.clear()

    def ensure_trainer(self) -> Trainer:
        with self._locked():
            if self.trainer is None or self._needs_reset:
                self._replace_trainer()
            return self.trainer

    def start(self) -> None:
        """Train in the background (the shared pool's worker) while the page keeps beating."""
        self.ensure_trainer()
        with self._locked():
            if self.trainer.status.stopped:
                self.trainer.resume()
            self.running, self.message, self.stop = True, None, None
        self._hand_to_pool()

    def reset(self) -> None:
        """A fresh model with the current settings (history and metrics cleared, pins kept)."""
        with self._locked():
            self._replace_trainer()
            self.running, self.message, self.stop = False, None, None

    @property
    def pending_reset(self) -> bool:
        return self._needs_reset

    # -- settings --------------------------------------------------------------------------------
    def apply(self, new: LabSettings) -> list[str]:
        """Apply changed settings; returns the names of what changed. Data set, latent size,
        seed and a decoder of another width need a fresh model, so they wait for a reset
        (`pending_reset`); the rest apply mid-run. The old settings are read and the new ones
        written under one hold of the lock, so two reruns cannot both diff against the same
        old settings (and apply a Laplace scale to a Bernoulli trainer)."""
        changed: list[str] = []
        with self._locked():
            old = self.settings
            if new == old:
                return changed
            self.settings = new
            if new.architecture() != old.architecture():
                self._needs_reset = True
                changed.append("model (applies on reset)")
            trainer = self.trainer
            if trainer is None or self._needs_reset:
                return changed
            if new.likelihood != old.likelihood:
                trainer.set_likelihood(new.likelihood, **new.likelihood_params())
                changed.append("likelihood")
            else:
                params = new.likelihood_params()
                updates = {k: v for k, v in params.items() if old.likelihood_params().get(k) != v}
                if updates:
                    trainer.set_param(**updates)
                    changed.extend(updates)
            for name in ("beta", "lr"):
                if getattr(new, name) != getattr(old, name):
                    trainer.set_param(**{name: getattr(new, name)})
                    changed.append(name)
            self.message, self.stop = None, None
        return changed

    # -- training --------------------------------------------------------------------------------
    def train_slice(self, max_seconds: float) -> SliceResult | None:
        """Train for at most `max_seconds` if running and the lock is free; None if skipped."""
        if not self.running or self._waiting:
            return None  # not training, or a rerun is waiting for the lock: let it go first
        if not self.lock.acquire(blocking=False):
            return None  # another run of this session is mid-slice: draw, don't wait
        try:
            if self.trainer is None or self._needs_reset:
                return None
            steps_left = None
            if self.step_budget is not None:
                steps_left = self.step_budget - self.trainer.step
                if steps_left <= 0:
                    self.running = False
                    return None
            result = self.trainer.run(max_steps=steps_left, max_seconds=max_seconds)
            self.trainer.history.compact(HISTORY_ROWS)
            if result.stopped_reason:
                self.stop = self.trainer.status.stop
                self.running, self.message = False, stop_message(self.stop)
            elif steps_left is not None and result.steps >= steps_left:
                self.running = False  # budget spent: nothing keeps burning CPU
            return result
        finally:
            self.lock.release()

    def record_update(self, seconds: float) -> None:
        self.update_ms.append(1000.0 * seconds)

    def update_percentiles(self) -> tuple[float, float] | None:
        if not self.update_ms:
            return None
        values = np.asarray(self.update_ms)
        return float(np.percentile(values, 50)), float(np.percentile(values, 95))

    # -- views (each takes the lock briefly) -----------------------------------------------------
    @property
    def step(self) -> int:
        return 0 if self.trainer is None else self.trainer.step

    def history(self, max_rows: int | None = CHART_ROWS) -> dict[str, np.ndarray | list]:
        """Per-step history (at most `max_rows` evenly spaced rows; None: all) and the setting
        changes, copied under the lock because the trainer appends in place."""
        with self._locked():
            if self.trainer is None:
                return {"step": [], "loss": [], "recon": [], "kl": [], "events": []}
            h = self.trainer.history
            n = len(h.step)
            rows = (
                range(n)
                if max_rows is None or n <= max_rows
                else (np.linspace(0, n - 1, max_rows).astype(int))
            )
            events = list(h.events)
            if max_rows is not None:
                events = _merge_drags(events)[-CHART_EVENTS:]
            events = [(e.step, event_label(e)) for e in events]
            return {
                "step": np.asarray([h.step[k] for k in rows]),
                "loss": np.asarray([h.loss[k] for k in rows]),
                "recon": np.asarray([h.recon[k] for k in rows]),
                "kl": np.asarray([h.kl[k] for k in rows]),
                "events": events,
            }

    def refresh_metrics(self, min_interval_steps: int = 200) -> Metrics | None:
        """Evaluate on the test split if the model moved enough since the last evaluation."""
        with self._locked():
            trainer = self.trainer
            if trainer is None:
                return None
            if self.metrics is None or trainer.step - self.metrics_step >= min_interval_steps:
                examples = live_eval_examples(trainer.dataset.dim)
                metrics = evaluate(trainer, trainer.dataset, k=EVAL_K, max_examples=examples)
                self._store_metrics(metrics, trainer.step)
            return self.metrics

    def current_metrics(self) -> tuple[Metrics, int] | None:
        """What the live analysis view shows: the metrics and the step of the model they are
        of, read together (the worker may store newer ones at any moment). While training: the
        worker's latest evaluation (at most about METRICS_SECONDS old), so the view never waits
        for one. Paused, stopped, or before the first: the model as it is now, evaluated here
        if it moved since (a rerun after Pause never shows an older model's numbers)."""
        with self._locked():
            if not (self.running and self.metrics is not None):
                self.refresh_metrics(min_interval_steps=1)
            return None if self.metrics is None else (self.metrics, self.metrics_step)

    def between_slices(self) -> None:
        """The background worker's call after each training turn: every METRICS_SECONDS while
        training, evaluate the test metrics on a copy of the model taken under the lock, with
        the lock released, so neither the page's views nor the setting changes wait for it.
        (Evaluated in the analysis view instead, it took ~85 ms of each update on 28×28 data,
        and more while every session's view queued for the interpreter: bench/README.md.)"""
        if not (self.live_metrics and self.wants_training()):
            return
        if time.monotonic() - self.metrics_time < self.METRICS_SECONDS:
            return
        if self._waiting or not self.lock.acquire(blocking=False):
            return  # a view or a setting change goes first; try again after the next slice
        try:
            trainer = self.trainer
            if trainer is None or self._needs_reset or trainer.step == self.metrics_step:
                return
            step, dataset = trainer.step, trainer.dataset
            examples = live_eval_examples(dataset.dim)
            model, likelihood = copy.deepcopy(trainer.model), copy.deepcopy(trainer.likelihood)
        finally:
            self.lock.release()
        metrics = evaluate(model, dataset, likelihood, k=EVAL_K, max_examples=examples)
        with self._locked():
            # A reset or a newer evaluation in the meantime wins over this one.
            if self.trainer is trainer and not self._needs_reset and step > self.metrics_step:
                self._store_metrics(metrics, step)

    def _store_metrics(self, metrics: Metrics, step: int) -> None:
        self.metrics, self.metrics_step, self.metrics_time = metrics, step, time.monotonic()

    def reconstruction_rows(self, n: int = 8, seed: int = 0) -> list[list[np.ndarray]]:
        """Per test digit: input | decoder mean | a sample from p(x|z), at z = posterior mean."""
        with self._locked():
            trainer = self.trainer
            if trainer is None:
                return []
            x = trainer.dataset.test[:n]
            with torch.no_grad():
                output = trainer.model.reconstruct(x)
                mean = trainer.likelihood.mean(output)
                sample = trainer.likelihood.sample(output, torch.Generator().manual_seed(seed))
            return [[x[i].numpy(), mean[i].numpy(), sample[i].numpy()] for i in range(x.shape[0])]

    def prior_samples(self, n: int = 16, seed: int = 0) -> list[np.ndarray]:
        """Decoder means at z ~ N(0, I): what the model generates."""
        with self._locked():
            trainer = self.trainer
            if trainer is None:
                return []
            with torch.no_grad():
                _, output = trainer.model.sample_prior(n, seed=seed)
                mean = trainer.likelihood.mean(output)
            return [row.numpy() for row in mean]

    def latent_codes(self, max_points: int = 500) -> tuple[np.ndarray, np.ndarray]:
        """Posterior means μ(x) of test digits and their labels."""
        with self._locked():
            trainer = self.trainer
            if trainer is None:
                return np.zeros((0, self.settings.latent_dim)), np.zeros(0, dtype=int)
            data = trainer.dataset
            with torch.no_grad():
                mu, _ = trainer.model.encode(data.test[:max_points])
            return mu.numpy(), data.test_labels[:max_points].numpy()

    def decode_test_point(self, index: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The test digit at `index` and the decoder mean at its posterior mean."""
        with self._locked():
            trainer = self.trainer
            if trainer is None or not (0 <= index < trainer.dataset.test.shape[0]):
                return None
            data = trainer.dataset
            x = data.test[index : index + 1]
            with torch.no_grad():
                mean = trainer.likelihood.mean(trainer.model.reconstruct(x))
            return x[0].numpy(), mean[0].numpy()

    # -- taking results away ---------------------------------------------------------------------
    def metrics_csv(self) -> str:
        """Per-step history, with the settings in force at each step, as CSV. (Beyond
        HISTORY_ROWS rows, the oldest rows are means of merged pairs of steps.)"""
        h = self.history(max_rows=None)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            ["step", "loss_recon_plus_beta_kl", "recon_neg_log_lik", "kl", "setting_changes"]
        )
        marks = {}
        for step, label in h["events"]:
            marks.setdefault(step, []).append(label)
        for step, loss, recon, kl in zip(h["step"], h["loss"], h["recon"], h["kl"], strict=True):
            writer.writerow([int(step), loss, recon, kl, "; ".join(marks.get(int(step) - 1, []))])
        return out.getvalue()

    def weights_bytes(self) -> bytes:
        with self._locked():
            if self.trainer is None:
                return b""
            return to_bytes(self.trainer.model, self.trainer.likelihood)

    def model_settings(self) -> LabSettings:
        """The settings the current model really has: a pending reset's data set, latent size
        and seed are not in it yet."""
        trainer = self.trainer
        if trainer is None:
            return self.settings
        return replace(
            self.settings,
            dataset=trainer.dataset.name,
            latent_dim=trainer.config.latent_dim,
            seed=trainer.seed,
        )

    def pin(self) -> PinnedRun | None:
        """Snapshot settings, step, metrics and pictures together, under one hold of the lock."""
        with self._locked():
            metrics = self.refresh_metrics(min_interval_steps=1)
            if metrics is None:
                return None
            run = PinnedRun(
                self.model_settings(),
                self.step,
                metrics.as_dict(),
                self.reconstruction_rows(6),
                self.trainer.dataset.image_shape,
            )
            self.pinned.append(run)
            return run


def live_eval_examples(dim: int) -> int:
    """Test images a live evaluation (lab or race) uses for data of `dim` pixels: the whole 8×8
    split, the first EVAL_EXAMPLES_LARGE of a 28×28 one."""
    return EVAL_EXAMPLES if dim <= 64 else EVAL_EXAMPLES_LARGE


def _merge_drags(events: list[Event], within: int = 500) -> list[Event]:
    """A slider drag makes several changes of one setting a few steps apart: keep the last,
    with the value from before the drag as its `before`."""
    merged: list[Event] = []
    for event in events:
        last = merged[-1] if merged else None
        if last and last.name == event.name and event.step - last.step <= within:
            merged[-1] = replace(event, before=last.before)
        else:
            merged.append(event)
    return merged


def event_label(event: Event) -> str:
    """A change as the chart marks it: "σ → 0.05", "likelihood → laplace"."""
    if event.name in SYMBOLS and isinstance(event.after, int | float):
        return f"{SYMBOLS[event.name]} → {float(event.after):.3g}"
    return f"{event.name} → {event.after}"


def suggested_lr(lr: float) -> float:
    """The learning rate the one-click fix offers: the default 1e-3, or a tenth of a rate
    already at or below it (never below the slider's range)."""
    default = LabSettings().lr
    return default if lr > default else max(lr / 10, LR_RANGE[0])


def stop_message(stop: Stop) -> str:
    """Why training paused, naming the likely cause, in the lab's symbols."""
    values = stop.settings
    shown = ", ".join(
        f"{SYMBOLS[k]} = {v:.3g}" for k, v in values.items() if k in SYMBOLS and k != "beta"
    )
    if values.get("beta", 1.0) != 1.0:
        shown += f", β = {values['beta']:.3g}"
    lr = values["lr"]
    if stop.reason == "diverged":
        what = (
            f"the loss diverged: around step {stop.step:,} its median over 100 steps was "
            f"{stop.loss:.3g}, far above its best level since the last change ({stop.best:.3g})"
        )
    else:
        what = f"the loss became infinite or undefined (NaN) by step {stop.step:,}"
    if lr > LabSettings().lr:
        cause = f"the likely cause is the learning rate {lr:g}: Adam's steps overshoot"
    elif "sigma" in values or "scale" in values:
        symbol = SYMBOLS["sigma" if "sigma" in values else "scale"]
        cause = f"the likely cause is a very small {symbol}, which magnifies every gradient"
    else:
        cause = "a lower learning rate usually cures it"
    return (
        f"{what} ({values['likelihood']}, {shown}); {cause}. The weights are back at step "
        f"{stop.restored_step:,}, the last check before the trouble."
    )


def settings_caption(settings: LabSettings) -> str:
    """ "laplace, b = 0.05": the family and its own parameters, each with its own symbol."""
    params = ", ".join(f"{SYMBOLS[k]} = {v:g}" for k, v in settings.likelihood_params().items())
    return settings.likelihood + (f", {params}" if params else "")


def settings_row(settings: LabSettings) -> dict:
    row = {"likelihood": settings.likelihood, "data": settings.dataset}
    params = settings.likelihood_params()
    for name, value in params.items():
        row[SYMBOLS[name]] = value
    row.update({"latent": settings.latent_dim, SYMBOLS["beta"]: settings.beta})
    row.update({SYMBOLS["lr"]: settings.lr, "seed": settings.seed})
    return row


def comparison_rows(pinned: list[PinnedRun]) -> list[dict]:
    rows = []
    for index, run in enumerate(pinned, start=1):
        m = run.metrics
        rows.append(
            {
                "run": index,
                **settings_row(run.settings),
                "step": run.step,
                "ELBO (nats)": m["elbo"],
                "MSE": m["mse"],
                "KL": m["kl"],
                "active units": m["active_units"],
                "bits/dim": m["bits_per_dim"],
            }
        )
    return rows
