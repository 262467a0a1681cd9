"""The numeric check panel: our derived closed form next to an independent library's value."""

from __future__ import annotations

import streamlit as st

from derivations import numeric


@st.fragment
def numeric_check_panel(slug: str) -> None:
    """Seeded random x and parameters; 'Re-roll' draws new ones. Reruns only this fragment."""
    seed_key = f"numeric_seed_{slug}"
    if seed_key not in st.session_state:
        st.session_state[seed_key] = 0
    left, right = st.columns([1, 4])
    if left.button("Re-roll", key=f"reroll_{slug}", icon=":material/casino:"):
        st.session_state[seed_key] += 1
    seed = st.session_state[seed_key]
    right.caption(
        f"Random point with seed {seed}: the derived expression (lambdified from the "
        "same SymPy object shown above) against an independent implementation."
    )
    rows = numeric.compare(slug, seed)
    st.dataframe(
        [
            {
                "quantity": row.label,
                "derived (SymPy)": row.derived,
                "reference": row.reference,
                "reference implementation": row.reference_name,
                "agree": "✓" if row.agree else "✗",
            }
            for row in rows
        ],
        hide_index=True,
        width="stretch",
    )
