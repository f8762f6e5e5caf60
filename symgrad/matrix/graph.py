"""Walking matrix expression DAGs: which arguments are values, and which symbols are sizes.

A matrix DAG mixes matrix nodes, the scalar nodes above `SumAll`/`Trace`/`M[i, j]`, and node
arguments that are not values at all (the Lambda of an entrywise function, the indices of an
element, the sizes of `OneMatrix`). `operands` says which arguments carry values (the node's
record, `symgrad.matrix.records`); every pass in
`symgrad.matrix` walks through it, iteratively (`symgrad.dag.topological`).
"""

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from .. import dag
from ..primitives import matrix_rule


def operands(node):
    """The value-carrying arguments of `node` (none for symbols, numbers and constant matrices).

    A node's matrix record says which (`operands`, found along the class's bases: `Inverse` is a
    `MatPow`); without one, every argument but a function (a Lambda) and a tuple (slice bounds, a
    Sum's limits), which are never values.
    """
    if node.is_Atom or isinstance(node, sp.MatrixSymbol):
        return ()
    rule = matrix_rule(node, "operands")
    return rule(node) if rule else tuple(a for a in node.args if not isinstance(a, (sp.Lambda, sp.Tuple)))


def topological(roots):
    """Every value node reachable from `roots`, operands first, each once."""
    return dag.topological(roots, children=operands)


def is_matrix(node):
    return isinstance(node, MatrixExpr) or isinstance(node, sp.MatrixBase)


def is_matrix_level(expr, wrt=()):
    """True when `expr` or a `wrt` entry involves matrices (then `symgrad.matrix` handles it)."""
    if any(isinstance(w, sp.MatrixSymbol) for w in wrt) or is_matrix(expr):
        return True
    return any(is_matrix(n) for n in dag.topological([expr]))


def matrix_symbols(roots):
    """The MatrixSymbols and scalar Symbols the DAG of `roots` reads (not the bound ones of Lambdas)."""
    return {n for n in topological(roots) if isinstance(n, (sp.MatrixSymbol, sp.Symbol))}


def size_symbols(symbols):
    """The Symbols that appear in the shapes of the MatrixSymbols among `symbols`."""
    out = set()
    for s in symbols:
        if isinstance(s, sp.MatrixSymbol):
            for dim in s.shape:
                out |= dim.free_symbols
    return out
