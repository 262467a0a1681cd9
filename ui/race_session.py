"""One browser session's race: K models trained together (models.batched), their live metrics,
the rate–distortion trails of a σ sweep, and pinned results.

Pure Python + PyTorch (no Streamlit). A page keeps one `RaceSession` per Streamlit session in
`st.session_state`. Training runs in the shared background worker (ui/training_pool.py) in 50 ms
slices, exactly like a lab session: the worker only needs `wants_training` and `train_slice`,
and the page's fragment runs send the heartbeat that keeps it training. Every method that touches
the trainer holds `self.lock`; views queue for it with priority and `train_slice` only tries it.
"""

from __future__ import annotations

import copy
import csv
import io
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch

from models import likelihoods, race
from models.batched import BatchedTrainer, BatchSliceResult, ModelSpec
from models.data import NAMES, DataError, Dataset
from models.evaluate import Metrics, evaluate
from models.vae import VAEConfig
from ui.lab_session import EVAL_K, cached_dataset, live_eval_examples
from ui.live_session import LiveSession
from ui.training_pool import POOL, TrainingPool

HIDDEN = 128  # the lab's architecture
EVAL_EVERY = 250  # steps between live evaluations (each evaluates every model)
HISTORY_ROWS = 20_000  # per model; older rows are merged in pairs beyond this
TRAIL_POINTS = 200  # rate–distortion points kept per model
STEP_CHOICES = (1000, 3000, 10000)
FOLDER_DATASETS = ("mnist", "fashion-mnist")  # read from the server's IDX folder


@dataclass(frozen=True)
class RaceSettings:
    preset: str = "likelihoods"  # one of models.race.PRESETS
    dataset: str = "digits"
    family: str = "gaussian"  # of the σ sweep and the custom race
    values: tuple[float, ...] = race.SWEEP_VALUES  # σ / scale values (sweep, custom)
    betas: tuple[float, ...] = (1.0,)  # KL weights (custom)
    latent_dim: int = 2
    steps: int = 3000  # the race stops by itself here
    seed: int = 0

    def specs(self) -> list[ModelSpec]:
        return race.preset_specs(
            self.preset, seed=self.seed, family=self.family, values=self.values, betas=self.betas
        )


def datasets(data_folder: str | None) -> list[str]:
    """Data sets a race can use here: every embedded one (new names in models.data.NAMES, such
    as a bundled MNIST subset, appear by themselves), the IDX ones only with a server folder."""
    return [n for n in NAMES if n not in FOLDER_DATASETS or data_folder]


@dataclass(frozen=True)
class PinnedRace:
    settings: RaceSettings
    step: int
    rows: list[dict]  # the ranked table at pin time
    image_shape: tuple[int, int]
    labels: list[str]
    reconstructions: list[np.ndarray]  # per model: (n, D) decoder means of the same test digits
    inputs: np.ndarray  # (n, D) those test digits


@dataclass
class RaceSession(LiveSession):
    settings: RaceSettings = field(default_factory=RaceSettings)
    data_folder: str | None = None
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _count_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    trainer: BatchedTrainer | None = None
    trained_settings: RaceSettings | None = None  # what the current trainer was built from
    running: bool = False
    message: str | None = None  # why training stopped early
    metrics: list[Metrics] | None = None
    metrics_step: int = -1
    metrics_steps: list[int] = field(default_factory=list)  # each model's step at evaluation
    trails: list[list[tuple[float, float, float]]] = field(default_factory=list)
    pinned: list[PinnedRace] = field(default_factory=list)
    selected: int | None = None  # the model whose reconstructions the sweep shows
    last_seen: float = field(default_factory=time.monotonic)
    pool: TrainingPool | None = field(default=POOL, repr=False)
    _waiting: int = 0
    _progress: deque = field(default_factory=lambda: deque(maxlen=12), repr=False)

    # -- the worker's interface ------------------------------------------------------------------
    def wants_training(self) -> bool:
        return (
            self.running
            and self.trainer is not None
            and time.monotonic() - self.last_seen < self.HEARTBEAT_SECONDS
        )

    def stop_with_error(self, error: Exception) -> None:
        self.running, self.message = False, f"training stopped: {error}"

    def train_slice(self, max_seconds: float) -> BatchSliceResult | None:
        """Train every running model for at most `max_seconds`; None if skipped."""
        if not self.running or self._waiting:
            return None
        if not self.lock.acquire(blocking=False):
            return None
        try:
            trainer = self.trainer
            if trainer is None:
                return None
            left = self.trained_settings.steps - self.step
            if left <= 0:
                self.running = False
                return None
            result = trainer.run(max_steps=left, max_seconds=max_seconds)
            for history in trainer.histories:
                history.compact(HISTORY_ROWS)
            if not trainer.running:
                self.running = False
                self.message = "every model stopped on a non-finite loss; see the table"
            elif self.step >= self.trained_settings.steps:
                self.running = False  # the race is over: nothing keeps burning CPU
            return result
        finally:
            self.lock.release()

    # -- lifecycle -------------------------------------------------------------------------------
    def dataset(self) -> Dataset:
        name = self.settings.dataset
        if name in FOLDER_DATASETS and not self.data_folder:
            raise DataError(
                f"{name} is read from local IDX files, and this server has no folder for them "
                "(set LIKELIHOOD_LAB_IDX_DIR before starting the app)"
            )
        return cached_dataset(name, self.data_folder)

    def _new_race(self) -> None:
        s = self.settings
        self.trainer = BatchedTrainer(
            VAEConfig(latent_dim=s.latent_dim, hidden=HIDDEN), self.dataset(), s.specs()
        )
        self.trained_settings = s
        self.metrics, self.metrics_step = None, -1
        self.trails = [[] for _ in range(self.trainer.K)]
        self.selected, self.message = None, None
        self._progress.clear()

    def start(self) -> None:
        """Start (a new race if the settings changed or none exists) or resume."""
        with self._locked():
            if self.trainer is None or self.pending_reset:
                self._new_race()
            if self.step >= self.trained_settings.steps or not self.trainer.running:
                return  # finished: a new race needs Reset
            self.running, self.message = True, None
        self._hand_to_pool()

    def reset(self) -> None:
        """Drop the race (pins kept); the next Start builds one from the current settings."""
        with self._locked():
            self.running = False
            self.trainer, self.trained_settings = None, None
            self.metrics, self.metrics_step, self.trails = None, -1, []
            self.selected, self.message = None, None

    def apply(self, new: RaceSettings) -> bool:
        """Take the page's settings; True if they differ from the running race's (a Reset
        then starts a race with them)."""
        self.settings = new
        return self.pending_reset

    @property
    def pending_reset(self) -> bool:
        return self.trained_settings is not None and self.trained_settings != self.settings

    @property
    def step(self) -> int:
        return 0 if self.trainer is None else max(self.trainer.steps)

    @property
    def finished(self) -> bool:
        return (
            self.trainer is not None
            and not self.running
            and (self.step >= self.trained_settings.steps or not self.trainer.running)
        )

    # -- views -----------------------------------------------------------------------------------
    def refresh_metrics(self, min_interval_steps: int = EVAL_EVERY) -> list[Metrics] | None:
        """Evaluate every model on the test split if the race moved enough since the last time;
        each evaluation adds a point to each model's rate–distortion trail."""
        with self._locked():
            trainer = self.trainer
            if trainer is None:
                return None
            stale = self.metrics is None or self.step - self.metrics_step >= min_interval_steps
            if stale or (self.finished and self.metrics_step != self.step):
                metrics = trainer.evaluate_all(k=EVAL_K, max_examples=self.eval_examples)
                self._store_metrics(metrics, list(trainer.steps))
            return self.metrics

    def current_metrics(self) -> list[Metrics] | None:
        """What the live views show. While racing: the worker's latest evaluation (every
        EVAL_EVERY steps, see `between_slices`), so a view never waits for K of them. Paused,
        finished, or before the first: evaluated here when due (`refresh_metrics`)."""
        with self._locked():
            if self.running and self.metrics is not None:
                return self.metrics
            return self.refresh_metrics()

    def between_slices(self) -> None:
        """The background worker's call after each turn: every EVAL_EVERY steps while racing,
        evaluate every model on copies taken under the lock, with the lock released. (In the
        views, K evaluations took ~K × 80 ms of a redraw on 28×28 data: bench/README.md.)"""
        if not self.wants_training():
            return
        if self._waiting or not self.lock.acquire(blocking=False):
            return  # a view goes first; try again after the next slice
        try:
            trainer = self.trainer
            if trainer is None or (
                self.metrics is not None and self.step - self.metrics_step < EVAL_EVERY
            ):
                return
            steps, examples = list(trainer.steps), self.eval_examples
            copies = [
                (trainer.model(k), copy.deepcopy(trainer.likelihoods[k])) for k in range(trainer.K)
            ]
        finally:
            self.lock.release()
        metrics = [
            evaluate(model, trainer.dataset, likelihood, k=EVAL_K, max_examples=examples)
            for model, likelihood in copies
        ]
        with self._locked():
            # A reset or a newer evaluation in the meantime wins over this one.
            if self.trainer is trainer and max(steps) > self.metrics_step:
                self._store_metrics(metrics, steps)

    def _store_metrics(self, metrics: list[Metrics], steps: list[int]) -> None:
        """Keep an evaluation (of the models at `steps`) and add it to the trails."""
        self.metrics, self.metrics_step, self.metrics_steps = metrics, max(steps), steps
        for k, m in enumerate(metrics):
            # The squared-error axis: E_q‖x − μ(z)‖²/D for the Gaussian (the distortion
            # its objective weighs), the displayed reconstruction's MSE otherwise.
            under_q = race.squared_error_under_q(self.trainer.specs[k], m, self.trainer.dataset.dim)
            mse = m.mse if under_q is None else under_q
            self.trails[k].append((m.kl, -m.recon_log_prob, mse))
            del self.trails[k][:-TRAIL_POINTS]

    @property
    def eval_examples(self) -> int:
        """Test images per live evaluation."""
        dim = 64 if self.trainer is None else self.trainer.dataset.dim
        return live_eval_examples(dim)

    def labels(self) -> list[str]:
        return [] if self.trainer is None else [s.label() for s in self.trainer.specs]

    def table_rows(self) -> list[dict]:
        """The live table, ranked by discretised bits/dim (models without one last)."""
        with self._locked():
            metrics = self.metrics
            if self.trainer is None or metrics is None:
                return []
            data = self.trainer.dataset
            rows = []
            for rank, k in enumerate(race.ranked(metrics), start=1):
                spec, m = self.trainer.specs[k], metrics[k]
                improper = spec.likelihood == "bernoulli" and data.levels != 2
                rows.append(
                    {
                        "rank": rank,
                        "model": spec.label(),
                        "steps": self.metrics_steps[k],
                        "bits/dim": m.bits_per_dim,
                        "ELBO (nats)": m.elbo,
                        "log p(x) IWAE": m.log_px_iwae,
                        "rate KL (nats)": m.kl,
                        "distortion −E log p(x|z)": -m.recon_log_prob,
                        "MSE": m.mse,
                        "active units": m.active_units,
                        "note": _note(spec, improper, self.trainer.stopped[k]),
                    }
                )
            return rows

    def table_csv(self, rows: list[dict] | None = None) -> str:
        rows = self.table_rows() if rows is None else rows
        out = io.StringIO()
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return out.getvalue()

    def test_digits(self, n: int = 6) -> np.ndarray:
        with self._locked():
            return (
                np.zeros((0, 0)) if self.trainer is None else self.trainer.dataset.test[:n].numpy()
            )

    def reconstructions(self, n: int = 6) -> list[np.ndarray]:
        """Per model: decoder means at the posterior mean for the first n test digits."""
        with self._locked():
            trainer = self.trainer
            if trainer is None:
                return []
            x = trainer.dataset.test[:n]
            out = []
            with torch.no_grad():
                for k in range(trainer.K):
                    mean = trainer.likelihoods[k].mean(trainer.model(k).reconstruct(x))
                    out.append(mean.numpy())
            return out

    def prior_samples(self, n: int = 6, seed: int = 0) -> list[np.ndarray]:
        """Per model: decoder means at the same n draws z ~ N(0, I)."""
        with self._locked():
            trainer = self.trainer
            if trainer is None:
                return []
            out = []
            with torch.no_grad():
                for k in range(trainer.K):
                    _, output = trainer.model(k).sample_prior(n, seed=seed)
                    out.append(trainer.likelihoods[k].mean(output).numpy())
            return out

    def sweep_points(self) -> list[dict]:
        """Per model: its rate–distortion trail and what the plane's lines need."""
        with self._locked():
            trainer = self.trainer
            if trainer is None or self.metrics is None:
                return []
            points = []
            for k, spec in enumerate(trainer.specs):
                info = likelihoods.info(spec.likelihood)
                trail = np.asarray(self.trails[k], dtype=float).reshape(-1, 3)
                points.append(
                    {
                        "index": k,
                        "label": spec.label(),
                        "beta": spec.beta,
                        "scale": spec.params.get(info.slider) if info.slider else None,
                        "gaussian": spec.likelihood == "gaussian",
                        "rate": trail[:, 0],
                        "nll": trail[:, 1],
                        "mse": trail[:, 2],
                        "elbo": self.metrics[k].elbo,
                        "stopped": trainer.stopped[k] is not None,
                    }
                )
            return points

    def pin(self) -> PinnedRace | None:
        with self._locked():
            if self.refresh_metrics(min_interval_steps=1) is None:
                return None
            run = PinnedRace(
                self.trained_settings,
                self.step,
                self.table_rows(),
                self.trainer.dataset.image_shape,
                self.labels(),
                self.reconstructions(),
                self.test_digits(),
            )
            self.pinned.append(run)
            return run


def _note(spec: ModelSpec, improper: bool, stopped: str | None) -> str:
    if stopped:
        return "stopped: " + stopped.split(":")[0]
    if improper:
        return "improper on grey data"
    return ""
