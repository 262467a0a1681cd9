"""Pure figure builders: plain numbers in, Plotly figures out. No Streamlit here."""

import plotly.io as pio

# Every figure here is drawn on the white template, set once as the process default: naming a
# template in a figure's layout makes Plotly validate the whole template again, ~11 ms per
# figure, which the live lab paid on every redraw of every chart (bench/README.md).
pio.templates.default = "plotly_white"
