"""The same N lab sessions trained by one Streamlit process and by R replicas behind HAProxy.

    python bench/bench_serve.py [--sessions 8] [--replicas 2] [--seconds 20] [--rounds 1]

One run measures both set-ups, in turns (single process, then `scripts/serve.sh --replicas R`;
--rounds repeats the pair), so that outside load falls on both alike:

single   one `streamlit run app.py` (tests.conftest.start_streamlit); the clients connect to it.
replicas `scripts/serve.sh --replicas R` on loopback ports; the clients connect to HAProxy, which
         spreads them (balance leastconn) and keeps each on its replica (cookie SERVERID).

The clients are not browsers. On 2 cores, 8 chromium tabs take more CPU than the servers they
measure (bench/README.md: ~150 % of the machine), and 2 replicas need both cores. Each simulated
visitor is instead a WebSocket client speaking Streamlit's own protocol (the protobuf BackMsg /
ForwardMsg that the browser's frontend exchanges; `websockets` is a Streamlit dependency), all
in this one asyncio process: it GETs the lab page (receiving the affinity and XSRF cookies as a
browser does), opens /_stcore/stream with those cookies and the page's Origin, asks for the lab
with ?seed=k, presses Train (a trigger widget state), then does what the frontend does with the
lab's three `st.fragment(run_every=...)` views: on each AutoRerun message it re-requests that
fragment every `interval` seconds, unconditionally, with is_auto_rerun set, until a
StopAutoRerun. It fetches every image (/media/...) the page shows, once, as the browser would.
It does not render anything; its own CPU time is reported ("client CPU %").

Per set-up, over a --seconds window after every session has trained --warmup seconds:

steps/s      per session: advance of the lab's step counter (the ticker's "**step 1,234**"
             text, received every 0.3 s) between its last readings before the window's start
             and end, over the time between those readings; "total" is the sum over sessions.
update p95   the lab's own server-side timing of its live-fragment runs (the caption "update p50
             X ms, p95 Y ms" over the last K runs, as in bench_lab_sessions.py), read at the end
             of the window; the worst session. Target: < 300 ms.
tick p95     client side: gaps between consecutive step-counter updates received (cadence; the
             floor is the ticker's 300 ms), pooled over sessions.
server CPU   all replica processes (or the one server) together, in % of one core; "steps/CPU s"
             is total steps per second of that CPU time (less sensitive to other load than
             steps/s: it says whether a gain came from more CPU or from less work); "client CPU"
             is this process; "machine busy" is the whole machine (/proc/stat), in % of all cores.

Target from issue 13: R = 2 replicas give at least 1.7x the single process's total steps/s with
8 sessions, and update p95 < 300 ms. Not part of the test suite; run from the repository root on
a quiet machine. The last line of output is the results as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402 - after the sys.path line
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from bench.bench_lab_sessions import CAPTION, machine_busy  # noqa: E402
from tests.browser_helpers import cpu_seconds  # noqa: E402
from tests.conftest import ARTIFACTS, _free_port, start_streamlit  # noqa: E402
from tests.process_helpers import descendants, port_free  # noqa: E402
from ui.pages import LAB  # noqa: E402

TARGET_SPEEDUP = 1.7  # R replicas' total steps/s over the single process's, with 8 sessions
TARGET_P95_MS = 300.0
STEP = re.compile(r"\*\*step ([\d,]+)\*\*")
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, cookies: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
    try:
        with NO_PROXY.open(urllib.request.Request(url, headers=headers), timeout=60) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), b""


def set_cookies(raw_headers) -> dict[str, str]:
    """name -> value of each Set-Cookie header."""
    found = {}
    for name, value in raw_headers:
        if name.lower() == "set-cookie":
            key, _, rest = value.partition("=")
            found[key.strip()] = rest.split(";", 1)[0]
    return found


@dataclass
class LabClient:
    """One simulated visitor: the lab page over Streamlit's WebSocket protocol."""

    base: str  # http://host:port
    seed: int
    fetch_media: bool = True
    cookies: dict[str, str] = field(default_factory=dict)
    replica: str = "-"
    steps: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, step)
    caption: str = ""
    problems: list[str] = field(default_factory=list)
    media_fetched: int = 0
    media_failed: int = 0
    dataset: str | None = None  # None: the lab's default data set

    def __post_init__(self):
        self.query = f"seed={self.seed}" + (f"&dataset={self.dataset}" if self.dataset else "")
        self.page_hash = ""
        self.train_id: str | None = None
        self.timers: dict[str, asyncio.Task] = {}
        self.intervals: dict[str, float] = {}
        self.seen_media: set[str] = set()
        self.tasks: set[asyncio.Task] = set()

    async def open(self, page_name: str = LAB.href, query: str | None = None) -> None:
        """The page GET (cookies, as a browser receives them), then the WebSocket and a run."""
        url = f"{self.base}/{page_name}" + (f"?{query or self.query}" if page_name else "")
        request = urllib.request.Request(url)
        if self.cookies:
            request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        response = await asyncio.to_thread(NO_PROXY.open, request, timeout=60)
        self.cookies.update(set_cookies(response.headers.items()))
        self.replica = response.headers.get("X-Replica") or self.cookies.get("SERVERID", "-")
        response.close()
        ws_url = self.base.replace("http://", "ws://") + "/_stcore/stream"
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.ws = await connect(
            ws_url,
            subprotocols=["streamlit"],
            origin=self.base,
            additional_headers={"Cookie": cookie} if cookie else None,
            max_size=None,
            proxy=None,
            compression=None,
        )
        self.reader = asyncio.create_task(self._read())
        await self.rerun(page_name=page_name, query=query or (self.query if page_name else ""))

    async def rerun(
        self,
        fragment_id: str = "",
        trigger: str | None = None,
        page_name: str = "",
        query: str | None = None,
    ) -> None:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query if query is None else query
        state.page_name = page_name
        state.page_script_hash = "" if page_name else self.page_hash
        if fragment_id:
            state.fragment_id = fragment_id
            state.is_auto_rerun = True
        if trigger:
            state.widget_states.widgets.append(WidgetState(id=trigger, trigger_value=True))
        await self.ws.send(message.SerializeToString())

    async def press_train(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.train_id is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"session {self.seed}: no Train button within {timeout} s")
            await asyncio.sleep(0.1)
        await self.rerun(trigger=self.train_id)

    async def _every(self, fragment_id: str, interval: float) -> None:
        while True:  # as the frontend: setInterval(rerun fragment, interval), no waiting
            await asyncio.sleep(interval)
            await self.rerun(fragment_id=fragment_id)

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                self._handle(ForwardMsg.FromString(data))
        except Exception as error:  # a closed socket at the end is expected
            if not getattr(self, "closing", False):
                self.problems.append(f"{type(error).__name__}: {error}")

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "navigation":  # st.navigation names the page this run showed
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            rerun = msg.auto_rerun
            if self.intervals.get(rerun.fragment_id) == rerun.interval:
                return  # as the frontend: the same timer keeps running
            self.intervals[rerun.fragment_id] = rerun.interval
            old = self.timers.pop(rerun.fragment_id, None)
            if old is not None:
                old.cancel()
            self.timers[rerun.fragment_id] = asyncio.create_task(
                self._every(rerun.fragment_id, rerun.interval)
            )
        elif kind == "stop_auto_rerun":
            for fragment_id in msg.stop_auto_rerun.fragment_ids:
                self.intervals.pop(fragment_id, None)
                timer = self.timers.pop(fragment_id, None)
                if timer is not None:
                    timer.cancel()
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._element(msg.delta.new_element)

    def _element(self, element) -> None:
        kind = element.WhichOneof("type")
        if kind == "button" and element.button.label in ("Train", "Resume"):
            self.train_id = element.button.id
        elif kind == "markdown":
            body = element.markdown.body
            if match := STEP.search(body):
                self.steps.append((time.monotonic(), int(match.group(1).replace(",", ""))))
            elif CAPTION.search(body):
                self.caption = body
        elif kind == "exception":
            self.problems.append(f"exception: {element.exception.message[:200]}")
        elif kind == "alert" and element.alert.body.startswith("Training paused:"):
            self.problems.append(element.alert.body[:200])
        elif kind == "imgs" and self.fetch_media:
            for image in element.imgs.imgs:
                if image.url.startswith("/media/") and image.url not in self.seen_media:
                    self.seen_media.add(image.url)
                    task = asyncio.create_task(self._fetch(image.url))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)

    async def _fetch(self, path: str) -> None:
        status, _, _ = await asyncio.to_thread(http_get, self.base + path, self.cookies)
        if status == 200:
            self.media_fetched += 1
        else:  # a picture replaced before we asked is freed by the server: not our concern
            self.media_failed += 1

    def step_at(self, moment: float) -> tuple[float, int] | None:
        earlier = [s for s in self.steps if s[0] <= moment]
        return earlier[-1] if earlier else None

    async def close(self) -> None:
        self.closing = True
        for timer in self.timers.values():
            timer.cancel()
        await self.ws.close()
        self.reader.cancel()


class ServeScript:
    """`scripts/serve.sh --replicas R` on free loopback ports; Ctrl-C (SIGINT) to stop."""

    def __init__(self, replicas: int):
        for _ in range(100):
            public = _free_port()
            first = public + 1
            if all(port_free(p) for p in range(first, first + replicas)):
                break
        self.url = f"http://127.0.0.1:{public}"
        self.log_dir = ARTIFACTS / f"bench-serve-{public}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.output = self.log_dir / "serve.out"
        with open(self.output, "w") as out:
            self.process = subprocess.Popen(
                [
                    *("bash", "scripts/serve.sh", "--replicas", str(replicas)),
                    *("--port", str(public), "--replica-port", str(first)),
                    *("--address", "127.0.0.1", "--log-dir", str(self.log_dir)),
                ],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHON": sys.executable},
            )
        deadline = time.monotonic() + 300
        while "serve.sh: serving" not in self.output.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve.sh did not start:\n{self.output.read_text()}")
            time.sleep(0.5)
        self.replica_pids = [
            pid
            for pid in descendants(self.process.pid)
            if b"streamlit" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]

    def stop(self) -> None:
        children = descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def cpu_of(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


async def warm(base: str, replicas: int) -> None:
    """Open "/" once per replica, so no measured session pays for importing torch, SymPy and
    Plotly; through HAProxy, pick each replica with its cookie."""
    names = [f"r{k}" for k in range(1, replicas + 1)] if replicas else [None]
    for name in names:
        client = LabClient(base, 0, cookies={"SERVERID": name} if name else {})
        await client.open(page_name="", query="")
        await asyncio.sleep(3.0)
        await client.close()


async def measure(base: str, server_pids: list[int], replicas: int, a) -> dict:
    await warm(base, replicas)
    clients = [
        LabClient(base, seed, fetch_media=not a.no_media, dataset=a.dataset)
        for seed in range(1, a.sessions + 1)
    ]
    result: dict = {}
    try:
        for client in clients:  # one after another, as visitors arrive
            await client.open()
        await asyncio.gather(*(c.press_train() for c in clients))
        deadline = time.monotonic() + 180
        while not all(c.steps and c.steps[-1][1] > 0 for c in clients):
            if time.monotonic() > deadline:
                raise RuntimeError("not every session started training within 180 s")
            await asyncio.sleep(0.2)
        await asyncio.sleep(a.warmup)
        t0, cpu0, me0, busy0 = (
            time.monotonic(),
            cpu_of(server_pids),
            time.process_time(),
            machine_busy(),
        )
        await asyncio.sleep(a.seconds)
        t1, cpu1, me1, busy1 = (
            time.monotonic(),
            cpu_of(server_pids),
            time.process_time(),
            machine_busy(),
        )
        await asyncio.sleep(0.5)  # the readings just after the window's end have arrived
        rates, p95s, p50s, counted, gaps = [], [], [], [], []
        for client in clients:
            start, end = client.step_at(t0), client.step_at(t1)
            if start is None or end is None or end[0] <= start[0]:
                rates.append(0.0)
            else:
                rates.append((end[1] - start[1]) / (end[0] - start[0]))
            times = [t for t, _ in client.steps if t0 <= t <= t1]
            gaps += list(np.diff(times) * 1000.0)
            if (match := CAPTION.search(client.caption)) and match.group(2):
                counted.append(int(match.group(1)))
                p50s.append(float(match.group(2)))
                p95s.append(float(match.group(3)))
        wall = t1 - t0
        result = {
            "rates": rates,
            "total": sum(rates),
            "per_replica_sessions": {
                r: sum(c.replica == r for c in clients)
                for r in sorted({c.replica for c in clients})
            },
            "server_p50_ms": max(p50s) if p50s else None,
            "server_p95_ms": max(p95s) if p95s else None,
            "server_p95_each_ms": p95s,
            "server_updates_counted": counted,
            "tick_p50_ms": float(np.percentile(gaps, 50)) if gaps else None,
            "tick_p95_ms": float(np.percentile(gaps, 95)) if gaps else None,
            "server_cpu_percent": 100.0 * (cpu1 - cpu0) / wall,
            "steps_per_cpu_second": sum(rates) * wall / max(1e-9, cpu1 - cpu0),
            "client_cpu_percent": 100.0 * (me1 - me0) / wall,
            "machine_busy_percent": 100.0 * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
            "media_fetched": sum(c.media_fetched for c in clients),
            "media_failed": sum(c.media_failed for c in clients),
            "window_s": wall,
        }
    finally:
        problems = {c.seed: c.problems for c in clients if c.problems}
        result["problems"] = problems
        for client in clients:
            if hasattr(client, "ws"):
                await client.close()
    await asyncio.sleep(a.settle)
    cpu0, wall0 = cpu_of(server_pids), time.monotonic()
    await asyncio.sleep(3.0)
    result["idle_cpu_percent"] = 100.0 * (cpu_of(server_pids) - cpu0) / (time.monotonic() - wall0)
    return result


def run_single(a) -> dict:
    server, url = start_streamlit()
    try:
        result = asyncio.run(measure(url, [server.pid], 0, a))
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    return {"setup": "single", "processes": 1, **result}


def run_replicas(a) -> dict:
    serve = ServeScript(a.replicas)
    try:
        result = asyncio.run(measure(serve.url, serve.replica_pids, a.replicas, a))
    finally:
        serve.stop()
    return {"setup": f"{a.replicas} replicas + haproxy", "processes": a.replicas, **result}


def fmt(value, spec=".0f") -> str:
    return "-" if value is None else format(value, spec)


def report(results: list[dict], a) -> None:
    head = (
        f"{'set-up':<22} | {'steps/s per session':^23} | {'total':>7} | {'update ms':^15} | "
        f"{'tick ms':^13} | {'server':>6} {'steps/':>7} {'client':>6} {'machine':>7} | sessions"
    )
    sub = (
        f"{'':<22} | {'mean':>7} {'min':>7} {'max':>7} | {'steps/s':>7} | {'p50':>7} {'p95':>7} | "
        f"{'p50':>6} {'p95':>6} | {'CPU %':>6} {'CPU s':>7} {'CPU %':>6} {'busy %':>7} | "
        "per replica"
    )
    print()
    print(head)
    print(sub)
    print("-" * len(sub))
    for r in results:
        if "total" not in r:
            print(f"{r['setup']:<22} | failed: {r.get('error')}")
            continue
        rates = r["rates"]
        spread = " ".join(f"{k}:{v}" for k, v in r["per_replica_sessions"].items())
        print(
            f"{r['setup']:<22} | {np.mean(rates):7.0f} {min(rates):7.0f} {max(rates):7.0f} | "
            f"{r['total']:7.0f} | {fmt(r['server_p50_ms']):>7} {fmt(r['server_p95_ms']):>7} | "
            f"{fmt(r['tick_p50_ms']):>6} {fmt(r['tick_p95_ms']):>6} | "
            f"{r['server_cpu_percent']:6.0f} {r['steps_per_cpu_second']:7.0f} "
            f"{r['client_cpu_percent']:6.0f} "
            f"{r['machine_busy_percent']:7.0f} | {spread}"
        )
    print()
    print(f"{a.sessions} sessions, {a.seconds:g} s window after {a.warmup:g} s of training.")
    print("Clients: Streamlit-protocol WebSocket clients in one Python process (no browser).")
    for r in results:
        if "total" in r:
            print(
                f"{r['setup']}: after closing, server CPU {r['idle_cpu_percent']:.1f} % of a "
                f"core; images fetched {r['media_fetched']} (not found: {r['media_failed']})"
            )
        for seed, found in r.get("problems", {}).items():
            for text in found:
                print(f"  session {seed} ({r['setup']}): {text}")
    singles = [r["total"] for r in results if r["processes"] == 1 and "total" in r]
    many = [r for r in results if r["processes"] > 1 and "total" in r]
    if singles and many:
        speedup = np.mean([r["total"] for r in many]) / np.mean(singles)
        measured = [r["server_p95_ms"] for r in many if r["server_p95_ms"] is not None]
        p95 = max(measured) if len(measured) == len(many) else None
        ok = "met" if speedup >= TARGET_SPEEDUP else "NOT met"
        print(
            f"Target, throughput: {a.replicas} replicas give {speedup:.2f}x the single process's "
            f"total steps/s (target >= {TARGET_SPEEDUP:g}x): {ok}"
        )
        if p95 is None:
            print("Target, updates: NOT measured (the lab's update-time readout was not read)")
        else:
            ok = "met" if p95 < TARGET_P95_MS else "NOT met"
            print(
                f"Target, updates: worst server-side p95 with replicas {p95:.0f} ms "
                f"(target < {TARGET_P95_MS:.0f} ms): {ok}"
            )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sessions", type=int, default=8, help="simulated visitors training at once")
    p.add_argument("--replicas", type=int, default=2, help="replicas behind HAProxy")
    p.add_argument("--seconds", type=float, default=20.0, help="measured window per set-up")
    p.add_argument("--warmup", type=float, default=5.0, help="training before the window")
    p.add_argument("--settle", type=float, default=5.0, help="pause after closing the sessions")
    p.add_argument("--rounds", type=int, default=1, help="repeat single / replicas this often")
    p.add_argument("--no-media", action="store_true", help="do not fetch the /media/ images")
    p.add_argument("--dataset", default=None, help="the lab's data set (default: the lab's own)")
    a = p.parse_args(argv)
    ARTIFACTS.mkdir(exist_ok=True)
    results = []
    for round_ in range(a.rounds):
        for run in (run_single, run_replicas):
            name = "single process" if run is run_single else f"{a.replicas} replicas"
            print(f"round {round_ + 1}: {name}, {a.sessions} sessions ...", flush=True)
            try:
                results.append(run(a))
            except Exception as error:  # report and carry on with the other set-up
                setup = "single" if run is run_single else f"{a.replicas} replicas + haproxy"
                results.append(
                    {"setup": setup, "processes": 1 if run is run_single else a.replicas}
                    | {"error": f"{type(error).__name__}: {error}".splitlines()[0]}
                )
    report(results, a)
    print(json.dumps({"benchmark": "serve", **vars(a), "results": results}))


if __name__ == "__main__":
    main()
