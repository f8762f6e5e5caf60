"""Numeric reverse mode over matrix expression DAGs: each node's record's VJP on numpy arrays.

The records' `array_vjp` rules are written from the calculus apart from their symbolic `adjoint`s:
comparing the two paths compares two derivations. Entrywise functions are differentiated by the
scalar autodiff engine (`symgrad.vjp`, itself independent of sympy's derivatives) on whole arrays.
"""

import numpy as np

from .. import vjp as scalar_autodiff
from ..errors import UnsupportedError
from ..primitives.matrix_record import gap, matrix_rule
from ..values import as_symbol_list, bind
from ..vjp import Result
from . import records  # noqa: F401 - enters the matrix-node records
from .evaluate import Env, NumpyOps, evaluate_all
from .graph import matrix_symbols, operands, topological
from .rules import as_scalar_loss


def vjp_rule(node):
    """The node's numeric VJP: its matrix record's `array_vjp`, the scalar record's `vjp` for a scalar node."""
    if (found := matrix_rule(node, "array_vjp")) is not None:
        return found
    if node.is_Matrix:
        why = gap(node, "array_vjp") or "give its record (symgrad.matrix.records) an array_vjp rule"
        raise UnsupportedError(f"matrix autodiff has no rule for {type(node).__name__} (in {str(node)[:60]}): {why}")
    scalar_rule = scalar_autodiff.vjp_rule(node)
    if scalar_rule is None:
        raise UnsupportedError(f"matrix autodiff has no rule for the scalar function {type(node).__name__}")
    return lambda env, node, g, ans, *xs: scalar_rule(g, ans, *xs)


def backward(expr, wrt, values, nonfinite="raise"):
    """Value and gradients (each in its symbol's shape) of the matrix-level `expr`; a `Result`."""
    expr = as_scalar_loss(expr)
    wrt = as_symbol_list(wrt)
    symbols = sorted(matrix_symbols([expr]) | set(wrt), key=str)
    bound, sizes = bind(symbols, values, nonfinite=nonfinite, sizes=True)
    env = Env(sizes, NumpyOps())
    env.fallbacks = []
    targets = set(wrt)
    with np.errstate(all="ignore"):
        table = evaluate_all([expr], bound, sizes, env.ops)
        order = topological([expr])
        needed = set()
        for node in order:
            if node in targets or any(c in needed for c in operands(node)):
                needed.add(node)
        adjoint = {expr: np.float64(1.0)}
        for node in reversed(order):
            if node not in adjoint or node in targets or not operands(node):
                continue
            g = adjoint.pop(node)
            ops = operands(node)
            contributions = vjp_rule(node)(env, node, g, table[node], *[table[a] for a in ops])
            for arg, c in zip(ops, contributions, strict=True):
                if c is None or arg not in needed:
                    continue
                adjoint[arg] = adjoint[arg] + c if arg in adjoint else c
    grads = []
    for w in wrt:
        g = adjoint.get(w)
        shape = np.shape(bound[w])
        g = np.zeros(shape) if g is None else np.broadcast_to(np.asarray(g, dtype=float), shape)
        grads.append(float(g) if not shape else np.array(g))
    return Result(table[expr], grads, sorted(set(env.fallbacks)))


def grad(expr, wrt, values, nonfinite="raise"):
    """Gradients of the matrix-level `expr` for each of `wrt`, numpy arrays of each one's shape."""
    return backward(expr, wrt, values, nonfinite).grads
