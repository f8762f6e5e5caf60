"""Numeric evaluation of sympy expression DAGs, one rule per node type, on numpy or torch.

Used by autodiff (forward values), by `check` (evaluating the symbolic gradient) and as the
PyTorch oracle. Each rule is the numerically stable form (sigmoid through logaddexp, and so on).
"""

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.functions.elementary.piecewise import ExprCondPair

from . import functions as F
from .dag import topological
from .errors import DTypeError, UnsupportedError
from .registry import lookup


class NumpyBackend:
    """Array operations the evaluation rules use, on numpy."""

    xp = np

    @staticmethod
    def const(x, like=None):
        return np.float64(x)

    @staticmethod
    def logaddexp(a, b):
        return np.logaddexp(a, b)

    @staticmethod
    def where(c, a, b):
        return np.where(c, a, b)

    @staticmethod
    def heaviside(x, h0):
        return np.heaviside(x, h0)

    @staticmethod
    def erf(x):
        from math import erf

        return np.vectorize(erf, otypes=[float])(x)


class TorchBackend:
    """The same operations on torch tensors (float64), for the PyTorch autograd oracle."""

    def __init__(self):
        import torch

        self.xp = torch
        self.torch = torch

    def const(self, x, like=None):
        return self.torch.tensor(float(x), dtype=self.torch.float64)

    def logaddexp(self, a, b):
        t = self.torch
        return t.logaddexp(t.as_tensor(a, dtype=t.float64), t.as_tensor(b, dtype=t.float64))

    def where(self, c, a, b):
        t = self.torch
        return t.where(t.as_tensor(c), t.as_tensor(a, dtype=t.float64), t.as_tensor(b, dtype=t.float64))

    def heaviside(self, x, h0):
        """A step built from `where` (torch's own `heaviside` has no derivative): zero slope, as ours."""
        t = self.torch
        x = t.as_tensor(x, dtype=t.float64)
        one, zero = t.ones_like(x), t.zeros_like(x)
        return t.where(x > 0, one, t.where(x == 0, one * float(h0), zero))

    def erf(self, x):
        return self.torch.special.erf(x)


def _sigmoid(b, x):
    return b.xp.exp(-b.logaddexp(0.0, -x))


def _logsumexp(b, *xs):
    """Shift by the running maximum so no exponential overflows."""
    m = _max(b, *xs)
    m = b.where(b.xp.isfinite(m), m, 0.0 * m)
    total = 0.0
    for x in xs:
        total = total + b.xp.exp(x - m)
    return m + b.xp.log(total)


def _horner(x2, coefficients):
    out = x2 * 0.0 + float(coefficients[-1])
    for c in reversed(coefficients[:-1]):
        out = out * x2 + float(c)
    return out


def _sinc(b, x):
    """sin(x)/x, by its series near 0 (`symgrad.functions.SINC_TAYLOR`)."""
    small = x * x < F.SINC_SERIES_BELOW
    safe = b.where(small, x * 0.0 + 1.0, x)
    return b.where(small, _horner(x * x, F.SINC_TAYLOR), b.xp.sin(safe) / safe)


def _dsinc(b, x):
    """sinc'(x) = (x cos x − sin x)/x², by its series near 0."""
    small = x * x < F.SINC_SERIES_BELOW
    safe = b.where(small, x * 0.0 + 1.0, x)
    return b.where(small, x * _horner(x * x, F.DSINC_TAYLOR), (safe * b.xp.cos(safe) - b.xp.sin(safe)) / (safe * safe))


def _max(b, *xs):
    out = xs[0]
    for x in xs[1:]:
        out = b.where(x > out, x, out)
    return out


def _min(b, *xs):
    out = xs[0]
    for x in xs[1:]:
        out = b.where(x < out, x, out)
    return out


def _piecewise(b, *pairs):
    """Piecewise((expr_i, cond_i), ...): the first branch whose condition holds; NaN where none does.

    A Piecewise without a default branch is undefined there (sympy says nan), never its last branch.
    """
    value, cond = pairs[-1]
    out = value if cond is True else b.where(cond, value, b.const(np.nan) + 0.0 * value)
    for value, cond in reversed(pairs[:-1]):
        out = b.where(cond, value, out)
    return out


def _fold(op, conds):
    out = conds[0]
    for c in conds[1:]:
        out = op(out, c)
    return out


def _mul(b, *xs):
    out = xs[0]
    for x in xs[1:]:
        out = out * x
    return out


def _add(b, *xs):
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


# node type -> rule(backend, *argument values); rules needing the node itself are in NODE_RULES
FORWARD = {
    sp.Add: _add,
    sp.Mul: _mul,
    sp.Pow: lambda b, x, e: x**e,
    sp.exp: lambda b, x: b.xp.exp(x),
    sp.log: lambda b, x: b.xp.log(x),
    sp.sin: lambda b, x: b.xp.sin(x),
    sp.cos: lambda b, x: b.xp.cos(x),
    sp.tan: lambda b, x: b.xp.tan(x),
    sp.asin: lambda b, x: b.xp.arcsin(x) if b.xp is np else b.xp.asin(x),
    sp.acos: lambda b, x: b.xp.arccos(x) if b.xp is np else b.xp.acos(x),
    sp.atan: lambda b, x: b.xp.arctan(x) if b.xp is np else b.xp.atan(x),
    sp.sinh: lambda b, x: b.xp.sinh(x),
    sp.cosh: lambda b, x: b.xp.cosh(x),
    sp.tanh: lambda b, x: b.xp.tanh(x),
    sp.Abs: lambda b, x: b.xp.abs(x),
    sp.sign: lambda b, x: b.xp.sign(x),
    sp.erf: lambda b, x: b.erf(x),
    sp.Heaviside: lambda b, x, h0=0.5: b.heaviside(x, float(h0)),
    sp.Max: _max,
    sp.Min: _min,
    F.sigmoid: _sigmoid,
    F.relu: lambda b, x: b.where(x > 0, x, 0.0 * x),
    F.softplus: lambda b, x: b.logaddexp(0.0, x),
    F.logsigmoid: lambda b, x: -b.logaddexp(0.0, -x),
    F.logsumexp: _logsumexp,
    sp.sinc: _sinc,
    F.dsinc: _dsinc,
    log1p: lambda b, x: b.xp.log1p(x),
    expm1: lambda b, x: b.xp.expm1(x),
    sp.StrictGreaterThan: lambda b, x, y: x > y,
    sp.GreaterThan: lambda b, x, y: x >= y,
    sp.StrictLessThan: lambda b, x, y: x < y,
    sp.LessThan: lambda b, x, y: x <= y,
    sp.Equality: lambda b, x, y: x == y,
    sp.Unequality: lambda b, x, y: x != y,
    sp.And: lambda b, *cs: _fold(b.xp.logical_and, cs),
    sp.Or: lambda b, *cs: _fold(b.xp.logical_or, cs),
    sp.Not: lambda b, c: b.xp.logical_not(b.xp.as_tensor(c) if b.xp is not np else c),
    sp.Piecewise: _piecewise,
    ExprCondPair: lambda b, value, cond: (value, cond),
}


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


def forward_rule(node):
    """The evaluation rule for `node`'s type (searching base classes), or our error naming it."""
    if (found := lookup(FORWARD, node)) is not None:
        return found
    raise UnsupportedError(
        f"cannot evaluate {type(node).__name__} (in {_short(node)}); symgrad has no numeric rule for it. "
        "Rewrite it with supported functions or register a rule in symgrad.numeric.FORWARD"
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
            out[node] = forward_rule(node)(backend, *[out[a] for a in node.args])
    return out


def evaluate(exprs, values, backend=None):
    """Numeric values of `exprs` (a list), sharing work across their common subexpressions."""
    table = evaluate_all(exprs, values, backend)
    return [table[e] for e in exprs]
