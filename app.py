"""Likelihood Lab: the router. `streamlit run app.py` serves every page through st.navigation."""

from __future__ import annotations

import streamlit as st

from ui.pages import SECTIONS
from ui.runtime import freeze_new_modules
from ui.sidebar import shared_sidebar


def main() -> None:
    st.set_page_config(
        page_title="Likelihood Lab",
        page_icon=":material/functions:",
        layout="wide",
        initial_sidebar_state="expanded",
    )
    navigation = st.navigation(
        {section: [page.to_streamlit() for page in pages] for section, pages in SECTIONS.items()}
    )
    shared_sidebar()
    navigation.run()
    freeze_new_modules()


if __name__ == "__main__":
    main()
