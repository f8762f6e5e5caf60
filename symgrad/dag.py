"""Iterative walks over sympy expression DAGs.

sympy hash-conses structurally equal subexpressions, so an expression is a DAG; every pass in
symgrad goes through `topological` (children before parents, each node once) and never recurses,
so a million-node expression hits no recursion limit.
"""

import gc
from contextlib import contextmanager

import sympy as sp


@contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector around a pass that allocates millions of nodes.

    Expression nodes hold no reference cycles, but each full collection scans every live node,
    which makes building a large expression quadratic; pausing keeps the passes linear.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def children(node):
    """The operands a node is computed from (none for atoms and for MatrixSymbol's shape)."""
    if node.is_Atom or isinstance(node, sp.MatrixSymbol):
        return ()
    return node.args


def _unhashed(node):
    return not node.is_Atom and getattr(node, "_mhash", 0) is None


def hash_bottom_up(roots):
    """Compute (and let sympy cache) every node's hash, operands first.

    sympy hashes lazily and recursively: the first `hash()` of an expression built with
    `evaluate=False` walks its whole depth on the Python stack. Hashing operands first makes each
    hash O(1). A cached hash implies cached hashes below it, so hashed subtrees are skipped.
    """
    stack = [r for r in roots if _unhashed(r)]
    expanded = set()  # ids of nodes whose operands are already on the stack
    while stack:
        node = stack[-1]
        if id(node) in expanded or not _unhashed(node):
            stack.pop()
            hash(node)
            continue
        expanded.add(id(node))
        stack.extend(c for c in children(node) if _unhashed(c))


def topological(roots, children=children):
    """All nodes reachable from `roots`, each once, every node after its operands (`children`)."""
    hash_bottom_up(roots)
    order, seen = [], set()
    for root in roots:
        if root in seen:
            continue
        stack = [(root, iter(children(root)))]
        seen.add(root)
        while stack:
            node, it = stack[-1]
            for child in it:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(children(child))))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def is_operation(node):
    """True for nodes that cost an operation (not symbols or numbers)."""
    return not (node.is_Atom or isinstance(node, sp.MatrixSymbol))


def op_count(roots):
    """Operations in the DAG of `roots`: each distinct operation once, n-ary nodes as n − 1."""
    total = 0
    for node in topological(roots):
        if is_operation(node):
            total += max(1, len(node.args) - 1)
    return total


def tree_op_count(roots):
    """Operations if the DAG of `roots` were written out as trees (what naive printing costs)."""
    size = {}
    for node in topological(roots):
        if is_operation(node):
            size[node] = max(1, len(node.args) - 1) + sum(size[c] for c in node.args)
        else:
            size[node] = 0
    return sum(size[r] for r in roots)


def depends_on(roots, symbols):
    """The set of nodes in the DAG of `roots` that depend on any of `symbols`."""
    targets = set(symbols)
    dependent = set()
    for node in topological(roots):
        if node in targets or any(c in dependent for c in children(node)):
            dependent.add(node)
    return dependent


def structural_hash(roots):
    """A sha256 over the DAG of `roots` (Merkle-style, iterative): equal expressions, equal hash."""
    import hashlib

    digest = {}
    for node in topological(roots):
        h = hashlib.sha256(type(node).__name__.encode())
        if node.args and not isinstance(node, sp.MatrixSymbol):
            for child in node.args:
                h.update(digest[child])
        else:
            h.update(sp.srepr(node).encode())
        digest[node] = h.digest()
    top = hashlib.sha256()
    for r in roots:
        top.update(digest[r])
    return top.hexdigest()


def free_symbols(roots):
    """Symbols (and MatrixSymbols) in the DAG of `roots`; linear, unlike sympy's tree walk."""
    return {n for n in topological(roots) if isinstance(n, (sp.Symbol, sp.MatrixSymbol))}
