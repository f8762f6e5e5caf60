"""Matrix-level models: sympy matrix expressions over MatrixSymbols, differentiated and verified.

`symgrad.grad`, `symgrad.autodiff.grad`, `symgrad.check` and `symgrad.compile` hand an expression
to this package when it (or a `wrt` entry) involves matrices. Pipeline order: `nodes` (the node
types sympy lacks), `records` (one record per node class: every path's rule), `graph` (walking), `evaluate`,
`rules` (symbolic reverse mode), `autodiff` (numeric reverse mode): both the one sweep of
`symgrad.sweep`, which walks scalar and matrix nodes alike (values are bound by
`symgrad.values`, checked by `symgrad.check`, both for either level); second derivatives:
`forward` (tangent rules), `linear` (the matrix of a linear map), `hessian`, `hessian_kernel`.
"""

from . import records  # noqa: F401 - enters the matrix-node records before any path reads them
from .graph import is_matrix_level
from .hessian import hessian, hvp
from .hessian_kernel import compile_hessian
from .nodes import LogDet, Map, RowLogSumExp, RowSoftmax, SumAll, Unit, logdet
from .rules import reverse


def grad(expr, wrt):
    """Gradients of the matrix-level `expr`: a matrix expression of each MatrixSymbol's shape,
    entrywise functions as `Map`s so they print `entrywise(tanh(X*W))`."""
    from ..values import as_symbol_list
    from .nodes import entrywise_as_maps

    return entrywise_as_maps(reverse(expr, as_symbol_list(wrt)))


__all__ = ["grad", "hessian", "hvp", "compile_hessian", "is_matrix_level", "logdet", "LogDet", "Map", "SumAll",
           "RowLogSumExp", "RowSoftmax", "Unit"]
