"""The sidebar every page shares; created once by the router."""

from __future__ import annotations

import streamlit as st

NOTATION = r"""
**Notation used on every page**

- $x$: one data vector (an image), $D$ pixels $x_1 \dots x_D$
- $\mu$: the decoder's output, $\mu = f_\theta(z)$, the mean it predicts for $x$
- $\sigma$: the decoder's noise scale (fixed unless a page says learned)
- $z$: the latent code, $J$ dimensions; $q(z\mid x)$ the encoder, $p(z)=\mathcal N(0, I)$
- "constant" always means *free of the parameters being trained*
"""


def shared_sidebar() -> None:
    with st.sidebar:
        st.caption("Likelihood Lab: why a VAE's reconstruction loss is what it is.")
        with st.expander("Notation", expanded=False):
            st.markdown(NOTATION)
