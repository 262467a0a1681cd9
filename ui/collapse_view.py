"""Cached data for the posterior-collapse page: eigen-decompositions of each data set."""

from __future__ import annotations

import numpy as np
import streamlit as st

from derivations.linear_vae import data_eigen
from ui.lab_session import cached_dataset

# The page's data-set choice: the 8×8 digits (fast), or real 28×28 MNIST digits (mnist-5k).
COLLAPSE_DATA = {"digits": "8×8 digits", "mnist-5k": "MNIST 28×28 (5,000 digits)"}


@st.cache_data(show_spinner="Computing the data covariance's eigenvalues…", max_entries=4)
def dataset_eigen(name: str, folder: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors of the train split's covariance."""
    return data_eigen(cached_dataset(name, folder).train.numpy().astype(np.float64))


def column_images(columns: np.ndarray) -> list[np.ndarray]:
    """Decoder columns scaled into [0, 1] for display (grey = 0, dark/light = sign)."""
    scale = float(np.abs(columns).max()) or 1.0
    return [0.5 + 0.5 * columns[:, i] / scale for i in range(columns.shape[1])]
