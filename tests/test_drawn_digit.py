"""A drawn digit made into MNIST-like input (models/drawn_digit.py), checked on known drawings
and on real digits drawn back onto a canvas; the per-pixel −log p(x_d|z) against scipy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage, stats

from models import likelihoods
from models.data import load_dataset
from models.drawn_digit import canvas_ink, canvas_to_digit, encode, pixel_nll
from models.vae import VAE, VAEConfig

QUANTUM = 1.5 / 255  # a canvas stores 8-bit values


def canvas(size: int = 280, background: bool = True) -> np.ndarray:
    """An RGBA canvas: black and opaque (a background colour), or transparent."""
    c = np.zeros((size, size, 4), dtype=np.uint8)
    if background:
        c[..., 3] = 255
    return c


def paint(c: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    c[rows, cols] = 255  # white, opaque
    return c


def test_a_drawn_square_lands_centred_in_a_20_box():
    digit = canvas_to_digit(paint(canvas(), slice(30, 130), slice(150, 250)), (28, 28))
    image = digit.reshape(28, 28)
    rows, cols = np.nonzero(image > 0.5)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (20, 20)
    assert np.allclose(ndimage.center_of_mass(image), (14, 14), atol=0.5)
    assert image.max() == 1.0 and image.min() == 0.0
    assert np.count_nonzero(image) == 400  # nothing else is inked


def test_a_tall_bar_keeps_its_aspect_ratio():
    image = canvas_to_digit(paint(canvas(), slice(20, 220), slice(10, 110)), (28, 28))
    rows, cols = np.nonzero(image.reshape(28, 28) > 0.5)
    assert rows.max() - rows.min() + 1 == 20 and cols.max() - cols.min() + 1 == 10


def test_the_centre_of_mass_not_the_box_is_centred():
    c = paint(canvas(), slice(40, 240), slice(40, 80))  # an L: a bar and a foot
    c = paint(c, slice(200, 240), slice(40, 240))
    image = canvas_to_digit(c, (28, 28)).reshape(28, 28)
    assert np.allclose(ndimage.center_of_mass(image), (14, 14), atol=0.5)
    rows, cols = np.nonzero(image > 0.5)
    box_centre = ((rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2)
    assert not np.allclose(box_centre, (14, 14), atol=1.5)  # the box itself is off-centre


def test_transparent_and_black_backgrounds_give_the_same_digit():
    a = canvas_to_digit(paint(canvas(background=True), slice(50, 90), slice(60, 200)), (28, 28))
    b = canvas_to_digit(paint(canvas(background=False), slice(50, 90), slice(60, 200)), (28, 28))
    np.testing.assert_array_equal(a, b)


def test_blank_canvas_is_none_and_bad_arrays_are_refused():
    assert canvas_to_digit(canvas(), (28, 28)) is None
    assert canvas_to_digit(canvas(background=False), (8, 8)) is None
    with pytest.raises(ValueError, match=r"RGBA image of shape \(H, W, 4\)"):
        canvas_ink(np.zeros((10, 10, 3)))


def draw_back(image: np.ndarray, block: int, size: int) -> np.ndarray:
    """A dataset image painted onto a bigger canvas, each pixel a block×block square."""
    big = np.kron(image, np.ones((block, block)))
    c = canvas(size)
    top, left = 17, 33
    c[top : top + big.shape[0], left : left + big.shape[1], :3] = np.rint(big * 255)[..., None]
    return c


def test_real_mnist_digits_drawn_back_come_back_unchanged():
    """MNIST's own digits are already 20-box normalised and centred: the pipeline must return
    them (up to the canvas's 8 bits) for nearly all, and within one pixel's shift for the rest."""
    ds = load_dataset("mnist-5k")
    exact = 0
    for image in ds.test[:100].numpy():
        image = image.reshape(28, 28) / image.max()
        out = canvas_to_digit(draw_back(image, 10, 330), (28, 28)).reshape(28, 28)
        exact += np.abs(out - image).max() < QUANTUM
        shifted = min(
            np.mean((np.roll(out, (a, b), (0, 1)) - image) ** 2)
            for a in (-1, 0, 1)
            for b in (-1, 0, 1)
        )
        assert shifted < 1e-4  # (a faint fringe below the ink threshold may be trimmed)
    assert exact >= 85


def test_real_8x8_digits_drawn_back_come_back_unchanged():
    ds = load_dataset("digits")
    for image in ds.test[:60].numpy():
        image = image.reshape(8, 8) / image.max()
        out = canvas_to_digit(draw_back(image, 32, 300), (8, 8)).reshape(8, 8)
        best = min(np.abs(np.roll(out, k, 1) - image).max() for k in (-1, 0, 1))
        assert best < QUANTUM  # the same digit, at most one column over (an odd width)


@pytest.mark.parametrize("name", ["gaussian", "laplace", "bernoulli", "continuous-bernoulli"])
def test_pixel_nll_sums_to_the_families_log_prob(name):
    lik = likelihoods.make(name)
    g = torch.Generator().manual_seed(0)
    output, x = torch.randn(3, 10, generator=g), torch.rand(3, 10, generator=g)
    per_pixel = pixel_nll(lik, output, x)
    assert per_pixel.shape == (3, 10)
    torch.testing.assert_close(per_pixel.sum(-1), -lik.log_prob(output, x), rtol=1e-5, atol=1e-4)


def test_pixel_nll_gaussian_matches_scipy():
    lik = likelihoods.make("gaussian", sigma=0.2)
    output, x = torch.tensor([[0.1, 0.5, 0.9]]), torch.tensor([[0.0, 0.5, 0.2]])
    want = -stats.norm(output.numpy(), 0.2).logpdf(x.numpy())
    np.testing.assert_allclose(pixel_nll(lik, output, x).numpy(), want, rtol=1e-5)


def test_encode_reports_the_models_own_numbers():
    model = VAE(VAEConfig(data_dim=784, latent_dim=2, hidden=16), seed=1)
    lik = likelihoods.make("bernoulli")
    x = canvas_to_digit(paint(canvas(), slice(40, 200), slice(100, 140)), (28, 28))
    drawn = encode(model, lik, x)
    mu, _ = model.encode(torch.from_numpy(x)[None])
    np.testing.assert_allclose(drawn.z, mu[0].detach().numpy(), rtol=1e-6)
    assert drawn.mean.shape == drawn.sample.shape == drawn.nll.shape == (784,)
    assert set(np.unique(drawn.sample)) <= {0.0, 1.0}  # a Bernoulli draw
    out = model.decode(mu).detach()
    assert drawn.total_nll == pytest.approx(float(-lik.log_prob(out, torch.from_numpy(x)[None])))
    with pytest.raises(ValueError, match="takes 784 pixels, got 64"):
        encode(model, lik, np.zeros(64))
