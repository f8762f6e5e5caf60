"""The form every matrix path takes a model in: no value hidden where the rules do not look.

The rules, the autodiff and the lowering walk a node's *operands* (`graph.operands`); anything
else in a node (the Lambda of an entrywise function, the indices of an element, the entries of
an explicit matrix) is treated as fixed. A parameter hidden there would get a zero gradient, so
before differentiating, `prepare`

- lifts what an entrywise function closes over into operands (`x.applyfunc(Lambda(t, w*t))`
  becomes `Map(Lambda((t, c), c*t), x, w)`, see `nodes.close_over`);
- writes a small explicit matrix as Σ entry·Unit(i, j), so its entries are operands;
- refuses, naming the node, any symbol still hidden in a non-operand (a symbolic index `X[i, 0]`,
  a symbolic matrix power), since no path could differentiate or evaluate it.
"""

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..errors import UnsupportedError
from .graph import operands, size_symbols, topological
from .nodes import Map, SumAll, Unit, power_exponent

EXPLICIT_MAX_ENTRIES = 256  # explicit matrices larger than this are data: pass them as a MatrixSymbol


def prepare(expr):
    """`expr` with closures lifted and explicit matrices expanded; our error for a hidden symbol."""
    memo = {}
    for node in topological([expr]):
        memo[node] = _rewrite(_rebuilt(node, memo))
    out = memo[expr]
    _refuse_hidden(out)
    return out


def _rebuilt(node, memo):
    """`node` over its rewritten operands (the node itself when none changed)."""
    args = [memo.get(a, a) for a in node.args]
    if all(new is old for new, old in zip(args, node.args, strict=True)):
        return node
    return node.func(*args)


def _rewrite(node):
    if isinstance(node, ElementwiseApplyFunction) and isinstance(node.function, sp.Lambda):
        if node.function.expr.free_symbols - set(node.function.variables):
            return Map(node.function, node.expr)  # Map lifts the closure (nodes.close_over)
        return node
    if isinstance(node, sp.MatrixBase) and not _holds_blocks(node):
        return _expanded(node)
    return node


def _holds_blocks(matrix):
    """An explicit matrix of matrices (a BlockMatrix's layout): its owner's rule decides."""
    return any(getattr(e, "is_Matrix", False) for e in matrix)


def _expanded(matrix):
    """An explicit matrix as Σ entry·Unit(i, j): its entries become operands the rules see."""
    rows, cols = matrix.shape
    if rows * cols > EXPLICIT_MAX_ENTRIES:
        raise UnsupportedError(
            f"explicit {rows}×{cols} matrix in the model ({str(matrix)[:60]}): symgrad differentiates explicit matrices "
            f"of at most {EXPLICIT_MAX_ENTRIES} entries; pass larger ones as a MatrixSymbol input"
        )
    terms = []
    for i in range(rows):
        for j in range(cols):
            entry = sp.sympify(matrix[i, j])
            if entry != 0:
                terms.append(sp.MatMul(prepare(entry), Unit(rows, cols, i, j)))
    if not terms:
        return sp.ZeroMatrix(rows, cols)
    return terms[0] if len(terms) == 1 else sp.MatAdd(*terms)


def hidden_symbols(node):
    """Symbols `node` reads outside its operands (bound variables of its Lambdas excluded)."""
    if isinstance(node, (sp.MatrixSymbol, sp.MatrixBase)) or node.is_Atom:  # entries are operands
        return set()
    ops = set(operands(node))
    out = set()
    for arg in node.args:
        if arg not in ops:
            out |= arg.free_symbols
    return out


def _refuse_hidden(expr):
    order = topological([expr])
    allowed = size_symbols([n for n in order if isinstance(n, sp.MatrixSymbol)])
    for node in order:  # the index of a Sum (its own rule refuses it with advice)
        allowed |= set(getattr(node, "bound_symbols", ()))
    for node in reversed(order):
        if isinstance(node, sp.MatPow) and not isinstance(node, sp.Inverse):
            power_exponent(node)  # its own advice first
        hidden = hidden_symbols(node) - allowed
        if hidden:
            names = ", ".join(sorted(map(str, hidden)))
            raise UnsupportedError(
                f"{type(node).__name__} {str(node)[:60]} reads {names} outside its operands (in an index, an exponent, "
                f"a size or a function of its own), where no derivative rule looks; symgrad needs numbers there: "
                f"substitute numbers for {names}, or write the dependence with matrix operations and entrywise functions"
            )


def as_scalar_loss(expr):
    """The loss every matrix path takes: prepared (`prepare`), a matrix meaning the sum of its entries."""
    expr = prepare(expr)
    return SumAll(expr) if expr.is_Matrix else expr
