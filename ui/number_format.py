"""Numbers for narrow metric tiles: at most about eight characters, never cut off by the browser."""

from __future__ import annotations

import math

MINUS = "\u2212"  # a real minus sign, as in the rest of the app's text


def compact(value: float | None, decimals: int = 2, max_plain: float = 1e5) -> str:
    """`value` with `decimals` decimals while |value| < max_plain, else three significant digits
    in e-notation without padding (−5226814.2 → "−5.23e6", 0.000012 → "1.2e−5")."""
    if value is None or not math.isfinite(value):
        return "n/a" if value is None or math.isnan(value) else f"{'−' if value < 0 else ''}∞"
    magnitude = abs(value)
    if magnitude >= max_plain or (0 < magnitude < 10.0 ** (-decimals)):
        mantissa, exponent = f"{value:.2e}".split("e")
        text = f"{float(mantissa):g}e{int(exponent)}"
    else:
        text = f"{value:,.{decimals}f}"
    return text.replace("-", MINUS)
