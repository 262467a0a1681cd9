"""Shared fixtures: a real `streamlit run` server and headless Debian chromium (browser tests)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not become healthy at {url} within {timeout} s")


def start_streamlit(extra_args: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(ARTIFACTS / f"streamlit-{port}.log", "w")  # noqa: SIM115 - closed with process
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            *extra_args,
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        _wait_healthy(url, process)
    except Exception:
        process.kill()
        raise
    return process, url


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def streamlit_process(artifacts_dir):
    process, url = start_streamlit()
    process.url = url
    yield process
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def streamlit_server(streamlit_process) -> str:
    return streamlit_process.url


@pytest.fixture(scope="session")
def app_url(streamlit_server, browser):
    """The served app after its first visitor has opened "/", so the first test's timing does not
    include importing torch, SymPy and Plotly. (A first visitor on a deep link is fine too:
    test_first_deep_link_after_start_renders_through_the_router.)
    """
    from tests.browser_helpers import wait_until_idle

    context = browser.new_context()
    page = context.new_page()
    page.goto(streamlit_server, wait_until="domcontentloaded")
    wait_until_idle(page)
    context.close()
    return streamlit_server


@pytest.fixture(scope="session")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian chromium is not installed: run scripts/test.sh, which installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
        )
        yield instance
        instance.close()
