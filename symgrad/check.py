"""`symgrad.check`: symbolic, autodiff, finite differences (and PyTorch) side by side."""

import time

import numpy as np

from . import autodiff, difference, symbolic
from .dag import free_symbols, op_count, tree_op_count
from .matrix.graph import is_matrix_level
from .numeric import TorchBackend, evaluate
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


def batch_total(value, batch, shape):
    """A per-sample gradient value summed over the batch down to its symbol's `shape`."""
    full = np.broadcast_to(value, np.broadcast_shapes(np.shape(value), batch, shape))
    return autodiff.unbroadcast(full, shape)


def finite_differences(expr, wrt, values):
    """(gradients, steps): central differences of Σ_batch expr for each symbol in `wrt`, and the
    (smallest, largest) step used for its entries (`symgrad.difference` fits each to the value)."""
    bound, _ = bind(sorted(free_symbols([expr]) | set(wrt), key=str), values)
    grads, steps = [], []
    for w in wrt:
        base = np.asarray(bound[w], dtype=float)
        grad, used = np.zeros_like(base), np.zeros_like(base)
        for idx in np.ndindex(base.shape):

            def moved(delta, idx=idx, w=w, base=base):
                shifted = base.copy()
                shifted[idx] += delta
                (value,) = evaluate([expr], {**bound, w: shifted})
                # one entry of a data array moves only its own sample's loss; a parameter moves all
                return value[idx] if np.shape(value) == base.shape and base.ndim else value

            grad[idx], used[idx] = difference.central(moved, base[idx])
        grads.append(float(grad) if grad.ndim == 0 else grad)
        steps.append(difference.step_range(used))
    return grads, steps


def finite_difference(expr, wrt, values):
    """Central differences of Σ_batch expr for each symbol in `wrt` (the gradients alone)."""
    return finite_differences(expr, wrt, values)[0]


def torch_grad(expr, wrt, values):
    """PyTorch autograd's gradient (float64), or None when torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    bound, _ = bind(sorted(free_symbols([expr]) | set(wrt), key=str), values)
    tensors = {s: torch.tensor(v, dtype=torch.float64, requires_grad=s in set(wrt)) for s, v in bound.items()}
    (value,) = evaluate([expr], tensors, TorchBackend())
    grads = torch_gradients(torch, value, [tensors[w] for w in wrt])
    return [0.0 if g is None else (g.item() if g.ndim == 0 else g.numpy()) for g in grads]


def check(expr, wrt, values, method="reverse", rtol=RTOL, atol=ATOL, fd_rtol=FD_RTOL, fd_atol=FD_ATOL):
    """Compare the symbolic gradient, numeric autodiff, central finite differences and PyTorch.

    Matrix-level expressions (values keyed by MatrixSymbol) go to `symgrad.matrix.check`.
    """
    expr, wrt = as_expr(expr), as_symbol_list(wrt)
    if is_matrix_level(expr, wrt):
        from .matrix.check import check as matrix_check

        return matrix_check(expr, wrt, values, rtol, atol, fd_rtol, fd_atol)
    # every column evaluates the stable forms the kernels use (σ'(40) is 1.3e-17, not 1 − 1 = 0)
    (expr,) = stabilize([expr])
    seconds = {}
    t = time.perf_counter()
    sym_exprs = stabilize(symbolic.grad(expr, wrt, method=method))
    seconds["symbolic derive"] = time.perf_counter() - t
    bound, batch = bind(sorted(free_symbols([expr]) | set(wrt), key=str), values)
    t = time.perf_counter()
    sym_vals = [batch_total(v, batch, np.shape(bound[w])) for v, w in zip(evaluate(sym_exprs, bound), wrt)]
    seconds["symbolic evaluate"] = time.perf_counter() - t
    t = time.perf_counter()
    result = autodiff.backward(expr, wrt, values)
    seconds["autodiff"] = time.perf_counter() - t
    require_finite_loss(result.value, expr)
    t = time.perf_counter()
    fd, steps = finite_differences(expr, wrt, values)
    seconds["finite differences"] = time.perf_counter() - t
    t = time.perf_counter()
    tg = torch_grad(expr, wrt, values)
    seconds["pytorch"] = time.perf_counter() - t if tg is not None else 0.0

    ad = result.grads
    abs_err = max((float(np.max(np.abs(np.asarray(s, float) - np.asarray(a, float)))) for s, a in zip(sym_vals, ad)), default=0.0)
    rel_err = max((relative_error(s, a, atol) for s, a in zip(sym_vals, ad)), default=0.0)
    fd_err = max((relative_error(f, a, fd_atol) for f, a in zip(fd, ad)), default=0.0)
    torch_err = None if tg is None else max((relative_error(g, a, atol) for g, a in zip(tg, ad)), default=0.0)
    ok = all(np.allclose(s, a, rtol=rtol, atol=atol) for s, a in zip(sym_vals, ad))
    ok = ok and all(np.allclose(f, a, rtol=fd_rtol, atol=fd_atol) for f, a in zip(fd, ad))
    if tg is not None:
        ok = ok and all(np.allclose(g, a, rtol=rtol, atol=atol) for g, a in zip(tg, ad))
    rows = [Row(str(w), reported_value(s), reported_value(a), reported_value(f), None if tg is None else reported_value(g))
            for w, s, a, f, g in zip(wrt, sym_vals, ad, fd, tg or [None] * len(wrt))]
    counts = {
        "forward": op_count([expr]),
        "gradient_tree": tree_op_count(symbolic.grad(expr, wrt, method="diff")) if op_count([expr]) < 2000 else None,
        "gradient_cse": op_count(sym_exprs),
    }
    return Report(rows, abs_err, rel_err, fd_err, torch_err, bool(ok), counts, seconds, result.fallbacks,
                  dict(rtol=rtol, atol=atol, fd_rtol=fd_rtol, fd_atol=fd_atol), dict(zip(map(str, wrt), steps)))
