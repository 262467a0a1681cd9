"""What each piece of the lab's live views costs on the server, one session, nothing else running.

    python bench/bench_live_views.py [--dataset mnist-5k] [--steps 600] [--repeats 15]

The lab's three live fragments (app_pages/lab.py) redraw every 0.3 / 2 / 5 s per session, and every
session of a process shares one interpreter, so what one redraw costs sets how many sessions a
process can serve before their updates queue (bench_serve.py measures that queue). This times the
parts, median of --repeats calls, after --steps of training at the lab's settings:

evaluate           the test metrics (IWAE K = EVAL_K, bits/dim) on the lab's number of test
                   images. Since 2026-11-26 the background worker runs it on a copy of the model
                   (LabSession.between_slices); no view waits for it while training.
model copy         the snapshot the worker evaluates (copy.deepcopy of model and likelihood).
loss chart         figures.lab_plots.loss_curves from the session's history, then its JSON
                   (plotly.io.to_json, what st.plotly_chart sends); without setting changes, and
                   with 12 marked on it (a learner who dragged σ 12 times).
pictures           reconstructions and prior samples as PNGs at their display widths (420, 260
                   px); "shrunk" is the old way: made 6× and left to Streamlit, which decodes,
                   shrinks and re-encodes a PNG wider than its display width.
latent, KL bars    the analysis view's two charts, built and serialised.

Not part of the test suite. The last line is the figures as JSON.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import plotly.io as pio  # noqa: E402 - after the sys.path line
from PIL import Image  # noqa: E402

from figures.images import grid_png  # noqa: E402
from figures.lab_plots import kl_per_dimension, latent_scatter, loss_curves  # noqa: E402
from models.evaluate import evaluate  # noqa: E402
from ui.lab_session import EVAL_K, LabSession, live_eval_examples  # noqa: E402
from ui.lab_settings import LabSettings  # noqa: E402


def median_ms(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000.0 * statistics.median(times)


def shrunk_by_streamlit(png: bytes, width: int) -> bytes:
    """What Streamlit does to a PNG wider than its display width (image_utils, bilinear)."""
    picture = Image.open(io.BytesIO(png))
    height = int(picture.height * width / picture.width)
    buffer = io.BytesIO()
    picture.resize((width, height), resample=Image.BILINEAR).save(buffer, format="PNG")
    return buffer.getvalue()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default=LabSettings().dataset)
    p.add_argument("--steps", type=int, default=600, help="training before timing")
    p.add_argument("--repeats", type=int, default=15)
    a = p.parse_args(argv)

    session = LabSession(LabSettings(dataset=a.dataset), pool=None)
    session.start()
    while session.step < a.steps:
        session.train_slice(0.05)
    trainer, shape = session.trainer, session.trainer.dataset.image_shape
    n = a.repeats
    figures: dict[str, float] = {}

    def timed(name: str, call) -> None:
        figures[name] = median_ms(call, n)

    examples = live_eval_examples(trainer.dataset.dim)
    timed("evaluate", lambda: evaluate(trainer, trainer.dataset, k=EVAL_K, max_examples=examples))
    timed("model copy", lambda: (copy.deepcopy(trainer.model), copy.deepcopy(trainer.likelihood)))
    history = session.history()

    def chart(events) -> None:
        fig = loss_curves(history["step"], history["loss"], history["recon"], history["kl"], events)
        pio.to_json(fig, validate=False)

    # a learner who dragged σ 12 times, at least 500 steps apart (closer drags merge into one)
    changes = [(step, f"σ → {0.1 * 1.1**k:.3g}") for k, step in enumerate(range(500, 6500, 500))]
    history["step"] = history["step"] * (6500 / max(1, history["step"][-1]))
    timed("loss chart, 12 changes", lambda: chart(changes))
    timed("loss chart, no change", lambda: chart([]))
    columns = session.reconstruction_rows(8)
    rows = [list(row) for row in zip(*columns, strict=True)]
    samples = session.prior_samples(16)
    prior = [samples[i : i + 4] for i in range(0, 16, 4)]
    timed(
        "pictures at display width",
        lambda: (grid_png(rows, shape, width=420), grid_png(prior, shape, width=260)),
    )
    timed(
        "pictures 6x, shrunk",
        lambda: (
            shrunk_by_streamlit(grid_png(rows, shape), 420),
            shrunk_by_streamlit(grid_png(prior, shape), 260),
        ),
    )
    metrics = session.refresh_metrics(min_interval_steps=0)
    z, labels = session.latent_codes()
    timed("latent chart", lambda: pio.to_json(latent_scatter(z, labels), validate=False))
    timed(
        "KL bars",
        lambda: pio.to_json(
            kl_per_dimension(
                metrics.kl_per_dim, metrics.active_per_dim, metrics.mean_variance_per_dim
            ),
            validate=False,
        ),
    )

    print(
        f"{a.dataset}, step {session.step:,}, {examples} test images for the metrics, "
        f"median of {n} calls:"
    )
    for name, ms in figures.items():
        print(f"  {name:28s} {ms:8.1f} ms")
    print(json.dumps({"benchmark": "live_views", "dataset": a.dataset, "ms": figures}))


if __name__ == "__main__":
    main()
