"""Pure-SymPy derivations: from a log-likelihood to the loss people write. No Streamlit here."""
