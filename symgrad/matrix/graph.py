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
    Every reverse sweep walks through here, so what a class's operands are is found once per class.
    """
    if node.is_Atom or isinstance(node, sp.MatrixSymbol):
        return ()
    rule = _OPERANDS.get(type(node)) if _RULES.get("records") == len(RECORDS) else None
    if rule is None:
        rule = _OPERANDS[type(node)] = class_rule(type(node), "operands") or _plain(type(node))
    if rule is _ARGS:
        return node.args
    if rule is _FILTER:
        return tuple(a for a in node.args if not isinstance(a, _NOT_VALUES) or isinstance(a, ExprCondPair))
    return rule(node)


_NOT_VALUES = (sp.Lambda, sp.Tuple)
# arithmetic and functions: every argument is a value (no Lambda, no limits), so `args` as they are
_PLAIN = (sp.Add, sp.Mul, sp.Pow, sp.Function, sp.Piecewise, ExprCondPair, sp.Rel, sp.logic.boolalg.BooleanFunction)
_ARGS, _FILTER = object(), object()
_RULES = {}  # path -> class -> the class's matrix-record rule (False: none), while RECORDS is unchanged
_OPERANDS = {}  # class -> its operands rule, _ARGS or _FILTER (emptied with _RULES)


def _plain(cls):
    return _ARGS if issubclass(cls, _PLAIN) else _FILTER


def class_rule(cls, path):
    """The rule `path` of the matrix record of class `cls` (None if none), looked up once per class.

    The sweeps ask it for every node; a registry that gained or lost a record is asked afresh.
    """
    if _RULES.get("records") != len(RECORDS):
        _RULES.clear()
        _OPERANDS.clear()
        _RULES["records"] = len(RECORDS)
    table = _RULES.get(path)
    if table is None:
        table = _RULES[path] = {}
    rule = table.get(cls)
    if rule is None:
        rule = table[cls] = matrix_rule(cls, path) or False
    return None if rule is False else rule


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
