"""How fast the implied-σ page answers a pasted loss. Prints figures; asserts nothing.

1. `derivations.loss_code.read` alone over the test table of real losses (median and worst).
2. The whole page through app.py (AppTest): the script-run time after a new snippet is pasted,
   with the page already warm (as for a visitor who has the page open). AppTest reruns the whole
   page; in the browser the section is a fragment and reruns alone. The verified SymPy steps of
   the pasted loss are behind a toggle (about a second the first time for new reductions).

Run: python bench/loss_code_answer.py   (figures are disturbed by other work on the machine)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from derivations.loss_code import read
from derivations.loss_code.writer import calibrated_code, corrected_code
from tests.apptest_helpers import open_page
from tests.test_loss_code_table import CASES
from ui.pages import IMPLIED_SIGMA


def reader_times(clock=time.perf_counter) -> list[float]:
    """Seconds per read of each table loss, plus the corrected and calibrated code the page shows
    (the section's whole answer apart from drawing it)."""
    times = []
    for case in CASES:
        start = clock()
        for _ in range(5):
            reading = read(case.code, case.shape, case.J, case.B, case.names)
            corrected_code(reading, 0.1)
            calibrated_code(reading)
        times.append((clock() - start) / 5)
    return times


def page_times() -> list[tuple[str, float]]:
    at = open_page(IMPLIED_SIGMA)
    out = []
    for case in CASES[:6]:
        at.text_area(key="loss_code_text").set_value(case.code)
        at.text_input(key="loss_code_shape").set_value(", ".join(map(str, case.shape)))
        start = time.perf_counter()
        at.run()
        first = time.perf_counter() - start
        start = time.perf_counter()
        at.run()  # the same snippet again: steps now cached
        again = time.perf_counter() - start
        assert not at.exception, at.exception
        out.append((case.repo.split()[0], first, again))
    return out


def steps_times() -> list[tuple[str, float]]:
    """The verified SymPy steps behind the toggle, built from scratch (no cache)."""
    from derivations import implied_sigma
    from ui.latex import derivation_views

    out, seen = [], set()
    for case in CASES:
        reading = read(case.code, case.shape, case.J, case.B, case.names)
        key = tuple(sorted(reading.reductions.items()))
        if key in seen or len(out) == 4:
            continue
        seen.add(key)
        start = time.perf_counter()
        derivation_views(implied_sigma.derivation(784, 20, 128, **reading.reductions))
        out.append((case.repo.split()[0], time.perf_counter() - start))
    return out


if __name__ == "__main__":
    for name, clock in (("wall", time.perf_counter), ("CPU", time.thread_time)):
        times = reader_times(clock)
        print(
            f"read + corrected code, {name} time: {len(times)} real losses, median "
            f"{statistics.median(times) * 1e3:.1f} ms, worst {max(times) * 1e3:.1f} ms"
        )
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average now: {load} (2 cores)")
    for repo, seconds in steps_times():
        print(f"verified steps for {repo:<40} built in {seconds:.2f} s (then cached)")
    for repo, first, again in page_times():
        print(f"page rerun after pasting {repo:<40} first {first:.2f} s, again {again:.2f} s")
