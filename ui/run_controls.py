"""The run-control row and the live-view timing shared by the pages that train in the background
(the lab and the race): Pause/Start, Reset, Pin and a CSV download, a heartbeat that redraws the
buttons when training stopped by itself, and fragment timers that tick only while training.

`session` is a LabSession or a RaceSession (ui/live_session.py)."""

from __future__ import annotations

import streamlit as st

from models.data import DataError


def run_buttons(
    session,
    buttons: list,
    *,
    prefix: str,
    start_label: str,
    start_key: str,
    pin_label: str,
    csv_label: str,
    csv_data,
    csv_file_name: str,
    start_disabled: bool = False,
) -> None:
    """Pause / start, reset, pin and a CSV download in `buttons[0:4]` (columns). Records whether
    the buttons were drawn while training, for `heartbeat`. A data set that cannot be loaded
    stops the page with the reason."""
    st.session_state[f"{prefix}_drawn_running"] = session.running
    try:
        if session.running:
            if buttons[0].button(
                "Pause", icon=":material/pause:", key=f"{prefix}_pause", type="primary"
            ):
                session.pause()
                st.rerun()
        elif buttons[0].button(
            start_label,
            icon=":material/play_arrow:",
            key=start_key,
            type="primary",
            disabled=start_disabled,
        ):
            session.start()
            st.rerun()
        if buttons[1].button("Reset", icon=":material/restart_alt:", key=f"{prefix}_reset"):
            session.reset()
            st.rerun()
    except DataError as error:
        st.error(f"Cannot load the data set: {error}")
        st.stop()
    if buttons[2].button(
        pin_label, icon=":material/push_pin:", key=f"{prefix}_pin", disabled=session.trainer is None
    ):
        session.pin()
    buttons[3].download_button(
        csv_label,
        data=csv_data,
        file_name=csv_file_name,
        mime="text/csv",
        icon=":material/download:",
        key=f"{prefix}_csv",
        on_click="ignore",
        disabled=session.trainer is None,
    )


def heartbeat(session, prefix: str) -> None:
    """Tell the background worker the tab is open; if training stopped by itself (finished, or a
    non-finite loss) since the buttons were drawn, rerun the page to redraw them."""
    session.heartbeat()
    if st.session_state.get(f"{prefix}_drawn_running") and not session.running:
        st.rerun()


def while_training(session, seconds: float) -> float | None:
    """A fragment's `run_every`: tick every `seconds` while training, not at all otherwise."""
    return seconds if session.running else None
