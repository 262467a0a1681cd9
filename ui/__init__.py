"""Streamlit glue: thin views over the pure `derivations/`, `models/` and `figures/` packages."""
