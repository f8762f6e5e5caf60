"""`symgrad.grad`: the symbolic gradient of a scalar or a matrix-level model.

Both levels run the one symbolic sweep (`symbolic.adjoints` on `symgrad.sweep`): scalar expressions
directly (`symbolic.grad`, which also offers per-entry `sympy.diff`), matrix-level ones (MatrixSymbols)
through `symgrad.matrix.rules`, which first prepares the loss (a matrix meaning its entries' sum).
"""

from . import symbolic
from .matrix.graph import is_matrix_level
from .matrix.nodes import entrywise_as_maps
from .matrix.rules import reverse as matrix_reverse
from .values import as_expr, as_symbol_list


def grad(expr, wrt, method="reverse", simplify=False):
    """Symbolic gradient of `expr` with respect to each symbol in `wrt` (a list, `wrt` order).

    method="reverse" (default) shares subexpressions between the forward pass and all gradient
    entries; method="diff" differentiates each entry separately with `sympy.diff`, which reads
    better for small models and swells for large ones. `simplify=True` applies sympy's cheap
    `factor_terms` to each entry (for printing). A matrix-level `expr` gets one matrix expression
    per MatrixSymbol, of its shape, from the matrix reverse mode.
    """
    expr = as_expr(expr)
    wrt = as_symbol_list(wrt)
    if is_matrix_level(expr, wrt):
        return entrywise_as_maps(matrix_reverse(expr, wrt))  # prints entrywise(tanh(X*W)), not Lambda(...)
    return symbolic.grad(expr, wrt, method, simplify)
