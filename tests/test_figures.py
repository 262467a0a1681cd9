"""Figure builders: bounded data, correct shapes, images as PNG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from figures.images import grid_png, tile, to_uint8
from figures.lab_plots import (
    downsample,
    eigen_spectrum,
    kl_per_dimension,
    latent_scatter,
    loss_curves,
    project_2d,
)
from figures.likelihood_plots import gaussian_loglik_vs_residual


def test_downsample_keeps_short_series_and_bounds_long_ones():
    x = np.arange(50.0)
    assert np.array_equal(downsample(x, max_points=300)[0], x)
    long_x = np.arange(100_000.0)
    out_x, out_y = downsample(long_x, 2 * long_x, max_points=300)
    assert len(out_x) == len(out_y) == 300
    np.testing.assert_allclose(out_y, 2 * out_x)  # bucket means of a linear series stay linear
    assert out_x[0] < 200 and out_x[-1] > 99_000


def test_loss_curves_send_bounded_points_and_mark_events():
    steps = np.arange(20_000)
    fig = loss_curves(steps, steps * 0.1, steps * 0.05, steps * 0.01, events=[(5000, "σ → 0.3")])
    assert all(len(trace.x) <= 300 for trace in fig.data)
    assert any("σ → 0.3" in (a.text or "") for a in fig.layout.annotations)
    # one dotted line per change in each panel, spanning the panel's height
    lines = [(shape.x0, shape.xref, shape.yref) for shape in fig.layout.shapes]
    assert sorted(lines) == [(5000, "x", "y domain"), (5000, "x2", "y2 domain")]
    titles = {a.text for a in fig.layout.annotations if a.yref == "paper" and a.xref == "paper"}
    assert titles == {"loss and −log p(x|z) (nats)", "KL (nats)"}
    assert fig.data[2].xaxis == "x2" and fig.layout.xaxis2.domain[0] > fig.layout.xaxis.domain[1]


def test_grid_png_is_a_png_of_the_right_size():
    images = [[np.full(64, v) for v in (0.0, 0.5, 1.0)] for _ in range(2)]
    png = grid_png(images, (8, 8), scale=3, pad=1)
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG"
    assert picture.size == ((3 * 9 + 1) * 3, (2 * 9 + 1) * 3)
    grid = tile(images, (8, 8))
    assert grid[1, 1] == 0.0 and grid[1, 1 + 9] == 0.5  # first pixel of the first two images


@pytest.mark.parametrize("shape, width", [((28, 28), 420), ((8, 8), 420), ((28, 28), 120)])
def test_grid_png_is_made_at_the_width_it_is_shown(shape, width):
    # Streamlit re-encodes a PNG wider than its display width on every redraw; this one it sends
    rows = [[np.linspace(0, 1, shape[0] * shape[1])] * 8 for _ in range(3)]
    picture = Image.open(io.BytesIO(grid_png(rows, shape, width=width)))
    assert picture.width == width
    canvas = tile(rows, shape)
    assert picture.height == round(canvas.shape[0] * width / canvas.shape[1])


def test_to_uint8_clips_samples_outside_the_unit_interval_and_nan():
    assert to_uint8(np.array([-0.5, 0.5, 1.5, np.nan])).tolist() == [0, 128, 255, 0]


def test_project_2d_uses_pca_beyond_two_dimensions():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((200, 5)) * np.array([5.0, 3.0, 0.1, 0.1, 0.1])
    points, axes = project_2d(z)
    assert points.shape == (200, 2) and "PC" in axes
    assert points[:, 0].var() == pytest.approx(25, rel=0.3)
    same, axes2 = project_2d(z[:, :2])
    assert np.array_equal(same, z[:, :2]) and "z" in axes2


def test_latent_scatter_carries_indices_for_click_decoding():
    z = np.random.default_rng(1).standard_normal((30, 2))
    labels = np.arange(30) % 3
    fig = latent_scatter(z, labels)
    indices = sorted(int(i) for trace in fig.data for i in trace.customdata)
    assert indices == list(range(30))


def test_inactive_dimensions_are_grey_by_the_given_flags_not_by_their_kl():
    # z2 has a large KL but is inactive (its posterior mean does not vary): grey all the same.
    fig = kl_per_dimension([2.0, 0.9, 0.5], active=[True, False, True])
    colours = {trace.marker.color: list(trace.x) for trace in fig.data}
    assert colours == {"#2563eb": ["z1", "z3"], "#9ca3af": ["z2"]}
    spectrum = eigen_spectrum([3.0, 1.0, 0.2, 0.1], sigma2=0.5, latent_dim=3)
    assert list(spectrum.data[0].marker.color) == ["#2563eb", "#2563eb", "#dc2626", "#d1d5db"]


def test_gaussian_curve_gap_is_the_dropped_constant():
    sigma = 0.3
    fig = gaussian_loglik_vs_residual(sigma)
    log_density, kept = np.asarray(fig.data[0].y), np.asarray(fig.data[1].y)
    np.testing.assert_allclose(log_density - kept, -np.log(sigma * np.sqrt(2 * np.pi)))


def test_loss_chart_zooms_past_the_first_steps():
    steps = np.arange(1, 2001)
    loss = 5 + 600 * np.exp(-steps / 20)  # a huge start, then a settled run near 5
    fig = loss_curves(steps, loss, loss - 1, np.ones_like(loss))
    low, high = fig.layout.yaxis.range
    assert high < 50 and low < 4 < 5 < high
