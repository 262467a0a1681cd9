"""The server's own start-up makes no outside request (the browser side is in
tests/test_browser_navigation.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit import config, net_util
from streamlit.web import bootstrap

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def project_config(monkeypatch):
    """Streamlit's options as `streamlit run` reads them from the project's .streamlit/."""
    monkeypatch.chdir(ROOT)
    config.get_config_options(force_reparse=True)
    yield
    os.chdir(ROOT)
    config.get_config_options(force_reparse=True)


def test_start_up_banner_does_not_look_up_the_external_ip(project_config, monkeypatch):
    """With server.headless and no address set, Streamlit asks checkip.amazonaws.com for the
    machine's external IP to print an "External URL"; the project's config must prevent it."""
    lookups = []
    monkeypatch.setattr(net_util, "get_external_ip", lambda: lookups.append(1))
    assert config.get_option("server.headless") is True  # the case that triggers the lookup
    assert not config.is_manually_set("server.address"), "the README's default: all interfaces"
    bootstrap._print_url(False)
    assert lookups == []
