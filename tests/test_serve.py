"""scripts/serve.sh in a real browser: two replicas behind HAProxy on loopback ports.

Two browser contexts land on different replicas (the affinity cookie and the X-Replica header
agree), both train at once (each in its own replica process), and their images and downloads load
through the balancer. The same image or download URL asked for with the other replica's cookie is
a 404: the session's media live in one process only, which is what affinity is for. A file upload
(Streamlit's XSRF-checked PUT) through the balancer reaches its session, and is refused by the other
replica. Also: Ctrl-C stops every process the script started, and a taken port is refused before
anything starts.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.browser_helpers import cpu_seconds, error_texts, wait_for_steps, wait_until_idle
from tests.conftest import ROOT
from tests.process_helpers import cmdline, descendants, port_free
from ui.pages import LAB

pytestmark = pytest.mark.browser

SERVE = ROOT / "scripts" / "serve.sh"
READY = "serve.sh: serving"
IMAGE = '[data-testid="stImage"] img'


def free_ports(count: int) -> list[int]:
    """`count` consecutive free loopback ports (serve.sh numbers replicas B, B+1, ...)."""
    for _ in range(200):
        first = random.randrange(20_000, 60_000)
        ports = list(range(first, first + count))
        if all(port_free(p) for p in ports):
            return ports
    raise RuntimeError("no run of free loopback ports found")


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Served:
    """A running `scripts/serve.sh` and the processes it started."""

    def __init__(self, replicas: int, log_dir: Path):
        self.public_port, *self.replica_ports = free_ports(replicas + 1)
        self.url = f"http://127.0.0.1:{self.public_port}"
        self.output = log_dir / f"serve-{self.public_port}.out"
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.output, "w") as out:
            self.process = subprocess.Popen(
                [
                    "bash",
                    str(SERVE),
                    "--replicas",
                    str(replicas),
                    "--port",
                    str(self.public_port),
                    "--replica-port",
                    str(self.replica_ports[0]),
                    "--address",
                    "127.0.0.1",
                    "--log-dir",
                    str(log_dir / f"serve-{self.public_port}"),
                ],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHON": sys.executable},
            )
        self.children: set[int] = set()

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_ready(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while READY not in self.text():
            self.children |= descendants(self.process.pid)
            if self.process.poll() is not None:
                raise RuntimeError(f"serve.sh exited early:\n{self.text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve.sh not ready after {timeout} s:\n{self.text()}")
            time.sleep(0.5)
        self.children |= descendants(self.process.pid)

    def replica_pid(self, port: int) -> int:
        return next(p for p in self.children if f"--server.port {port} " in cmdline(p) + " ")

    def stop(self, sig: int = signal.SIGINT) -> int | None:
        """Send `sig` (Ctrl-C by default) and wait; kill whatever is left regardless."""
        self.children |= descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            code = None
        for pid in self.children | {self.process.pid}:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()
        return code


@pytest.fixture(scope="module")
def served(request, artifacts_dir):
    serve = Served(2, artifacts_dir)
    request.addfinalizer(serve.stop)
    serve.wait_ready()
    return serve


def warm(browser, url: str) -> None:
    """Open "/" once on a fresh replica (see tests/conftest.py app_url: the first run of a fresh
    server must not be a deep link)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url, wait_until="domcontentloaded")
        wait_until_idle(page)
    finally:
        context.close()


def get(url: str, cookie: str) -> tuple[int, str | None, bytes]:
    """GET with exactly this SERVERID cookie: (status, X-Replica header, body)."""
    request = urllib.request.Request(url, headers={"Cookie": f"SERVERID={cookie}"})
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with no_proxy.open(request, timeout=30) as response:
            return response.status, response.headers.get("X-Replica"), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("X-Replica"), b""


def affinity_cookie(context) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "SERVERID")


def test_two_browsers_on_two_replicas_train_and_keep_their_media(served, browser, artifacts_dir):
    for port in served.replica_ports:
        warm(browser, f"http://127.0.0.1:{port}")
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1600}) for _ in range(2)]
    try:
        pages, replicas = [], []
        for seed, context in enumerate(contexts, start=1):
            page = context.new_page()
            response = page.goto(f"{served.url}/{LAB.href}?seed={seed}", wait_until="load")
            wait_until_idle(page)
            replica = affinity_cookie(context)
            assert response.headers.get("x-replica") == replica  # cookie and header agree
            pages.append(page)
            replicas.append(replica)
        assert sorted(replicas) == ["r1", "r2"], f"both contexts on one replica: {replicas}"

        # Both train at once, each in its own replica process.
        pids = [served.replica_pid(port) for port in served.replica_ports]
        cpu_before = [cpu_seconds(pid) for pid in pids]
        for page in pages:
            page.get_by_role("button", name="Train", exact=True).click()
        for page in pages:  # generous hang guards: the machine may be busy
            wait_for_steps(page, 100, timeout_ms=240_000)
            page.wait_for_selector(IMAGE, timeout=120_000)
        busy = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]
        assert min(busy) > 0.5, f"a replica did no training work (CPU seconds {busy})"
        pages[0].screenshot(path=str(artifacts_dir / "screenshots" / "serve-lab-r1.png"))

        # Pause, so that no further picture update replaces (and frees) the media checked below.
        for page in pages:
            page.get_by_role("button", name="Pause", exact=True).click()
            wait_until_idle(page)
        for page, mine, other in zip(pages, replicas, reversed(replicas), strict=True):
            loaded = page.evaluate(
                f"[...document.querySelectorAll('{IMAGE}')]"
                ".map(i => [i.src, i.complete && i.naturalWidth > 0])"
            )
            assert loaded and all(ok for _, ok in loaded), loaded  # images loaded via HAProxy
            image_url = loaded[0][0]
            assert f"127.0.0.1:{served.public_port}/media/" in image_url
            with page.expect_download() as download_info:
                page.get_by_role("button", name="Metrics CSV").click()
            download = download_info.value
            assert download.failure() is None
            assert Path(download.path()).read_text().splitlines()[0].startswith("step")
            for url, kind in ((image_url, "image"), (download.url, "download")):
                assert get(url, mine)[:2] == (200, mine), f"{kind} not served by its replica"
                status, answered_by, _ = get(url, other)
                assert (status, answered_by) == (404, other), (
                    f"{kind} {url} with the other replica's cookie: {status} from {answered_by}"
                )
                status, _, body = get(url, mine)
                assert status == 200 and body, f"{kind} gone from its own replica"
            assert error_texts(page) == []
    finally:
        for context in contexts:
            context.close()


def upload_statuses(url: str) -> dict[str, int]:
    """Open a session through the balancer over Streamlit's WebSocket protocol (as the browser
    does: cookies from a first request, the page's Origin) and PUT a file to it three ways."""
    import requests
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    def plain() -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # loopback: never through a proxy from the environment
        return session

    http = plain()
    http.get(f"{url}/_stcore/health", timeout=30).raise_for_status()  # SERVERID + XSRF cookie
    cookies = http.cookies.get_dict()
    other = {"r1": "r2", "r2": "r1"}[cookies["SERVERID"]]
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())

    def put(cookie: dict[str, str], xsrf: bool, session_id: str) -> int:
        response = plain().put(
            f"{url}/_stcore/upload_file/{session_id}/file-1",
            files={"file": ("digits.txt", b"0 1 2 3", "text/plain")},
            headers={"X-Xsrftoken": cookies["_streamlit_xsrf"]} if xsrf else {},
            cookies=cookie,
            timeout=30,
        )
        return response.status_code

    opened = connect(  # the sync client: Playwright's sync API owns this thread's event loop
        url.replace("http://", "ws://") + "/_stcore/stream",
        subprotocols=["streamlit"],
        origin=url,
        proxy=None,
        additional_headers={"Cookie": header},
    )
    with opened as ws:
        message = BackMsg()
        message.rerun_script.query_string = ""
        ws.send(message.SerializeToString())
        session_id = ""
        while not session_id:
            forward = ForwardMsg.FromString(ws.recv(timeout=120))
            if forward.WhichOneof("type") == "new_session":
                session_id = forward.new_session.initialize.session_id
        wrong = {**cookies, "SERVERID": other}
        return {  # while the WebSocket is open, i.e. the session is alive
            "own replica": put(cookies, True, session_id),
            "no XSRF token": put(cookies, False, session_id),
            "other replica": put(wrong, True, session_id),
        }


def test_uploads_pass_xsrf_through_the_balancer_and_need_affinity(served):
    statuses = upload_statuses(served.url)
    assert statuses == {"own replica": 204, "no XSRF token": 403, "other replica": 400}


def test_a_taken_port_is_refused_before_anything_starts(served, artifacts_dir):
    taken = served.replica_ports[0]
    result = subprocess.run(
        ["bash", str(SERVE), "--replicas", "1", "--port", str(taken), "--address", "127.0.0.1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert result.returncode == 3
    assert f"port {taken} on 127.0.0.1 is already in use" in result.stderr
    assert "nothing was started" in result.stderr


def test_ctrl_c_stops_every_process_it_started(artifacts_dir):
    serve = Served(1, artifacts_dir)
    try:
        serve.wait_ready()
        started = set(serve.children)
        assert any("streamlit run" in cmdline(p) for p in started)
        assert any(cmdline(p).startswith("haproxy") for p in started)
        serve.process.send_signal(signal.SIGINT)
        assert serve.process.wait(timeout=30) == 130  # the script's own exit after its trap
        left = [cmdline(p) for p in started if alive(p)]
        assert left == [], f"still running after Ctrl-C: {left}"
        assert port_free(serve.public_port) and port_free(serve.replica_ports[0])
    finally:
        serve.stop()
