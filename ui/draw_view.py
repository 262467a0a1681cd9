"""Draw a digit beside the lab's latent space: a canvas, and what this session's current model
does with the drawing (its input, decoder mean, a sample of p(x|z), its latent point and where
the reconstruction loss comes from, pixel by pixel).

The canvas is streamlit-drawable-canvas (a components-v2 element: a plain <canvas> in the page,
no iframe); preprocessing and encoding are pure (models/drawn_digit.py), the figures too
(figures/draw_plots.py). The model is read under the session's lock, like the lab's other views.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from figures.draw_plots import add_drawn_point, pixel_nll_heatmap
from figures.images import grid_png
from models.drawn_digit import DrawnDigit, canvas_to_digit, encode
from ui.lab_session import LabSession

CANVAS_PIXELS = 224  # 8 canvas pixels per MNIST pixel
STROKE_PIXELS = 18  # a 160-pixel-tall digit scaled into the 20-pixel box: ~2 px strokes, as MNIST


def encode_drawing(session: LabSession, x: np.ndarray) -> DrawnDigit | None:
    """The drawing through the session's current model (None before the first start)."""
    with session.holding_model() as trainer:
        if trainer is None or trainer.config.data_dim != x.size:
            return None
        return encode(trainer.model, trainer.likelihood, x)


def drawing_panel(session: LabSession, key: str = "lab_canvas") -> DrawnDigit | None:
    """The canvas and the drawing's pictures; returns the encoded drawing (None if blank)."""
    # Imported here: the component registers itself with a running Streamlit, so a module-level
    # import would make this module unimportable outside one (unit tests of encode_drawing).
    from streamlit_drawable_canvas import st_canvas

    shape = session.data.image_shape
    st.markdown("**Draw a digit**")
    result = st_canvas(
        stroke_width=STROKE_PIXELS,
        stroke_color="#FFFFFF",
        background_color="#000000",
        height=CANVAS_PIXELS,
        width=CANVAS_PIXELS,
        drawing_mode="freedraw",
        update_streamlit=True,
        return_image_data=True,
        key=key,
    )
    image = result.image_data
    x = None if image is None else canvas_to_digit(image, shape)
    drawn = None if x is None else encode_drawing(session, x)
    if drawn is None:
        how = "a 20×20 box in 28×28, centred by its centre of mass" if shape == (28, 28) else "8×8"
        st.caption(f"Your drawing is resized as the data set's digits were ({how}) and encoded.")
        return None
    st.image(
        grid_png([[drawn.x, drawn.mean, drawn.sample]], shape, scale=max(1, 112 // shape[0])),
        caption="as input | decoder mean | a sample of p(x|z)",
        width="stretch",
    )
    st.plotly_chart(pixel_nll_heatmap(drawn.nll, shape), key=f"{key}_nll", theme=None)
    st.caption(
        "Each pixel's share of the reconstruction loss under the current likelihood: their sum is "
        "−log p(x|z) at z = μ(x), the term the ELBO averages over q(z|x)."
    )
    return drawn


def mark_drawing(fig: go.Figure, codes: np.ndarray, drawn: DrawnDigit | None) -> go.Figure:
    """Add the drawing's posterior mean to the latent scatter of `codes`, if there is one."""
    if drawn is not None and len(codes) and drawn.z.size == codes.shape[1]:
        add_drawn_point(fig, codes, drawn.z)
    return fig
