"""The one reverse sweep: adjoints over any expression DAG, scalar and matrix nodes alike.

Every reverse mode in symgrad is this walk: the symbolic one (`symbolic.adjoints`, whose pullback
reads a node's record for its scalar `partials` or its matrix `adjoint`) and the numeric one
(`vjp.backward`, whose pullback reads `vjp` or `array_vjp`). The walk visits each distinct node
once (sympy hash-conses, so the DAG is its distinct nodes) in reverse topological order, forms a
node's adjoint from all its consumers' contributions before pushing it on, never recurses and is
linear in the size of the DAG. The two derivations share only this walk, never their rules.
"""

from .dag import topological
from .matrix.graph import operands


def reverse_sweep(root, wrt, seed, pullback, total=None, keep=True):
    """node -> its adjoint, for every node of `root`'s DAG on a path to one of `wrt`.

    `pullback(node, adjoint)` returns one contribution per operand (`matrix.graph.operands`; None
    for no contribution) or None when nothing flows on. `total(node, terms)` forms a node's
    adjoint from its list of contributions (a symbolic sum written once, n-ary); without it
    contributions are added as they arrive (numeric arrays: one pending value per node). The walk
    stops at `wrt` entries; `keep=False` keeps only their adjoints (the numeric sweep's memory).
    """
    order = topological([root], operands)
    targets = set(wrt)
    ops_of, needed = {}, set()
    for node in order:
        ops = ops_of[node] = operands(node)
        if node in targets or any(c in needed for c in ops):
            needed.add(node)
    pending = {root: [seed] if total else seed}
    adjoint = {}
    for node in reversed(order):
        adj = pending.pop(node, None)
        if adj is None:
            continue
        if total:
            adj = total(node, adj)
        if keep or node in targets:
            adjoint[node] = adj
        ops = ops_of[node]
        if node in targets or not ops:
            continue
        contributions = pullback(node, adj)
        if contributions is None:
            continue
        for arg, c in zip(ops, contributions, strict=True):
            if c is None or arg not in needed:
                continue
            if total:
                pending.setdefault(arg, []).append(c)
            else:
                pending[arg] = pending[arg] + c if arg in pending else c
    return adjoint
