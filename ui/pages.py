"""The app's page table: one entry per page file, grouped into navigation sections.

Kept as plain data so the home page, the router and the tests read the same list.

The page files live in `app_pages/`, not `pages/`: with a `pages/` folder beside app.py,
Streamlit runs a fresh server's first script run in its legacy multipage mode, which showed the
first visitor after every start (of every replica) a "Page not found" notice on a deep link, and
lets AppTest run a page file without app.py. app.py's st.navigation is the only router.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PageSpec:
    path: str  # relative to the project root, e.g. "app_pages/gaussian.py"
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


HOME = PageSpec("app_pages/home.py", "Questions", "questions", ":material/help:", default=True)
GAUSSIAN = PageSpec(
    "app_pages/gaussian.py", "Gaussian → MSE", "gaussian-mse", ":material/show_chart:"
)
BERNOULLI = PageSpec(
    "app_pages/bernoulli.py", "Bernoulli → BCE", "bernoulli-bce", ":material/contrast:"
)
LAPLACE_HUBER = PageSpec(
    "app_pages/laplace_huber.py",
    "Laplace → L1, Huber",
    "laplace-l1-huber",
    ":material/change_history:",
)
KL = PageSpec("app_pages/kl.py", "The KL term", "kl-term", ":material/compare_arrows:")
ELBO = PageSpec("app_pages/elbo.py", "The ELBO and β = 2σ²", "elbo-beta", ":material/functions:")
BOUND_GAP = PageSpec(
    "app_pages/bound_gap.py",
    "The gap under the bound",
    "elbo-gap-iwae",
    ":material/vertical_align_top:",
)
DISCRETE = PageSpec(
    "app_pages/discrete_pixels.py", "Pixels are discrete", "bits-per-dim", ":material/grid_on:"
)

LAB = PageSpec("app_pages/lab.py", "Live lab", "live-lab", ":material/science:")
IMPLIED_SIGMA = PageSpec(
    "app_pages/implied_sigma.py", "What σ does my code assume?", "what-sigma", ":material/code:"
)

RACE = PageSpec("app_pages/race.py", "Race", "likelihood-race", ":material/emoji_events:")
TEST_TIME = PageSpec(
    "app_pages/test_time.py",
    "At test time: mean or sample?",
    "mean-or-sample",
    ":material/compare:",
)
LOGGED = PageSpec(
    "app_pages/logged_numbers.py",
    "What your logged numbers mean",
    "read-your-log",
    ":material/receipt_long:",
)

COLLAPSE = PageSpec(
    "app_pages/collapse.py", "Posterior collapse", "posterior-collapse", ":material/compress:"
)

CHECKER = PageSpec(
    "app_pages/checker.py", "Check my derivation", "check-derivation", ":material/rule:"
)

SECTIONS: dict[str, list[PageSpec]] = {
    "Start": [HOME],
    "Derivations": [GAUSSIAN, BERNOULLI, LAPLACE_HUBER, KL, ELBO, BOUND_GAP, DISCRETE],
    "Lab": [LAB, TEST_TIME, IMPLIED_SIGMA, LOGGED, COLLAPSE, RACE],
    "Practice": [CHECKER],
}


def all_pages() -> list[PageSpec]:
    return [page for pages in SECTIONS.values() for page in pages]
