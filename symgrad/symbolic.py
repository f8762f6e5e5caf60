"""Symbolic gradients: reverse mode over the expression DAG (default) or sympy's `diff`.

Reverse mode (`adjoints`, the one sweep of `symgrad.sweep`, for scalar and matrix nodes alike) builds
each node's adjoint as a sympy expression from its consumers' adjoints and each node's primitive
record (`symgrad.primitives`): a scalar node's partial derivatives, a matrix node's adjoint rule. The partials reuse the node itself where the calculus allows
(d exp(x) = exp(x), dσ = σ(1 − σ), d tanh = 1 − tanh²), so the gradient shares the forward pass's
subexpressions and its DAG stays within a small constant of the forward cost. Per-parameter
`sympy.diff` is kept for printing derivations and as an independent comparison path.
"""

import sympy as sp

from . import sweep
from .dag import gc_paused
from .errors import InvalidArgumentError, UnsupportedError
from .matrix.algebra import add as matrix_add
from .matrix.graph import class_rule, is_matrix
from .primitives import rule
from .primitives.build import add, mul
from .primitives.matrix_record import gap
from .values import as_expr, as_symbol_list

METHODS = ("reverse", "diff")


def partials(node):
    """Local partial derivatives of `node` with respect to each of its arguments."""
    if (found := rule(node, "partials")) is not None:
        return found(node)
    if isinstance(node, sp.Function):
        try:
            out = [node.fdiff(i + 1) for i in range(len(node.args))]
        except Exception:  # noqa: BLE001 - sympy signals "no derivative" many ways
            out = None
        if out is not None and not any(d.has(sp.Derivative, sp.Subs) for d in out):
            return out
    raise UnsupportedError(
        f"cannot differentiate {type(node).__name__} (in {str(node)[:60]}) symbolically; "
        "give its partials to symgrad.register"
    )


def pullback(node, adjoint):
    """The node's contributions to its operands' adjoints, from its record: a matrix node's
    `adjoint` rule, a scalar node's partials times its adjoint G (G·∂, unevaluated, so sympy does
    not flatten the shared adjoint into each product). None when G is zero."""
    if (rule := class_rule(type(node), "adjoint")) is not None:
        return rule(node, adjoint)
    if node.is_Matrix:
        why = gap(node, "adjoint") or "give its record (symgrad.matrix.records) an adjoint rule"
        raise UnsupportedError(f"no matrix derivative rule for {type(node).__name__} (in {str(node)[:60]}): {why}")
    if adjoint is sp.S.Zero:
        return None
    return [None if (term := mul(adjoint, local)) is sp.S.Zero else term for local in partials(node)]


def total(node, terms):
    """A node's adjoint: the sum of its consumers' contributions (matrices summed as matrices)."""
    return matrix_add(*terms) if node.is_Matrix else add(*terms)


@gc_paused()
def adjoints(expr, wrt, seed=sp.S.One):
    """∂expr/∂node for every node between `expr` and `wrt` (a dict), by symbolic reverse mode.

    The one symbolic sweep (`sweep.reverse_sweep`) for scalar and matrix-level DAGs alike; a
    matrix-level `expr` is a prepared scalar loss (`matrix.rules.reverse` makes it one). The
    derivation documents read the adjoints of inner nodes (the δ terms) from here.
    """
    return sweep.reverse_sweep(expr, wrt, seed, pullback, total)


def reverse(expr, wrt, seed=sp.S.One):
    """Adjoints of `wrt` for `expr` by symbolic reverse mode (a list of sympy expressions; a
    MatrixSymbol's is a matrix expression of its shape)."""
    adjoint = adjoints(expr, wrt, seed)
    return [adjoint.get(w, sp.ZeroMatrix(*w.shape) if w.is_Matrix else sp.S.Zero) for w in wrt]


def grad(expr, wrt, method="reverse", simplify=False):
    """Symbolic gradient of `expr` with respect to each symbol in `wrt` (a list, `wrt` order).

    method="reverse" (default) shares subexpressions between the forward pass and all gradient
    entries; method="diff" differentiates each entry separately with `sympy.diff`, which reads
    better for small models and swells for large ones. `simplify=True` applies sympy's cheap
    `factor_terms` to each entry (for printing). The scalar engine: `symgrad.grad` also takes
    matrix-level expressions.
    """
    expr = as_expr(expr)
    wrt = as_symbol_list(wrt)
    if is_matrix(expr) or any(isinstance(w, sp.MatrixSymbol) for w in wrt):  # no DAG walk: symgrad.grad did one
        raise InvalidArgumentError(
            f"symgrad.symbolic.grad differentiates scalar expressions; {str(expr)[:60]} involves "
            "MatrixSymbols: call symgrad.grad, which hands matrix-level models to symgrad.matrix"
        )
    if method == "reverse":
        out = reverse(expr, wrt)
    elif method == "diff":
        # the Dirac delta of a step's derivative is dropped, as in the reverse-mode table
        out = [sp.diff(expr, w).replace(sp.DiracDelta, lambda *args: sp.S.Zero) for w in wrt]
    else:
        raise InvalidArgumentError(f"method must be one of {METHODS}, got {method!r}")
    return [sp.factor_terms(g) for g in out] if simplify else out
