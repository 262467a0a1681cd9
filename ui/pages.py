"""The app's page table: one entry per page file, grouped into navigation sections.

Kept as plain data so the home page, the router and the tests read the same list.

Every url_path differs from its file's stem on purpose. With a `pages/` folder beside app.py,
Streamlit runs a fresh server's first script run in legacy multipage mode, which maps /<stem> to
pages/<stem>.py and runs that file *without* app.py. When no stem matches the URL, the legacy run
falls back to app.py, whose st.navigation switches legacy mode off for good. (That fallback
shows the very first visitor after a server start a dismissible "Page not found" notice if they
arrive on a deep link; the root URL and every later visit are unaffected.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PageSpec:
    path: str  # relative to the project root, e.g. "pages/gaussian.py"
    title: str
    url_path: str
    icon: str
    default: bool = False

    @property
    def href(self) -> str:
        """Path in the browser: Streamlit serves the default page at the root, not at url_path."""
        return "" if self.default else self.url_path

    def to_streamlit(self):
        import streamlit as st  # imported lazily: tests read this table without Streamlit running

        return st.Page(
            str(ROOT / self.path),
            title=self.title,
            url_path=self.url_path,
            icon=self.icon,
            default=self.default,
        )


HOME = PageSpec("pages/home.py", "Questions", "questions", ":material/help:", default=True)
GAUSSIAN = PageSpec("pages/gaussian.py", "Gaussian → MSE", "gaussian-mse", ":material/show_chart:")
BERNOULLI = PageSpec(
    "pages/bernoulli.py", "Bernoulli → BCE", "bernoulli-bce", ":material/contrast:"
)
LAPLACE_HUBER = PageSpec(
    "pages/laplace_huber.py", "Laplace → L1, Huber", "laplace-l1-huber", ":material/change_history:"
)
KL = PageSpec("pages/kl.py", "The KL term", "kl-term", ":material/compare_arrows:")
ELBO = PageSpec("pages/elbo.py", "The ELBO and β = 2σ²", "elbo-beta", ":material/functions:")
BOUND_GAP = PageSpec(
    "pages/bound_gap.py",
    "The gap under the bound",
    "elbo-gap-iwae",
    ":material/vertical_align_top:",
)
DISCRETE = PageSpec(
    "pages/discrete_pixels.py", "Pixels are discrete", "bits-per-dim", ":material/grid_on:"
)

LAB = PageSpec("pages/lab.py", "Live lab", "live-lab", ":material/science:")
IMPLIED_SIGMA = PageSpec(
    "pages/implied_sigma.py", "What σ does my code assume?", "what-sigma", ":material/code:"
)

RACE = PageSpec("pages/race.py", "Race", "likelihood-race", ":material/emoji_events:")
TEST_TIME = PageSpec(
    "pages/test_time.py", "At test time: mean or sample?", "mean-or-sample", ":material/compare:"
)
LOGGED = PageSpec(
    "pages/logged_numbers.py",
    "What your logged numbers mean",
    "read-your-log",
    ":material/receipt_long:",
)

COLLAPSE = PageSpec(
    "pages/collapse.py", "Posterior collapse", "posterior-collapse", ":material/compress:"
)

CHECKER = PageSpec("pages/checker.py", "Check my derivation", "check-derivation", ":material/rule:")

SECTIONS: dict[str, list[PageSpec]] = {
    "Start": [HOME],
    "Derivations": [GAUSSIAN, BERNOULLI, LAPLACE_HUBER, KL, ELBO, BOUND_GAP, DISCRETE],
    "Lab": [LAB, TEST_TIME, IMPLIED_SIGMA, LOGGED, COLLAPSE, RACE],
    "Practice": [CHECKER],
}


def all_pages() -> list[PageSpec]:
    return [page for pages in SECTIONS.values() for page in pages]
