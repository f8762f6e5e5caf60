"""Scalar expansion: the reference every matrix rule is tested against.

A matrix-level loss at concrete sizes is expanded entry by entry with sympy's own `as_explicit`
(each node's `_entry`, i.e. the definition of the operation), every MatrixSymbol entry becomes a
plain Symbol, and sympy's scalar `diff` differentiates the result entry by entry. Nothing here
uses symgrad's derivative rules.
"""

import numpy as np
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from symgrad import functions as F
from symgrad.matrix import SumAll


def _explicit_scalar(expr):
    """Replace every matrix→scalar node (sum, trace, element of an expression) by its entries."""
    expr = expr.replace(lambda e: isinstance(e, SumAll), lambda e: sp.Add(*e.arg.as_explicit()))
    expr = expr.replace(lambda e: isinstance(e, sp.Trace), lambda e: e.arg.as_explicit().trace())
    expr = expr.replace(
        lambda e: isinstance(e, MatrixElement) and not isinstance(e.parent, sp.MatrixSymbol),
        lambda e: e.parent.as_explicit()[int(e.i), int(e.j)],
    )
    return expr


def _flat(loss, wrt, values):
    """(scalar loss over entry symbols, the entry symbols of `wrt` in order, their shapes, numbers)."""
    if loss.is_Matrix:
        loss = SumAll(loss)
    sizes = {d: sp.Integer(v.shape[k]) for m, v in values.items() if isinstance(m, sp.MatrixSymbol)
             for k, d in enumerate(m.shape) if isinstance(d, sp.Symbol)}
    flat = _explicit_scalar(loss.xreplace(sizes))
    names, numbers = {}, {}
    for m, v in values.items():
        if isinstance(m, sp.MatrixSymbol):
            v = np.asarray(v, dtype=float)
            for i, j in np.ndindex(v.shape):
                s = sp.Symbol(f"{m.name}__{i}_{j}")
                names[MatrixElement(m.xreplace(sizes), i, j)] = s
                numbers[s] = v[i, j]
        elif isinstance(m, sp.Symbol):
            numbers[m] = float(v)
    flat = flat.xreplace(names)
    entries, shapes = [], []
    for w in wrt:
        if isinstance(w, sp.MatrixSymbol):
            shape = np.shape(values[w])
            entries += [names[MatrixElement(w.xreplace(sizes), i, j)] for i, j in np.ndindex(shape)]
            shapes.append(shape)
        else:
            entries.append(w)
            shapes.append(())
    return flat, entries, shapes, numbers


def _at(exprs, numbers):
    """Evaluate with mpmath; symgrad's functions are first written out with exp/log (mpmath knows
    nothing of sigmoid or softplus)."""
    ours = (F.sigmoid, F.softplus, F.logsigmoid, F.relu, F.logsumexp)
    exprs = [e.replace(lambda n: isinstance(n, ours), lambda n: n._rewrite_exp()) for e in exprs]
    args = sorted(numbers, key=str)
    return [float(d) for d in sp.lambdify(args, exprs, "mpmath")(*[numbers[a] for a in args])]


def scalar_expansion_grad(loss, wrt, values):
    """∂loss/∂(each entry of each wrt), evaluated at `values`: a list of arrays of each shape."""
    flat, entries, shapes, numbers = _flat(loss, wrt, values)
    flat_values = iter(_at([sp.diff(flat, e) for e in entries], numbers))
    return [float(next(flat_values)) if not shape else
            np.array([next(flat_values) for _ in range(int(np.prod(shape)))]).reshape(shape) for shape in shapes]


def scalar_expansion_hessian(loss, wrt, values):
    """`sympy.hessian` of the expanded loss in the entries of `wrt` (row-major, concatenated)."""
    flat, entries, _, numbers = _flat(loss, wrt, values)
    h = sp.hessian(flat, entries)
    return np.array(_at(list(h), numbers)).reshape(h.shape)
