"""Walking matrix expression DAGs: which arguments are values, and which symbols are sizes.

A matrix DAG mixes matrix nodes, the scalar nodes above `SumAll`/`Trace`/`M[i, j]`, and node
arguments that are not values at all (the Lambda of an entrywise function, the indices of an
element, the sizes of `OneMatrix`). `operands` says which arguments carry values (the node's
record, `symgrad.matrix.records`); every pass in
`symgrad.matrix` walks through it, iteratively (`symgrad.dag.topological`).
"""

import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.matrices.expressions.matexpr import MatrixExpr

from .. import dag
from ..primitives import matrix_rule
from ..primitives.registry import RECORDS


def operands(node):
    """The value-carrying arguments of `node` (none for symbols, numbers and constant matrices).

    A node's matrix record says which (`operands`, found along the class's bases: `Inverse` is a
    `MatPow`); without one, every argument but a function (a Lambda) and a tuple (slice bounds, a
    Sum's limits), which are never values; a Piecewise's (value, condition) pairs are values.
    Every reverse sweep walks through here, so the record is looked up once per class.
    """
    if node.is_Atom or isinstance(node, sp.MatrixSymbol):
        return ()
    rule = _operands_rule(type(node))
    if rule:
        return rule(node)
    args = node.args
    if any(isinstance(a, _NOT_VALUES) and not isinstance(a, ExprCondPair) for a in args):
        return tuple(a for a in args if not isinstance(a, _NOT_VALUES) or isinstance(a, ExprCondPair))
    return args


_NOT_VALUES = (sp.Lambda, sp.Tuple)
_RULES = {}  # class -> its matrix record's operands rule (False: none), while RECORDS is unchanged


def _operands_rule(cls):
    if _RULES.get("records") != len(RECORDS):
        _RULES.clear()
        _RULES["records"] = len(RECORDS)
    rule = _RULES.get(cls)
    if rule is None:
        rule = _RULES[cls] = matrix_rule(cls, "operands") or False
    return rule


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
