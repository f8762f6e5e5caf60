"""Numeric evaluation of sympy expression DAGs by the primitive records' rules, on numpy or torch.

Used by autodiff (forward values), by `check` (evaluating the symbolic gradient) and as the
PyTorch oracle. Each rule is the numerically stable form (sigmoid through logaddexp, and so on).
"""

import sympy as sp

from .dag import topological
from .errors import DTypeError, UnsupportedError
from .primitives import NumpyBackend, TorchBackend, rule

__all__ = ["NumpyBackend", "TorchBackend", "evaluate", "evaluate_all", "forward_rule", "leaf_value"]


def leaf_value(node, values, backend):
    """Value of an atom: a bound symbol, or a real number."""
    if node in values:
        return values[node]
    if node.is_number:
        if node in (sp.true, sp.false):
            return bool(node)
        if not node.is_real:
            raise DTypeError(f"the expression contains the non-real number {node}; symgrad works over the reals")
        return backend.const(node)
    if node is sp.true or node is sp.false:
        return bool(node)
    if not isinstance(node, sp.Symbol):
        raise UnsupportedError(f"cannot evaluate {type(node).__name__} ({_short(node)}): it is neither a number nor a symbol")
    from .errors import UnboundSymbolError

    raise UnboundSymbolError(f"no value given for {node}; add it to the values mapping")


def forward_rule(node, backend=None):
    """The evaluation rule for `node`'s type (searching base classes) on `backend`, or our error naming it."""
    found = rule(node, "evaluate")
    if getattr(backend, "name", None) == "torch":
        found = rule(node, "torch") or found
    if found is not None:
        return found
    raise UnsupportedError(
        f"cannot evaluate {type(node).__name__} (in {_short(node)}); symgrad has no numeric rule for it. "
        "Rewrite it with supported functions or give its evaluate rule to symgrad.register"
    )


def _short(node, width=60):
    text = str(node)
    return text if len(text) <= width else text[: width - 1] + "…"


def check_supported(order):
    """Raise our error naming the outermost operation in `order` that has no evaluation rule."""
    for node in reversed(order):
        if node.args and not isinstance(node, sp.MatrixSymbol):
            forward_rule(node)


def evaluate_all(roots, values, backend=None):
    """Values of every node in the DAG of `roots`, children before parents (a dict node -> value)."""
    backend = backend or NumpyBackend()
    order = topological(roots)
    check_supported(order)
    out = {}
    for node in order:
        if not node.args or node in values:
            out[node] = leaf_value(node, values, backend)
        else:
            out[node] = forward_rule(node, backend)(backend, *[out[a] for a in node.args])
    return out


def evaluate(exprs, values, backend=None):
    """Numeric values of `exprs` (a list), sharing work across their common subexpressions."""
    table = evaluate_all(exprs, values, backend)
    return [table[e] for e in exprs]
