"""Cold and warm render time of each derivation page, through app.py's router with AppTest.

    python bench/bench_render.py [--repeats 5] [--moves 5] [--pages gaussian-mse kl-term ...]

Every page runs the way tests/apptest_helpers.open_page runs it: app.py (router + shared sidebar)
renders the home page, then `switch_page` opens the page. Only that page run is timed.

cold   The page's first render in a fresh Python process, one subprocess per page: Streamlit's
       st.cache_data is empty, no SymPy derivation has been built or verified, and the page's own
       modules (SymPy, SciPy, Plotly, derivations/, figures/) are not imported yet. Streamlit and
       AppTest are imported, and the home page has rendered, before the clock starts, as on a
       server whose first visitor arrived at "/".
cold*  The same, but with those modules imported before the clock starts: what is left is the
       symbolic work (building and verifying derivations, LaTeX) and first-use costs.
warm   Later renders of the same page in one process, each in a new session (a new AppTest, i.e.
       a new visitor on a warm server): median (and min-max) of --repeats renders.
SymPy calls  Python-level calls into the sympy package during one warm render (a separate,
       untimed, profiled render): 0 means the page's derivations came from the cache.
slider The Gaussian page's σ select_slider (key "gaussian_sigma") moved to a new value and the
       script rerun, median of --moves moves. AppTest reruns the whole page on a widget change;
       a browser reruns only the fragment holding the slider, so this is an upper bound.

Timings are wall-clock seconds (time.perf_counter). Not part of the test suite. Run from the
repository root; the last line of output is the results as JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ui import pages  # noqa: E402 - after the sys.path line (ui.pages imports no Streamlit)

DERIVATION_PAGES = [pages.GAUSSIAN, pages.BERNOULLI, pages.LAPLACE_HUBER, pages.KL, pages.ELBO]
EXTRA_PAGES = [pages.COLLAPSE, pages.IMPLIED_SIGMA, pages.CHECKER]
BY_URL = {spec.url_path: spec for spec in DERIVATION_PAGES + EXTRA_PAGES}
PRELOAD_PACKAGES = ("derivations", "figures", "ui", "models")
PRELOAD_MODULES = ("sympy", "scipy.stats", "scipy.special", "plotly.graph_objects", "torch")
SYMPY_DIR = f"{os.sep}sympy{os.sep}"


# ---- helpers shared by the parent and the cold child ------------------------------------------
def preload_modules() -> float:
    """Import every module the pages use (without running any page); returns the seconds taken."""
    started = time.perf_counter()
    for name in PRELOAD_MODULES:
        importlib.import_module(name)
    for package_name in PRELOAD_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__, prefix=f"{package_name}."):
            importlib.import_module(info.name)
    return time.perf_counter() - started


def prepare_streamlit() -> None:
    """Show exceptions in full (AppTest redacts them by default), and keep AppTest's harmless
    "missing ScriptRunContext" warning (its constructor touches session state outside a run) out
    of the table: a logging filter, since Streamlit resets its loggers' levels."""
    import logging

    from streamlit import config

    config.set_option("client.showErrorDetails", "full")
    name = "streamlit.runtime.scriptrunner_utils.script_run_context"
    logging.getLogger(name).addFilter(
        lambda record: "missing ScriptRunContext" not in record.getMessage()
    )


def problems(at) -> list[str]:
    """Exceptions and error boxes a run produced (an empty list if it rendered cleanly)."""
    found = []
    for e in at.exception:
        where = e.stack_trace[-1].strip().splitlines()[0] if e.stack_trace else ""
        found.append(f"{e.proto.type}: {e.message} ({where})" if where else str(e.message))
    return found + [str(e.value) for e in at.error]


def timed_switch(at, spec) -> float:
    started = time.perf_counter()
    at.switch_page(spec.path).run()
    return time.perf_counter() - started


def symbolic_entry_points() -> set:
    """Code objects of the functions that do symbolic work: every derivation builder, the step
    verifier, the LaTeX/verification of a derivation's steps, and SymPy's simplify and lambdify."""
    import sympy

    import derivations
    from derivations import base
    from ui import latex

    functions = [*derivations.REGISTRY.values(), base.check_derivation, latex.derivation_views]
    functions += [sympy.simplify, sympy.lambdify]
    return {getattr(f, "__wrapped__", f).__code__ for f in functions}


class SympyCallCounter:
    """Counts Python-level calls into sympy, and calls of the symbolic entry points, in threads
    started while active (AppTest runs the script in its own thread, hence threading.setprofile).
    `by_caller` names the first non-sympy frame behind each sympy call."""

    def __init__(self) -> None:
        self.calls = 0
        self.symbolic = 0
        self.by_caller: Counter[str] = Counter()
        self.entry_points = symbolic_entry_points()

    def _hook(self, frame, event, arg):
        if event != "call":
            return
        code = frame.f_code
        if code in self.entry_points:
            self.symbolic += 1
        if SYMPY_DIR in code.co_filename:
            self.calls += 1
            caller = frame.f_back
            while caller is not None and SYMPY_DIR in caller.f_code.co_filename:
                caller = caller.f_back
            if caller is not None:
                where = Path(caller.f_code.co_filename).name
                self.by_caller[f"{where}:{caller.f_lineno} {caller.f_code.co_name}"] += 1

    def __enter__(self) -> SympyCallCounter:
        threading.setprofile(self._hook)
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        sys.setprofile(None)
        threading.setprofile(None)

    def summary(self) -> dict:
        return {
            "sympy_calls": self.calls,
            "symbolic_calls": self.symbolic,
            "sympy_callers": dict(self.by_caller.most_common(3)),
        }


# ---- the cold child: one fresh process per page -----------------------------------------------
def cold_child(url_path: str, preload: bool) -> None:
    from tests.apptest_helpers import open_page

    prepare_streamlit()
    spec = BY_URL[url_path]
    home_started = time.perf_counter()
    at = open_page(pages.HOME)  # untimed: runtime set-up, router, sidebar, home page
    home = time.perf_counter() - home_started
    imports = preload_modules() if preload else None
    seconds = timed_switch(at, spec)
    print(
        json.dumps(
            {"page": url_path, "cold": seconds, "home": home, "imports": imports},
        )
    )
    print(json.dumps({"problems": problems(at)}))


def run_cold(spec, preload: bool) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--cold-child", spec.url_path]
    if preload:
        command.append("--preload")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"cold run of {spec.url_path} failed ({done.returncode}):\n{tail}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-2])
    result["problems"] = json.loads(lines[-1])["problems"]
    return result


# ---- warm renders and the slider, in this process ---------------------------------------------
def warm_renders(spec, repeats: int) -> dict:
    from tests.apptest_helpers import open_page

    at = open_page(spec)  # untimed: fills this process's caches for the page
    found = problems(at)
    times = []
    for _ in range(repeats):
        at = open_page(pages.HOME)
        times.append(timed_switch(at, spec))
        found += problems(at)
    at = open_page(pages.HOME)
    with SympyCallCounter() as counter:
        at.switch_page(spec.path).run()
    return {"times": times, **counter.summary(), "problems": sorted(set(found))}


def slider_moves(moves: int) -> dict:
    from tests.apptest_helpers import open_page
    from ui.controls import SIGMA_GRID

    at = open_page(pages.GAUSSIAN)
    slider = at.select_slider(key="gaussian_sigma")
    start = SIGMA_GRID.index(float(slider.value))
    values = [SIGMA_GRID[(start + 3 * (i + 1)) % len(SIGMA_GRID)] for i in range(moves + 1)]
    times = []
    for value in values[:moves]:
        started = time.perf_counter()
        at.select_slider(key="gaussian_sigma").set_value(value).run()
        times.append(time.perf_counter() - started)
    shown = float(at.select_slider(key="gaussian_sigma").value)
    with SympyCallCounter() as counter:
        at.select_slider(key="gaussian_sigma").set_value(values[moves]).run()
    return {
        "times": times,
        **counter.summary(),
        "value_followed": shown == values[moves - 1],
        "problems": problems(at),
    }


# ---- report -------------------------------------------------------------------------------------
def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=5, help="warm renders per page (median shown)")
    p.add_argument("--moves", type=int, default=5, help="σ slider moves on the Gaussian page")
    p.add_argument(
        "--pages",
        nargs="+",
        choices=sorted(BY_URL),
        default=[spec.url_path for spec in DERIVATION_PAGES + EXTRA_PAGES],
        metavar="URL_PATH",
        help=f"pages to time, by url path (default: all of {', '.join(BY_URL)})",
    )
    p.add_argument("--no-preload", action="store_true", help="skip the cold* column")
    p.add_argument("--cold-child", metavar="URL_PATH", help=argparse.SUPPRESS)
    p.add_argument("--preload", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.cold_child:
        cold_child(a.cold_child, a.preload)
        return

    prepare_streamlit()
    specs = [BY_URL[url_path] for url_path in a.pages]
    rows, notes = [], []
    print(f"Timing {len(specs)} pages: cold in fresh subprocesses, then warm in this process.")
    for spec in specs:
        cold = run_cold(spec, preload=False)
        cold_star = None if a.no_preload else run_cold(spec, preload=True)
        print(f"  {spec.url_path}: cold {cold['cold']:.2f} s", flush=True)
        rows.append({"spec": spec, "cold": cold, "cold_star": cold_star})
    for row in rows:
        row["warm"] = warm_renders(row["spec"], a.repeats)
    slider = slider_moves(a.moves) if a.moves > 0 else None

    header = (
        f"{'page':34} {'cold s':>7} {'cold* s':>8} {'warm s':>7} {'(min-max)':>13} "
        f"{'warm/cold':>9} {'symbolic':>8} {'SymPy calls':>11}"
    )
    print()
    print(header)
    print("-" * len(header))
    results = []
    for row in rows:
        spec, warm = row["spec"], row["warm"]
        cold = row["cold"]["cold"]
        cold_star = row["cold_star"]["cold"] if row["cold_star"] else None
        median = statistics.median(warm["times"])
        extra = "" if spec in DERIVATION_PAGES else " (extra)"
        star = f"{cold_star:8.2f}" if cold_star is not None else f"{'-':>8}"
        span = f"{min(warm['times']):.3f}-{max(warm['times']):.3f}"
        found = row["cold"]["problems"] + warm["problems"]
        name = spec.title + extra + (" !" if found else "")
        print(
            f"{name:34} {cold:7.2f} {star} {median:7.3f} {span:>13} "
            f"{median / cold:9.3f} {warm['symbolic_calls']:8d} {warm['sympy_calls']:11d}"
        )
        if found:
            notes.append(f"{spec.url_path}: errors on the page (its times are not valid): {found}")
        if warm["symbolic_calls"]:
            notes.append(f"{spec.url_path}: a warm render redid symbolic work (not cached)")
        results.append(
            {
                "page": spec.url_path,
                "derivation_page": spec in DERIVATION_PAGES,
                "cold_s": cold,
                "cold_preloaded_s": cold_star,
                "warm_median_s": median,
                "warm_s": warm["times"],
                "warm_over_cold": median / cold,
                "warm_symbolic_calls": warm["symbolic_calls"],
                "warm_sympy_calls": warm["sympy_calls"],
                "warm_sympy_callers": warm["sympy_callers"],
                "problems": found,
            }
        )
    if slider:
        median = statistics.median(slider["times"])
        span = f"{min(slider['times']):.3f}-{max(slider['times']):.3f}"
        gaussian = next((r for r in results if r["page"] == pages.GAUSSIAN.url_path), None)
        ratio = f"{median / gaussian['cold_s']:9.3f}" if gaussian else f"{'-':>9}"
        name = "Gaussian: σ slider move + rerun"
        print(
            f"{name:34} {'-':>7} {'-':>8} {median:7.3f} {span:>13} {ratio} "
            f"{slider['symbolic_calls']:8d} {slider['sympy_calls']:11d}"
        )
        if not slider["value_followed"]:
            notes.append("the Gaussian σ slider did not show the value it was set to")
        if slider["problems"]:
            notes.append(f"slider moves: errors on the page: {slider['problems']}")
        if slider["symbolic_calls"]:
            notes.append("a σ slider move redid symbolic work: SymPy is in the slider's path")
    print()
    print("cold      first render in a fresh process: empty caches, page modules not imported")
    print("cold*     the same with the page's modules imported first: symbolic work + first use")
    print(f"warm      median of {a.repeats} renders of the page, each a new session, warm process")
    print("symbolic  calls of derivation builders, check_derivation, derivation_views, simplify,")
    print("          lambdify during one warm render / one slider move (0: all from the caches)")
    print("SymPy calls  any Python call into sympy in that run (e.g. str() of a symbol)")
    print("slider    AppTest reruns the whole page; a browser reruns only the slider's fragment")
    print("AppTest skips the gc.collect(2) a server runs after every script run (postScriptGC)")
    if rows:
        home = statistics.median(row["cold"]["home"] for row in rows)
        print(f"(untimed set-up in each cold process: AppTest + home page, median {home:.2f} s)")
    callers = Counter()
    for row in rows:
        callers.update(row["warm"]["sympy_callers"])
    if slider:
        callers.update(slider["sympy_callers"])
    if callers:
        where = ", ".join(f"{name} ({n})" for name, n in callers.most_common(3))
        print(f"Where the remaining SymPy calls come from: {where}")
    for note in notes:
        print(f"NOTE: {note}")
    print(
        json.dumps(
            {
                "benchmark": "render",
                "repeats": a.repeats,
                "pages": results,
                "slider": None
                if slider is None
                else {
                    "page": pages.GAUSSIAN.url_path,
                    "key": "gaussian_sigma",
                    "median_s": statistics.median(slider["times"]),
                    "times_s": slider["times"],
                    "symbolic_calls": slider["symbolic_calls"],
                    "sympy_calls": slider["sympy_calls"],
                    "sympy_callers": slider["sympy_callers"],
                },
            }
        )
    )


if __name__ == "__main__":
    main()
