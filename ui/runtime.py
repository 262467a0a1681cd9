"""Process-wide tuning for the server (lives in an imported module, so it persists across reruns:
Streamlit re-executes app.py itself on every run)."""

from __future__ import annotations

import gc
import sys
import threading

_lock = threading.Lock()
_frozen_module_count = 0


def freeze_new_modules() -> None:
    """After a run that imported new modules (a page's first visit loads torch, SymPy, Plotly),
    collect once and move every surviving object to the permanent generation, so the collector's
    later passes scan only objects created since. `.streamlit/config.toml` turns off Streamlit's
    full collection after every run, which cost ~210 ms per lab update (bench/README.md)."""
    global _frozen_module_count
    if len(sys.modules) == _frozen_module_count:
        return
    with _lock:
        if len(sys.modules) != _frozen_module_count:
            gc.collect()
            gc.freeze()
            _frozen_module_count = len(sys.modules)
