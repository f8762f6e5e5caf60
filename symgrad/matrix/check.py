"""`symgrad.check` for matrix-level expressions: symbolic rules, matrix autodiff, finite differences, torch.

Finite differences perturb every entry of small parameters; for parameters with more than
`FD_ENTRIES` entries they compare directional derivatives along random directions
(⟨∇f, v⟩ against central differences of f along v), so the check runs at any size.
"""

import time

import numpy as np

from .. import difference
from ..report import (
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
from ..values import as_symbol_list
from . import autodiff, rules
from .evaluate import TorchOps, evaluate
from .graph import matrix_symbols, operands, topological
from .values import bind

FD_ENTRIES = 400
DIRECTIONS = 3


def _ops(roots):
    """Operations in the DAG (each matrix or scalar operation once)."""
    return sum(1 for n in topological(roots) if operands(n))


def _loss(expr, bound, sizes):
    (value,) = evaluate([expr], bound, sizes)
    return float(value)


def finite_difference(expr, wrt, bound, sizes, seed=0):
    """Per entry central differences (small parameters) or None plus directional checks (large ones).

    Returns (gradients, directions, steps): gradients[k] is an array or None; directions[k] lists
    (v, central difference along v) pairs for the large parameters; steps[k] is the (smallest,
    largest) step used (`symgrad.difference` fits each to the value's magnitude).
    """
    rng = np.random.default_rng(seed)
    grads, directions, steps = [], [], []
    for w in wrt:
        base = np.asarray(bound[w], dtype=float)

        def at(value, w=w):
            return _loss(expr, {**bound, w: value}, sizes)

        if base.size <= FD_ENTRIES:
            g, used = np.zeros_like(base), np.zeros_like(base)
            for idx in np.ndindex(base.shape):
                unit = np.zeros_like(base)
                unit[idx] = 1.0
                g[idx], used[idx] = difference.central(lambda d, at=at, base=base, unit=unit: at(base + d * unit), base[idx])
            grads.append(float(g) if g.ndim == 0 else g)
            directions.append([])
        else:
            grads.append(None)
            pairs, used = [], []
            scale = float(np.max(np.abs(base)))
            for _ in range(DIRECTIONS):
                v = rng.normal(size=base.shape)
                slope, h = difference.central(lambda d, at=at, base=base, v=v: at(base + d * v), scale)
                pairs.append((v, slope))
                used.append(h)
            directions.append(pairs)
        steps.append(difference.step_range(used))
    return grads, directions, steps


def torch_grad(expr, wrt, bound, sizes):
    """PyTorch autograd's gradients (float64) of the same DAG, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    tensors = {s: torch.tensor(np.asarray(v, dtype=float), dtype=torch.float64, requires_grad=s in set(wrt))
               for s, v in bound.items()}
    (value,) = evaluate([expr], tensors, sizes, TorchOps())
    grads = torch_gradients(torch, value, [tensors[w] for w in wrt])
    return [np.zeros(np.shape(bound[w])) if g is None else g.numpy() for g, w in zip(grads, wrt, strict=True)]


def check(expr, wrt, values, rtol=RTOL, atol=ATOL, fd_rtol=FD_RTOL, fd_atol=FD_ATOL):
    """The agreement `Report` of the four gradient paths for a matrix-level `expr`."""
    expr, wrt = rules.as_scalar_loss(expr), as_symbol_list(wrt)
    seconds = {}
    t = time.perf_counter()
    sym_exprs = rules.reverse(expr, wrt)
    seconds["symbolic derive"] = time.perf_counter() - t
    bound, sizes = bind(sorted(matrix_symbols([expr, *sym_exprs]) | set(wrt), key=str), values)
    t = time.perf_counter()
    sym_vals = [np.broadcast_to(np.asarray(v, dtype=float), np.shape(bound[w]))
                for v, w in zip(evaluate(sym_exprs, bound, sizes), wrt, strict=True)]
    seconds["symbolic evaluate"] = time.perf_counter() - t
    t = time.perf_counter()
    result = autodiff.backward(expr, wrt, values)
    seconds["autodiff"] = time.perf_counter() - t
    require_finite_loss(result.value, expr)
    t = time.perf_counter()
    fd, directions, steps = finite_difference(expr, wrt, bound, sizes)
    seconds["finite differences"] = time.perf_counter() - t
    t = time.perf_counter()
    tg = torch_grad(expr, wrt, bound, sizes)
    seconds["pytorch"] = time.perf_counter() - t if tg is not None else 0.0

    ad = [np.asarray(a, dtype=float) for a in result.grads]
    abs_err = max((float(np.max(np.abs(s - a))) if a.size else 0.0 for s, a in zip(sym_vals, ad, strict=True)), default=0.0)
    rel_err = max((relative_error(s, a, atol) for s, a in zip(sym_vals, ad, strict=True)), default=0.0)
    ok = all(np.allclose(s, a, rtol=rtol, atol=atol) for s, a in zip(sym_vals, ad, strict=True))
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
        torch_err = max((relative_error(g, a, atol) for g, a in zip(tg, ad, strict=True)), default=0.0)
        ok = ok and all(np.allclose(g, a, rtol=rtol, atol=atol) for g, a in zip(tg, ad, strict=True))
    rows = [Row(str(w), reported_value(s), reported_value(a), reported_value(f), None if tg is None else reported_value(g))
            for w, s, a, f, g in zip(wrt, sym_vals, ad, fd, tg or [None] * len(wrt), strict=True)]
    counts = {"forward": _ops([expr]), "gradient_tree": None, "gradient_cse": _ops(sym_exprs)}
    return Report(rows, abs_err, rel_err, max(fd_errs, default=0.0), torch_err, bool(ok), counts, seconds,
                  result.fallbacks, dict(rtol=rtol, atol=atol, fd_rtol=fd_rtol, fd_atol=fd_atol), dict(zip(map(str, wrt), steps)))
