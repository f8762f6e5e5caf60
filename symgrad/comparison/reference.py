"""High-precision reference gradients: sympy's `diff`, evaluated with mpmath at 50 digits.

An accuracy baseline independent of both float64 paths: a different derivation (per-parameter
`sympy.diff`, not reverse mode) and exact-enough arithmetic, so the error of each path against it
is its own rounding error.
"""

import mpmath
import numpy as np
import sympy as sp

from ..primitives import RECORDS
from ..symbolic import grad

DIGITS = 50



def mpmath_functions():
    """Function name -> its record's high-precision value, for lambdify's mpmath module."""
    return {r.name: r.mpmath for r in RECORDS.values() if r.mpmath is not None}


def reference_gradient(model, values, digits=DIGITS):
    """∂(Σ_batch loss)/∂p for every parameter, as float64 rounded from `digits`-digit arithmetic."""
    symbols = list(model.data) + list(model.params)
    exprs = grad(model.loss, list(model.params), method="diff")
    fn = sp.lambdify(symbols, exprs, modules=[mpmath_functions(), "mpmath"], cse=True)
    n = len(np.atleast_1d(values[model.data[0]])) if model.data else 1
    with mpmath.workdps(digits):
        params = [mpmath.mpf(float(values[p])) for p in model.params]
        totals = [mpmath.mpf(0)] * len(model.params)
        for i in range(n):
            sample = [mpmath.mpf(float(np.atleast_1d(values[s])[i])) for s in model.data]
            totals = [t + g for t, g in zip(totals, fn(*sample, *params), strict=True)]
        return np.array([float(t) for t in totals])


def max_relative_error(got, reference):
    """max_i |got_i − ref_i| / |ref_i| over parameters whose reference gradient is not ~0."""
    got, reference = np.asarray(got, float), np.asarray(reference, float)
    floor = 1e-12 * np.max(np.abs(reference)) if reference.size else 0.0
    keep = np.abs(reference) > floor
    return float(np.max(np.abs(got[keep] - reference[keep]) / np.abs(reference[keep]))) if keep.any() else 0.0
