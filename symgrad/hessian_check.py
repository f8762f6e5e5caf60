"""Independent routes to second derivatives, for checking `hessian`/`hvp` at either level.

`fd_hvp`: central differences of the numeric reverse-mode gradient (`symgrad.autodiff.grad`)
along the direction; `fd_hessian`: the same, one column per entry of the parameter (the numeric
route: 2n gradient evaluations). `torch_hessian`/`torch_hvp`: PyTorch autograd
(`torch.autograd.functional`) over the loss `symgrad.check` evaluates, on float64 tensors. The
level (a scalar parameter, or a MatrixSymbol's entries) is `symgrad.check`'s level data.
"""

import numpy as np

from . import autodiff
from .check import prepared
from .values import as_symbol_list


def fd_hvp(expr, wrt, values, directions, step=1e-5):
    """[(∇f(w + hV) − ∇f(w − hV)) / 2h per parameter], gradients by numeric reverse mode."""
    wrt = as_symbol_list(wrt)
    plus, minus = dict(values), dict(values)
    for w, v in zip(wrt, directions, strict=True):
        base = np.asarray(values[w], dtype=float)
        plus[w], minus[w] = base + step * np.asarray(v), base - step * np.asarray(v)
    g_plus = autodiff.grad(expr, wrt, plus)
    g_minus = autodiff.grad(expr, wrt, minus)
    return [(np.asarray(a) - np.asarray(b)) / (2 * step) for a, b in zip(g_plus, g_minus, strict=True)]


def fd_hessian(expr, x, values, step=1e-5):
    """The Hessian in the row-major entries of parameter `x` (n×n for n entries), column by column
    from `fd_hvp`."""
    shape = np.shape(values[x])
    n = int(np.prod(shape))
    columns = []
    for j in range(n):
        e = np.zeros(n)
        e[j] = 1.0
        (col,) = fd_hvp(expr, [x], values, [e.reshape(shape)], step)
        columns.append(np.ravel(col))
    return np.stack(columns, axis=1)


def _torch_loss(expr, x, values):
    """(loss as a function of the flattened `x` tensor, x's value as a tensor); None without torch."""
    try:
        import torch
    except ImportError:
        return None
    level, expr, _ = prepared(expr, [x])
    bound, sizes = level.bind([expr], [x], values)
    tensors = {s: torch.tensor(np.asarray(v, dtype=float), dtype=torch.float64) for s, v in bound.items()}
    shape = np.shape(bound[x])

    def f(flat):
        (value,) = level.evaluate([expr], {**tensors, x: flat.reshape(shape)}, sizes, torch=True)
        return value.sum()

    return f, tensors[x].reshape(-1)


def torch_hessian(expr, x, values, vectorize=False):
    """PyTorch's Hessian of `expr` in the flattened entries of `x` (row-major), or None without torch."""
    made = _torch_loss(expr, x, values)
    if made is None:
        return None
    import torch

    f, x0 = made
    return torch.autograd.functional.hessian(f, x0, vectorize=vectorize).numpy()


def torch_hvp(expr, x, values, direction):
    """PyTorch's H·V for one parameter `x` (shaped like x), or None without torch."""
    made = _torch_loss(expr, x, values)
    if made is None:
        return None
    import torch

    f, x0 = made
    v = torch.tensor(np.asarray(direction, dtype=float).reshape(-1), dtype=torch.float64)
    _, product = torch.autograd.functional.hvp(f, x0, v)
    return product.numpy().reshape(np.shape(values[x]))
