"""`symgrad.check`: symbolic, autodiff, finite differences (and PyTorch) side by side, at any level.

One check serves scalar and matrix models. What differs between the levels is data (`Level`): how
the loss is prepared, which engine derives the symbolic gradient, how values are evaluated and how
operations are counted. The rest is shared: the values are bound once (`symgrad.values.bind`), the
numeric autodiff is `symgrad.autodiff.backward`, and central differences move one entry of a
parameter at a time (a 0-d scalar parameter, one entry of a data array or of a matrix). An entry of
a per-sample data array moves only its own sample's loss, so only that sample is differenced; a
matrix parameter with more than `FD_ENTRIES` entries is compared along `DIRECTIONS` random
directions instead (⟨∇f, v⟩ against central differences of f along v), so the check runs at any size.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import autodiff, difference, numeric, symbolic
from .dag import op_count, tree_op_count
from .matrix import evaluate as matrix_evaluate
from .matrix import rules
from .matrix.graph import is_matrix_level, matrix_symbols, operands, topological
from .report import (
    ATOL,
    FD_ATOL,
    FD_RTOL,
    RTOL,
    Report,
    Row,
    relative_error,
    reported_value,
    require_finite_loss,
    torch_gradients,
)
from .rewrite import stabilize
from .values import as_expr, as_symbol_list, bind

FD_ENTRIES = 400
DIRECTIONS = 3
TREE_COUNT_LIMIT = 2000  # above this many forward operations the naive tree count is not worth its time


@dataclass(frozen=True)
class Level:
    """What checking a model of one level needs: data, not a second check.

    `loss(expr)`: the loss every path evaluates; `derive(expr, wrt, method)`: its symbolic gradient;
    `evaluate(exprs, bound, shape, torch)`: values (numpy, or float64 torch tensors), `shape` being
    what `bind` read off the arrays; `total(value, shape, like)`: a symbolic gradient's value in its
    symbol's shape (summed over the batch); `counts(expr, wrt, gradient)`: the report's operation counts.
    """

    name: str
    sizes: bool  # what `bind` reads off the arrays: the sizes of the matrices, or the batch shape
    loss: Callable
    derive: Callable
    evaluate: Callable
    total: Callable
    counts: Callable

    def bind(self, roots, wrt, values):
        """`values` bound for the symbols `roots` read and `wrt` (`symgrad.values.bind`): (bound, shape)."""
        return bind(sorted(matrix_symbols(roots) | set(wrt), key=str), values, sizes=self.sizes)


def batch_total(value, batch, shape):
    """A per-sample gradient value summed over the batch down to its symbol's `shape`."""
    full = np.broadcast_to(value, np.broadcast_shapes(np.shape(value), batch, shape))
    return autodiff.unbroadcast(full, shape)


def _matrix_ops(roots):
    """Operations in the DAG (each matrix or scalar operation once)."""
    return sum(1 for n in topological(roots) if operands(n))


SCALAR = Level(
    name="scalar",
    sizes=False,
    # every column evaluates the stable forms the kernels use (σ'(40) is 1.3e-17, not 1 − 1 = 0)
    loss=lambda expr: stabilize([expr])[0],
    derive=lambda expr, wrt, method: stabilize(symbolic.grad(expr, wrt, method=method)),
    evaluate=lambda exprs, bound, shape, torch=False: numeric.evaluate(exprs, bound, numeric.TorchBackend() if torch else None),
    total=lambda value, batch, like: batch_total(value, batch, np.shape(like)),
    counts=lambda expr, wrt, gradient: {
        "forward": op_count([expr]),
        "gradient_tree": tree_op_count(symbolic.grad(expr, wrt, method="diff")) if op_count([expr]) < TREE_COUNT_LIMIT else None,
        "gradient_cse": op_count(gradient),
    },
)

MATRIX = Level(
    name="matrix",
    sizes=True,
    loss=rules.as_scalar_loss,
    derive=lambda expr, wrt, method: rules.reverse(expr, wrt),  # one matrix reverse mode: no `method`
    evaluate=lambda exprs, bound, sizes, torch=False: matrix_evaluate.evaluate(
        exprs, bound, sizes, matrix_evaluate.TorchOps() if torch else None),
    total=lambda value, sizes, like: np.broadcast_to(np.asarray(value, dtype=float), np.shape(like)),
    counts=lambda expr, wrt, gradient: {"forward": _matrix_ops([expr]), "gradient_tree": None, "gradient_cse": _matrix_ops(gradient)},
)


def level_of(expr, wrt):
    """The level data for `expr` (values keyed by MatrixSymbols make it matrix level)."""
    return MATRIX if is_matrix_level(expr, wrt) else SCALAR


def prepared(expr, wrt):
    """(level, the loss every path evaluates, wrt as a list), our errors for bad arguments."""
    expr, wrt = as_expr(expr), as_symbol_list(wrt)
    level = level_of(expr, wrt)
    return level, level.loss(expr), wrt


def _plain(value):
    return float(value) if np.ndim(value) == 0 else value


def _differences(level, expr, wrt, bound, shape, entries=FD_ENTRIES, seed=0):
    """(gradients, directions, steps) by central differences: gradients[k] an array (a float for a
    0-d symbol) or None where directions[k] lists (v, slope along v) pairs instead; steps[k] the
    (smallest, largest) step used (`symgrad.difference` fits each to the value's magnitude)."""
    rng = np.random.default_rng(seed)

    def loss(w, value):
        return level.evaluate([expr], {**bound, w: value}, shape)[0]

    per_sample = np.shape(level.evaluate([expr], bound, shape)[0])  # the loss's shape: () or the batch's
    grads, directions, steps = [], [], []
    for w in wrt:
        base = np.asarray(bound[w], dtype=float)
        # one entry of a data array moves only its own sample's loss; a parameter moves all of it
        local = base.ndim > 0 and per_sample == base.shape
        if local or base.size <= entries:
            grad, used = np.zeros_like(base), np.zeros_like(base)
            for idx in np.ndindex(base.shape):

                def moved(delta, idx=idx, w=w, base=base, local=local):
                    shifted = base.copy()
                    shifted[idx] += delta
                    value = loss(w, shifted)
                    return value[idx] if local else value

                grad[idx], used[idx] = difference.central(moved, base[idx])
            grads.append(_plain(grad))
            directions.append([])
        else:
            grads.append(None)
            pairs, used = [], []
            scale = float(np.max(np.abs(base)))
            for _ in range(DIRECTIONS):
                v = rng.normal(size=base.shape)
                slope, h = difference.central(lambda d, w=w, base=base, v=v: loss(w, base + d * v), scale)
                pairs.append((v, slope))
                used.append(h)
            directions.append(pairs)
        steps.append(difference.step_range(used))
    return grads, directions, steps


def _torch(level, expr, wrt, bound, shape):
    """PyTorch autograd's gradients (float64) of the same expression, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    tensors = {s: torch.tensor(np.asarray(v, dtype=float), dtype=torch.float64, requires_grad=s in set(wrt))
               for s, v in bound.items()}
    (value,) = level.evaluate([expr], tensors, shape, torch=True)
    grads = torch_gradients(torch, value, [tensors[w] for w in wrt])
    return [_plain(np.zeros(np.shape(bound[w])) if g is None else g.numpy()) for g, w in zip(grads, wrt, strict=True)]


def finite_differences(expr, wrt, values):
    """(gradients, steps): central differences of Σ_batch expr for each symbol in `wrt`, every
    entry differenced, and the (smallest, largest) step used for its entries."""
    level, expr, wrt = prepared(expr, wrt)
    bound, shape = level.bind([expr], wrt, values)
    grads, _, steps = _differences(level, expr, wrt, bound, shape, entries=np.inf)
    return grads, steps


def finite_difference(expr, wrt, values):
    """Central differences of Σ_batch expr for each symbol in `wrt` (the gradients alone)."""
    return finite_differences(expr, wrt, values)[0]


def torch_grad(expr, wrt, values):
    """PyTorch autograd's gradient (float64), or None when torch is not installed."""
    level, expr, wrt = prepared(expr, wrt)
    bound, shape = level.bind([expr], wrt, values)
    return _torch(level, expr, wrt, bound, shape)


def check(expr, wrt, values, method="reverse", rtol=RTOL, atol=ATOL, fd_rtol=FD_RTOL, fd_atol=FD_ATOL):
    """Compare the symbolic gradient, numeric autodiff, central finite differences and PyTorch.

    Scalar models report one row per symbol; matrix-level ones (values keyed by MatrixSymbol) one
    row per MatrixSymbol, its gradient an array of its shape. `method` chooses the scalar
    symbolic engine's method (the matrix reverse mode has one).
    """
    level, expr, wrt = prepared(expr, wrt)
    seconds = {}
    t = time.perf_counter()
    sym_exprs = level.derive(expr, wrt, method)
    seconds["symbolic derive"] = time.perf_counter() - t
    bound, shape = level.bind([expr, *sym_exprs], wrt, values)
    t = time.perf_counter()
    sym_vals = [level.total(v, shape, bound[w]) for v, w in zip(level.evaluate(sym_exprs, bound, shape), wrt, strict=True)]
    seconds["symbolic evaluate"] = time.perf_counter() - t
    t = time.perf_counter()
    result = autodiff.backward(expr, wrt, values)
    seconds["autodiff"] = time.perf_counter() - t
    require_finite_loss(result.value, expr)
    t = time.perf_counter()
    fd, directions, steps = _differences(level, expr, wrt, bound, shape)
    seconds["finite differences"] = time.perf_counter() - t
    t = time.perf_counter()
    tg = _torch(level, expr, wrt, bound, shape)
    seconds["pytorch"] = time.perf_counter() - t if tg is not None else 0.0

    ad = [np.asarray(a, dtype=float) for a in result.grads]
    abs_err = max((float(np.max(np.abs(np.asarray(s, float) - a))) if a.size else 0.0 for s, a in zip(sym_vals, ad)), default=0.0)
    rel_err = max((relative_error(s, a, atol) for s, a in zip(sym_vals, ad)), default=0.0)
    ok = all(np.allclose(s, a, rtol=rtol, atol=atol) for s, a in zip(sym_vals, ad))
    fd_errs = []
    for f, pairs, a in zip(fd, directions, ad, strict=True):
        if f is not None:
            fd_errs.append(relative_error(f, a, fd_atol))
            ok = ok and np.allclose(f, a, rtol=fd_rtol, atol=fd_atol)
        for v, slope in pairs:
            predicted = float(np.sum(a * v))
            fd_errs.append(relative_error(slope, predicted, fd_atol))
            ok = ok and np.isclose(slope, predicted, rtol=fd_rtol, atol=fd_atol * max(1.0, np.sqrt(v.size)))
    torch_err = None
    if tg is not None:
        torch_err = max((relative_error(g, a, atol) for g, a in zip(tg, ad)), default=0.0)
        ok = ok and all(np.allclose(g, a, rtol=rtol, atol=atol) for g, a in zip(tg, ad))
    rows = [Row(str(w), reported_value(s), reported_value(a), reported_value(f), None if tg is None else reported_value(g))
            for w, s, a, f, g in zip(wrt, sym_vals, result.grads, fd, tg or [None] * len(wrt), strict=True)]
    return Report(rows, abs_err, rel_err, max(fd_errs, default=0.0), torch_err, bool(ok), level.counts(expr, wrt, sym_exprs),
                  seconds, result.fallbacks, dict(rtol=rtol, atol=atol, fd_rtol=fd_rtol, fd_atol=fd_atol),
                  dict(zip(map(str, wrt), steps)))
