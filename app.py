"""Likelihood Lab: the router. `streamlit run app.py` serves every page through st.navigation."""

from __future__ import annotations

import streamlit as st

from ui.pages import SECTIONS
from ui.runtime import freeze_new_modules
from ui.sidebar import shared_sidebar

PAGE_ICON = "🧪"  # an emoji, drawn by the browser: a :material/ favicon is fetched from a font host
# Streamlit keeps the main view's scroll offset across a page switch, so a question card clicked
# far down the home page could open its answer page scrolled past the "You asked" box. A fixed
# script (no user text in it) scrolls the new page to its top, once per switch.
SCROLL_TO_TOP = """<script>
requestAnimationFrame(() => {{
  const main = document.querySelector('[data-testid="stMain"]');
  if (main) main.scrollTo({{ top: 0 }});
}});
</script><span hidden data-page="{page}"></span>"""


def scroll_to_top_after_a_page_switch(url_path: str) -> None:
    previous = st.session_state.get("router_page")
    st.session_state.router_page = url_path
    if previous is not None and previous != url_path:
        st.html(SCROLL_TO_TOP.format(page=url_path), unsafe_allow_javascript=True)


def main() -> None:
    st.set_page_config(
        page_title="Likelihood Lab",
        page_icon=PAGE_ICON,
        layout="wide",
        initial_sidebar_state="expanded",
    )
    navigation = st.navigation(
        {section: [page.to_streamlit() for page in pages] for section, pages in SECTIONS.items()}
    )
    scroll_to_top_after_a_page_switch(navigation.url_path)
    try:
        navigation.run()
    finally:
        # Below the page's own sidebar widgets, so the lab's controls sit right under the menu
        # (drawn even when a page stops early with st.stop()).
        shared_sidebar()
    freeze_new_modules()


if __name__ == "__main__":
    main()
