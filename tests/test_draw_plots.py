"""Figures for a drawn digit: the heat map is the per-pixel numbers, laid out as the image; the
drawn point lands in the scatter's own coordinates."""

from __future__ import annotations

import numpy as np

from figures.draw_plots import add_drawn_point, pixel_nll_heatmap, project_point
from figures.lab_plots import latent_scatter, project_2d


def test_heatmap_is_the_image_layout_with_its_sum():
    nll = np.arange(784, dtype=float)
    fig = pixel_nll_heatmap(nll, (28, 28))
    z = np.asarray(fig.data[0].z)
    assert z.shape == (28, 28) and z[0, 1] == 1 and z[1, 0] == 28  # row-major, row 0 first
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 drawn at the top, like the image
    assert f"sum {nll.sum():.1f} nats" in fig.layout.title.text


def test_drawn_point_uses_the_scatters_projection():
    rng = np.random.default_rng(0)
    for dim in (1, 2, 5):
        codes = rng.normal(size=(50, dim)) * np.arange(1, dim + 1)
        drawn_points, _ = project_2d(codes)
        # a code already in the scatter must land exactly on its own dot
        np.testing.assert_allclose(project_point(codes, codes[7]), drawn_points[7], atol=1e-9)


def test_drawn_point_is_added_as_one_star():
    codes = np.array([[0.0, 1.0], [2.0, -1.0]])
    fig = add_drawn_point(latent_scatter(codes, np.array([3, 4])), codes, np.array([0.5, 0.25]))
    star = fig.data[-1]
    assert star.name == "your drawing" and star.marker.symbol == "star"
    assert (star.x[0], star.y[0]) == (0.5, 0.25)


def test_eigen_spectrum_axis_holds_the_sigma2_line_and_round_ticks():
    from figures.lab_plots import eigen_spectrum

    fig = eigen_spectrum([5.1, 3.7, 0.9, 0.35], sigma2=0.3, latent_dim=2)
    low, high = fig.layout.yaxis.range
    assert low < np.log10(0.3) < high and high > np.log10(5.1)  # σ² above the axis floor
    assert list(fig.layout.yaxis.ticktext) == ["0.2", "0.5", "1", "2", "5"]
