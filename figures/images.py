"""Image grids as PNG bytes (the lab sends pictures as PNG, not as chart data)."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] (a Gaussian sample can leave it) and map to 0..255."""
    return (np.clip(np.nan_to_num(image, nan=0.0), 0.0, 1.0) * 255).round().astype(np.uint8)


def tile(rows: list[list[np.ndarray]], image_shape: tuple[int, int], pad: int = 1) -> np.ndarray:
    """Tile a ragged-free grid of flat images (each of size H·W) into one array with white gaps."""
    h, w = image_shape
    n_rows = len(rows)
    n_cols = max((len(r) for r in rows), default=0)
    canvas = np.ones((n_rows * (h + pad) + pad, n_cols * (w + pad) + pad))
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            top, left = pad + r * (h + pad), pad + c * (w + pad)
            canvas[top : top + h, left : left + w] = np.asarray(image).reshape(h, w)
    return canvas


def grid_png(
    rows: list[list[np.ndarray]],
    image_shape: tuple[int, int],
    scale: int = 6,
    pad: int = 1,
    width: int | None = None,
) -> bytes:
    """PNG bytes of the tiled grid, upscaled with nearest neighbour so 8×8 digits stay crisp.

    width: the width the page shows it at. The PNG is then made exactly that wide (up by whole
    pixels to at least `width`, then smoothly down), so Streamlit sends it as it is; a wider one
    it decodes, shrinks and re-encodes on the server, on every redraw of a live view."""
    canvas = to_uint8(tile(rows, image_shape, pad))
    picture = Image.fromarray(canvas, mode="L")
    if width is not None:
        scale = max(1, math.ceil(width / picture.width))
    picture = picture.resize(
        (picture.width * scale, picture.height * scale), Image.Resampling.NEAREST
    )
    if width is not None and picture.width != width:
        height = max(1, round(picture.height * width / picture.width))
        picture = picture.resize((width, height), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
