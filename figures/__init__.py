"""Pure figure builders: plain numbers in, Plotly figures out. No Streamlit here."""
