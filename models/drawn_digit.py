"""A digit drawn on a canvas, made into model input the way MNIST digits were made, and what the
current model does with it.

MNIST (LeCun et al., the database's description): each digit was size-normalised to fit a 20×20
box keeping its aspect ratio (grey levels from the anti-aliasing), then placed in a 28×28 field so
that its centre of mass sits at the centre. scikit-learn's 8×8 digits were 32×32 bitmaps, each
4×4 block counted: the digit spans the whole field, so here it fills an 8×8 box (block averages).

    x = canvas_to_digit(rgba, (28, 28))      # flat float32 in [0, 1], or None for a blank canvas
    drawn = encode(model, likelihood, x)     # z = μ(x), decoder mean, a sample, −log p(x_d | z)

Pure numpy / PIL / scipy / torch: no Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from models.likelihoods import Likelihood
from models.vae import VAE

MNIST_BOX = 20  # the size-normalising box inside the 28×28 field
INK_THRESHOLD = 0.05  # ink below this is canvas noise (anti-aliased fringes far from strokes)


def canvas_ink(rgba: np.ndarray) -> np.ndarray:
    """Ink in [0, 1] per canvas pixel of light strokes: alpha × luminance, so it is the same
    whether the canvas image carries a dark background (alpha 1, luminance 0) or none (alpha 0)."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected an RGBA image of shape (H, W, 4), got {rgba.shape}")
    rgb = rgba[..., :3].astype(np.float64) / 255.0
    luminance = rgb @ np.array([0.299, 0.587, 0.114])
    return np.clip(luminance * rgba[..., 3] / 255.0, 0.0, 1.0)


def field_centre(image_shape: tuple[int, int]) -> np.ndarray | None:
    """Where MNIST puts the centre of mass, in pixel-index coordinates: (14, 14), the field's
    centre 28/2, as its digits show (mnist-5k's train digits: mean (13.995, 14.005), every one
    within 0.5 of it). None for 8×8 digits, which fill the field's height and are centred by
    their bounding box (shifting by the centre of mass would push rows out of the field)."""
    return np.array([14.0, 14.0]) if image_shape == (28, 28) else None


def box_size(image_shape: tuple[int, int]) -> int:
    """20 for MNIST's 28×28; the whole field for smaller images (the 8×8 digits)."""
    return MNIST_BOX if image_shape == (28, 28) else min(image_shape)


def canvas_to_digit(rgba: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray | None:
    """The drawing as a flat float32 image in [0, 1] of `image_shape`, or None if blank.

    Crop to the ink's bounding box, resize (area average, aspect kept) so the longer side fills
    the box, place it in the middle of the field, for MNIST shift it (whole pixels) so its centre
    of mass is at `field_centre`, and scale so the darkest pixel is 1 (every MNIST digit reaches
    255).
    """
    ink = canvas_ink(rgba)
    rows, cols = np.nonzero(ink > INK_THRESHOLD)
    if rows.size == 0:
        return None
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = crop.shape
    box = box_size(image_shape)
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL takes (width, height)
    small = np.asarray(
        Image.fromarray(crop.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX)
    )
    field = np.zeros(image_shape, dtype=np.float64)
    top, left = (image_shape[0] - size[1]) // 2, (image_shape[1] - size[0]) // 2
    field[top : top + size[1], left : left + size[0]] = small
    if field.max() <= 0:
        return None
    centre = field_centre(image_shape)
    if centre is not None:
        offset = centre - np.array(ndimage.center_of_mass(field))
        shift = np.floor(offset + 0.5).astype(int)  # whole pixels, halves rounded up
        field = ndimage.shift(field, shift, order=0, mode="constant", cval=0.0)
    field = np.clip(field / field.max(), 0.0, 1.0)
    return field.astype(np.float32).reshape(-1)


def pixel_nll(likelihood: Likelihood, output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """−log p(x_d | z) per pixel in nats, (B, D): the terms whose sum is the reconstruction loss.

    Uses the family's elementwise distribution without x, so a calibrated (gaussian-optimal)
    decoder reads its running σ instead of fitting σ to this one image.
    """
    return -likelihood.base(output).log_prob(x)


@dataclass(frozen=True)
class DrawnDigit:
    x: np.ndarray  # (D,) the preprocessed drawing
    z: np.ndarray  # (L,) posterior mean μ(x)
    mean: np.ndarray  # (D,) decoder mean E[x | z] at z = μ(x)
    sample: np.ndarray  # (D,) one draw from p(x | z)
    nll: np.ndarray  # (D,) −log p(x_d | z) per pixel, nats

    @property
    def total_nll(self) -> float:
        return float(self.nll.sum())


@torch.no_grad()
def encode(model: VAE, likelihood: Likelihood, x: np.ndarray, seed: int = 0) -> DrawnDigit:
    """What the model does with one image x: z = μ(x), and p(x | z) there."""
    batch = torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(1, -1)
    if batch.shape[1] != model.config.data_dim:
        raise ValueError(f"the model takes {model.config.data_dim} pixels, got {batch.shape[1]}")
    mu, _ = model.encode(batch)
    output = model.decode(mu)
    sample = likelihood.sample(output, torch.Generator().manual_seed(seed))
    return DrawnDigit(
        x=batch[0].numpy(),
        z=mu[0].numpy(),
        mean=likelihood.mean(output)[0].numpy(),
        sample=sample[0].numpy(),
        nll=pixel_nll(likelihood, output, batch)[0].numpy(),
    )
