"""N browser sessions training at once in the live lab: steps per second and update times.

    python bench/bench_lab_sessions.py [--sessions 1 4 8] [--seconds 20] [--warmup 3]

One `streamlit run` server (tests.conftest.start_streamlit) and one headless Debian chromium
(Playwright, tests.conftest.CHROMIUM_FLAGS plus flags that stop chromium throttling timers in
tabs it considers in the background: each simulated visitor has their own foreground tab). The
server is warmed by opening "/" once. Then, for each N: N browser contexts (separate sessions)
open the lab with seeds 1..N (?seed=k), press Train, wait until every step counter moves, train
--warmup more seconds, and are measured over a window of --seconds:

steps/s      per session: (step counter at the end - at the start) / wall time between the two
             reads; "total" is the sum over sessions, "% of N=1" compares it with one session.
server update p50/p95
             read from the page's own caption at the end of the window ("server-side update
             times over the last K updates"): the server-side duration of each run of the lab's
             live fragments (training ticker, pictures, analysis) over its last K (<= 200) runs,
             as timed in app_pages/lab.py. Training itself runs in the background worker
             (ui/training_pool.py), so this is the time from a fragment rerun starting on the
             server to its last element being queued for the browser: the update latency.
             Max over sessions. K can reach back into the warm-up when the window is short.
visible interval p50/p95
             client side: a MutationObserver in each page records performance.now() whenever
             the text of the step counter changes; these are the gaps between consecutive
             visible counter updates within the window (cadence, not latency), pooled over
             sessions. At 5 ticker runs per second the floor is 200 ms.
server CPU   CPU time of the server process (all its threads, /proc/<pid>/stat) over the
             window, in % of one core (2 cores: at most 200 %). "browser CPU" is the same for
             chromium's processes and Playwright's driver; "machine busy" is the whole machine's
             non-idle time from /proc/stat, in % of all cores.

After each N the contexts are closed and the server's CPU is measured again after a settling
pause: closing the tabs must stop their training (near idle: under 10 % of a core).

--streamlit-option KEY=VALUE passes --KEY VALUE to `streamlit run`, to try a server setting
(e.g. runner.postScriptGC=false) before it goes into .streamlit/config.toml.

The browser shares the machine with the server, so on 2 cores the N pages' rendering competes
with training (see the browser CPU column). --browser-nice 10 gives the server priority, but the
browsers' timers request the reruns, so a starved browser slows the server down too. Run it on
a quiet machine. Not part of the test suite. Run from the repository root; the last line of
output is the results as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402 - after the sys.path line

from tests.browser_helpers import (  # noqa: E402
    cpu_seconds,
    error_texts,
    step_counter,
    wait_for_steps,
    wait_until_idle,
)
from tests.conftest import ARTIFACTS, CHROMIUM_FLAGS, start_streamlit  # noqa: E402
from tests.process_helpers import descendants  # noqa: E402
from ui.pages import LAB  # noqa: E402

# Each simulated visitor's tab is in the foreground on their own machine: do not let chromium
# throttle the fragment timers of tabs it thinks are hidden or occluded.
BENCH_FLAGS = [
    *CHROMIUM_FLAGS,
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
TARGET_THROUGHPUT = 0.80  # total steps/s with 8 sessions, as a fraction of one session's
TARGET_P95_MS = 300.0  # every page update under this at the 95th percentile
IDLE_CPU_PERCENT = 10.0  # server CPU after the tabs closed, in % of one core
SHOWN_RATE = re.compile(r"step [\d,]+ · ([\d,]+) steps/s")
# The lab's developer readout (app_pages/lab.py, developer_readout), in "For developers".
CAPTION = re.compile(
    r"server-side update times over the last (\d+) updates"
    r"(?:: p50 ([\d.]+) ms, p95 ([\d.]+) ms)?"
)

# Records (performance.now(), step) each time the step counter's text changes. The counter is
# the lab ticker's markdown "**step 1,234**": a <strong> inside a markdown container.
OBSERVER_JS = """
() => {
  if (window.__bench) return;
  const read = () => {
    for (const el of document.querySelectorAll('[data-testid="stMarkdownContainer"] strong')) {
      const m = el.textContent.match(/^step ([\\d,]+)$/);
      if (m) return parseInt(m[1].replace(/,/g, ''), 10);
    }
    return null;
  };
  const log = [];
  let last = read();
  new MutationObserver(() => {
    const step = read();
    if (step !== null && step !== last) { last = step; log.push([performance.now(), step]); }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
  window.__bench = {log, read};
}
"""
NOW_JS = "() => performance.now()"
LOG_JS = "() => window.__bench.log"


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies over all cores, from the first line of /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def browser_cpu_seconds(server_pid: int) -> dict[int, float]:
    """CPU seconds of each process this script started other than the server (and its
    children): chromium's processes and Playwright's driver."""
    server_side = {server_pid} | descendants(server_pid)
    seconds = {}
    for pid in descendants(os.getpid()) - server_side:
        try:
            seconds[pid] = cpu_seconds(pid)
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
    return seconds


def percentile(values, q: float) -> float | None:
    return float(np.percentile(np.asarray(values), q)) if len(values) else None


def fmt(value: float | None, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def session_problems(page) -> list[str]:
    """Exception boxes, error elements, and a lab that paused itself (non-finite loss)."""
    found = error_texts(page)
    text = page.locator("body").inner_text()
    found += [line for line in text.splitlines() if line.startswith("Training paused:")]
    return found


def open_lab(context, url: str, seed: int, dataset: str | None = None):
    page = context.new_page()
    query = f"?seed={seed}" + (f"&dataset={dataset}" if dataset else "")
    page.goto(f"{url}/{LAB.href}{query}", wait_until="domcontentloaded")
    wait_until_idle(page)
    page.evaluate(OBSERVER_JS)
    return page


def measure(browser, url: str, server, n: int, a) -> dict:
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1600}) for _ in range(n)]
    pages = []
    result: dict = {"n": n, "problems": {}}
    try:
        for seed, context in enumerate(contexts, start=1):
            pages.append(open_lab(context, url, seed, a.dataset))
        hidden = [k for k, p in enumerate(pages, 1) if p.evaluate("document.hidden")]
        if hidden:
            print(f"  warning: chromium reports sessions {hidden} as hidden (timers may throttle)")
        for page in pages:
            page.get_by_role("button", name="Train", exact=True).click()
        for page in pages:
            wait_for_steps(page, 0, timeout_ms=120_000)
        if a.draw:  # a drawn 7 on each canvas: the analysis view then also encodes it each run
            from tests.test_browser_draw import draw_a_seven

            for page in pages:
                draw_a_seven(page)
        time.sleep(a.warmup)

        start = [(step_counter(p), time.monotonic(), p.evaluate(NOW_JS)) for p in pages]
        browser0 = browser_cpu_seconds(server.pid)
        cpu0, wall0, busy0 = cpu_seconds(server.pid), time.monotonic(), machine_busy()
        time.sleep(a.seconds)
        cpu1, wall1, busy1 = cpu_seconds(server.pid), time.monotonic(), machine_busy()
        browser1 = browser_cpu_seconds(server.pid)
        browser = sum(t - browser0.get(pid, 0.0) for pid, t in browser1.items())
        end = [(step_counter(p), time.monotonic(), p.evaluate(NOW_JS)) for p in pages]

        rates, intervals, p50s, p95s, shown, shown_rates = [], [], [], [], [], []
        for k, page in enumerate(pages):
            (s0, t0, js0), (s1, t1, js1) = start[k], end[k]
            rates.append((s1 - s0) / (t1 - t0))
            times = [t for t, _ in page.evaluate(LOG_JS) if js0 <= t <= js1]
            intervals += list(np.diff(times))
            text = page.locator("body").inner_text()
            rate = SHOWN_RATE.search(text)
            shown_rates.append(int(rate.group(1).replace(",", "")) if rate else None)
            match = CAPTION.search(text)
            if match and match.group(2):
                shown.append(int(match.group(1)))
                p50s.append(float(match.group(2)))
                p95s.append(float(match.group(3)))
            found = session_problems(page)
            if found:
                result["problems"][k + 1] = found
        busy = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
        result.update(
            rates=rates,
            total=sum(rates),
            server_p50_ms=max(p50s) if p50s else None,
            server_p95_ms=max(p95s) if p95s else None,
            server_p95_each_ms=p95s,
            server_updates_counted=shown,
            shown_steps_per_s=shown_rates,
            visible_p50_ms=percentile(intervals, 50),
            visible_p95_ms=percentile(intervals, 95),
            visible_updates=len(intervals),
            server_cpu_percent=100.0 * (cpu1 - cpu0) / (wall1 - wall0),
            machine_busy_percent=100.0 * busy,
            browser_cpu_percent=100.0 * browser / (wall1 - wall0),
            window_s=wall1 - wall0,
        )
    except Exception as error:  # report what the pages showed, then carry on with the next N
        result["error"] = f"{type(error).__name__}: {error}".splitlines()[0]
        for k, page in enumerate(pages, 1):
            try:
                found = session_problems(page)
            except Exception:  # the page itself may be gone
                found = ["(page not readable)"]
            if found:
                result["problems"][k] = found
    finally:
        for context in contexts:
            context.close()
    time.sleep(a.settle)
    cpu0, wall0 = cpu_seconds(server.pid), time.monotonic()
    time.sleep(a.idle_window)
    idle = 100.0 * (cpu_seconds(server.pid) - cpu0) / (time.monotonic() - wall0)
    result["idle_cpu_percent"] = idle
    return result


def streamlit_flag(option: str) -> tuple[str, str]:
    """ "runner.postScriptGC=false" -> ("--runner.postScriptGC", "false")."""
    key, sep, value = option.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {option!r}")
    return f"--{key.removeprefix('--')}", value


def log_problems(log_path: Path) -> dict[str, int]:
    """The exceptions the server logged (the last line of each traceback), with counts."""
    if not log_path.exists():
        return {}
    found: dict[str, int] = {}
    in_traceback = False
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("Traceback"):
            in_traceback = True
        elif in_traceback and line and not line.startswith((" ", "During handling")):
            found[line[:300]] = found.get(line[:300], 0) + 1
            in_traceback = False
    return found


def report(results: list[dict], a) -> None:
    base = next((r["total"] for r in results if r["n"] == 1 and "total" in r), None)
    header = (
        f"{'N':>2} | {'steps/s per session':^23} | {'total':>7} {'% of':>5} | "
        f"{'server update ms':^16} | {'visible interval ms':^19} | "
        f"{'server':>6} {'browser':>7} {'machine':>7}"
    )
    sub = (
        f"{'':>2} | {'mean':>7} {'min':>7} {'max':>7} | {'steps/s':>7} {'N=1':>5} | "
        f"{'p50':>7} {'p95':>8} | {'p50':>9} {'p95':>9} | "
        f"{'CPU %':>6} {'CPU %':>7} {'busy %':>7}"
    )
    print()
    print(header)
    print(sub)
    print("-" * len(sub))
    for r in results:
        if "total" not in r:
            print(f"{r['n']:>2} | failed: {r.get('error')}")
            continue
        rates = r["rates"]
        share = f"{100 * r['total'] / base:5.0f}" if base else f"{'-':>5}"
        print(
            f"{r['n']:>2} | {np.mean(rates):7.0f} {min(rates):7.0f} {max(rates):7.0f} | "
            f"{r['total']:7.0f} {share} | "
            f"{fmt(r['server_p50_ms']):>7} {fmt(r['server_p95_ms']):>8} | "
            f"{fmt(r['visible_p50_ms']):>9} {fmt(r['visible_p95_ms']):>9} | "
            f"{r['server_cpu_percent']:6.0f} {r['browser_cpu_percent']:7.0f} "
            f"{r['machine_busy_percent']:7.0f}"
        )
    print()
    print(f"Window: {a.seconds:g} s of training per N, after {a.warmup:g} s of warm-up.")
    print("steps/s: step-counter advance over the window / wall time, per browser session.")
    print("server update p50/p95: the lab's own server-side timing of each live-fragment run")
    print("  (ticker, pictures, analysis; training runs apart) over its last K runs, max")
    print("  over sessions; this is the update latency. K per session: ", end="")
    print(", ".join(f"N={r['n']}: {r['server_updates_counted']}" for r in results if "total" in r))
    print("visible interval p50/p95: gaps between DOM updates of the step counter seen in the")
    print("  browser (MutationObserver), pooled over sessions: cadence, not latency.")
    print("server CPU %: the server process over the window, % of one core (2 cores: <= 200).")
    print("browser CPU %: chromium's processes + Playwright's driver, % of one core.")
    print("machine busy %: the whole machine's non-idle time, % of all cores.")
    if a.browser_nice:
        print(f"The browser ran at nice {a.browser_nice} (the server at normal priority).")
    if a.split_cores:
        print("Split cores: the server on CPU 0, the browser and this driver on CPU 1.")
    if a.streamlit_option:
        print(f"The server ran with: {', '.join(a.streamlit_option)}.")
    print()
    for r in results:
        verdict = "near idle" if r["idle_cpu_percent"] < IDLE_CPU_PERCENT else "STILL BUSY"
        print(
            f"After closing the {r['n']} tab(s): server CPU {r['idle_cpu_percent']:.1f} % of a "
            f"core over {a.idle_window:g} s ({verdict}; limit {IDLE_CPU_PERCENT:g} %)"
        )
        for k, found in r["problems"].items():
            for text in found:
                first = text.strip().splitlines()[0] if text.strip() else "(empty)"
                print(f"  session {k} showed: {first[:300]}")
        if "error" in r:
            print(f"  N={r['n']} stopped early: {r['error']}")
    eight = next((r for r in results if r["n"] == 8 and "total" in r), None)
    if eight and base:
        share = eight["total"] / base
        p95 = max(
            (r["server_p95_ms"] for r in results if r.get("server_p95_ms") is not None),
            default=None,
        )
        ok_share = "met" if share >= TARGET_THROUGHPUT else "NOT met"
        print(
            f"Target, throughput: 8 sessions give {100 * share:.0f} % of one session's steps/s "
            f"(target >= {100 * TARGET_THROUGHPUT:.0f} %): {ok_share}"
        )
        if p95 is not None:
            ok_p95 = "met" if p95 < TARGET_P95_MS else "NOT met"
            print(
                f"Target, updates: worst server-side p95 {p95:.0f} ms over all N and sessions "
                f"(target < {TARGET_P95_MS:.0f} ms): {ok_p95}"
            )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 8], help="values of N")
    p.add_argument("--seconds", type=float, default=20.0, help="measured window per N")
    p.add_argument("--warmup", type=float, default=3.0, help="training before the window")
    p.add_argument("--settle", type=float, default=3.0, help="pause after closing the tabs")
    p.add_argument("--idle-window", type=float, default=3.0, help="idle CPU measured over this")
    p.add_argument("--dataset", help="the lab's data set (default: the lab's default)")
    p.add_argument("--draw", action="store_true", help="draw a digit on each lab's canvas first")
    p.add_argument(
        "--browser-nice",
        type=int,
        default=0,
        help="run chromium at this nice value (e.g. 10) so that, sharing the machine with the "
        "server, it takes only the CPU the server leaves (default 0: equal priority)",
    )
    p.add_argument(
        "--streamlit-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="pass --KEY VALUE to `streamlit run` (repeatable), to try a server setting, "
        "e.g. runner.postScriptGC=false",
    )
    p.add_argument(
        "--split-cores",
        action="store_true",
        help="pin the server to CPU 0 and the browser (and this driver) to CPU 1, as if the "
        "browsers ran on the users' machines: each side gets one whole core",
    )
    a = p.parse_args(argv)
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("Debian chromium is not installed: run scripts/test.sh, which installs it")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    extra = tuple(arg for option in a.streamlit_option for arg in streamlit_flag(option))
    if a.split_cores:
        os.sched_setaffinity(0, {0})  # the server started next inherits CPU 0 (all its threads)
    server, url = start_streamlit(extra)
    if a.split_cores:
        os.sched_setaffinity(0, {1})  # the browser launched below inherits CPU 1
    if a.browser_nice:
        os.nice(a.browser_nice)  # this process only: the browser launched below inherits it
    log_path = ARTIFACTS / f"streamlit-{url.rsplit(':', 1)[1]}.log"
    results = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, headless=True, args=BENCH_FLAGS
            )
            try:
                context = browser.new_context()  # the first visitor opens "/" (see conftest)
                page = context.new_page()
                page.goto(url, wait_until="domcontentloaded")
                wait_until_idle(page)
                context.close()
                for n in a.sessions:
                    print(f"N = {n}: opening {n} session(s) and training ...", flush=True)
                    results.append(measure(browser, url, server, n, a))
            finally:
                browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    report(results, a)
    logged = log_problems(log_path)
    if logged:
        print(f"The server logged exceptions ({log_path}):")
        for line, count in logged.items():
            print(f"  {count} x {line}")
    print(
        json.dumps(
            {
                "benchmark": "lab_sessions",
                "seconds": a.seconds,
                "warmup": a.warmup,
                "browser_nice": a.browser_nice,
                "dataset": a.dataset,
                "draw": a.draw,
                "split_cores": a.split_cores,
                "streamlit_options": a.streamlit_option,
                "results": results,
                "server_log_exceptions": logged,
            }
        )
    )


if __name__ == "__main__":
    main()
