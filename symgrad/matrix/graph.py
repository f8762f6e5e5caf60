"""Walking matrix expression DAGs: which arguments are values, and which symbols are sizes.

A matrix DAG mixes matrix nodes, the scalar nodes above `SumAll`/`Trace`/`M[i, j]`, and node
arguments that are not values at all (the Lambda of an entrywise function, the indices of an
element, the sizes of `OneMatrix`). `operands` says which arguments carry values; every pass in
`symgrad.matrix` walks through it, iteratively (`symgrad.dag.topological`).
"""

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement, MatrixExpr

from .. import dag
from ..registry import lookup
from .nodes import Map, Unit

LEAVES = (sp.MatrixSymbol, sp.OneMatrix, sp.ZeroMatrix, sp.Identity, Unit)

# node type -> the arguments that are values (the rest are functions, indices or sizes)
OPERANDS = {
    ElementwiseApplyFunction: lambda n: (n.expr,),
    Map: lambda n: n.operands,
    MatrixElement: lambda n: (n.parent,),
    sp.MatPow: lambda n: (n.base,),  # the exponent is a fixed integer (`nodes.power_exponent`)
    sp.Inverse: lambda n: (n.arg,),
    sp.MatrixBase: tuple,  # an explicit matrix's entries (`prepare` rewrites the scalar ones)
}


def operands(node):
    """The value-carrying arguments of `node` (none for symbols, numbers and constant matrices).

    Rules are found along the class's bases, as every rule table's are (`Inverse` is a `MatPow`);
    a function (a Lambda) and a tuple (slice bounds, a Sum's limits) are never values.
    """
    if node.is_Atom or isinstance(node, LEAVES):
        return ()
    rule = lookup(OPERANDS, node)
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
