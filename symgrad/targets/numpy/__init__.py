"""The numpy target: Python modules of numpy (vectorized) and per-sample-loop functions."""
