"""Compiling second derivatives: gradient, closed-form Hessian and H·V → `KernelIR` → numpy.

The same lowering and renderer as the gradient kernels (`lower`, `targets.numpy.matrix`): the
Hessian of logistic regression becomes `hessian = X.T @ (X * (d * (1 - d)))`-style lines, one
BLAS product, no n×n temporaries besides the result. The result is the one
`runtime.HessianKernel` at level `MATRIX_SECOND`, its module loaded through `load.cached_kernel`
as every kernel's is.
"""

import numpy as np
import sympy as sp

from .. import cache as kernel_cache
from ..diagnostics import check_size
from ..errors import InvalidArgumentError
from ..load import cached_kernel
from ..lowering import lower
from ..lowering.matrix import canonical
from ..rewrite import select, stabilize
from ..runtime import HessianKernel, all_finite, check_finite
from ..targets.numpy.matrix import render_numpy_hessian
from ..values import as_symbol_list, bind
from .forward import jvp
from .graph import matrix_symbols
from .hessian import direction_for
from .linear import coefficient
from .rules import as_scalar_loss, reverse
from .runtime import MATRIX, as_argument


def _fresh_directions(expr, wrt, inputs):
    """`v_<name>` per parameter, renamed where the model already uses that name."""
    taken = {str(s) for s in matrix_symbols([expr]) | set(wrt) | set(inputs)}
    out = []
    for w in wrt:
        v = direction_for(w)
        while v.name in taken:
            v = v.func(f"{v.name}_", *v.args[1:]) if isinstance(v, sp.MatrixSymbol) else sp.Symbol(f"{v.name}_", real=True)
        taken.add(v.name)
        out.append(v)
    return out


def has_hessian(wrt):
    """A closed-form Hessian matrix exists for a single n×1 parameter (else H·V only)."""
    return len(wrt) == 1 and isinstance(wrt[0], sp.MatrixSymbol) and wrt[0].shape[1] == 1


def build_hessian_ir(expr, wrt, inputs, name="hessian_kernel", dtype="float64", rewrites=None, max_ops=None):
    """(IR, direction symbols): loss, gradient, Hessian (n×1 parameter) and H·V lowered together;
    `rewrites` (the stable rewrites applied to the loss) and `max_ops` as for `symgrad.compile`."""
    expr = as_scalar_loss(expr)
    wrt, inputs = as_symbol_list(wrt), as_symbol_list(inputs or [], "inputs")
    check_size("loss", [expr], max_ops)
    (expr,) = stabilize([expr], select(rewrites))
    adjoints = {}
    grads = reverse(expr, wrt, adjoints)
    check_size("loss with its gradient", [expr, *grads], max_ops)
    directions = _fresh_directions(expr, wrt, inputs)
    products = jvp(grads, dict(zip(wrt, directions, strict=True)))
    extras = [("hessian", coefficient(products[0], directions[0]))] if has_hessian(wrt) else []
    extras += [("hvp" if len(wrt) == 1 else f"hvp_{k}", p) for k, p in enumerate(products, start=1)]
    ir = lower(name, expr, grads, [], [*inputs, *directions], wrt, dtype=dtype, rewrites=(), adjoints=adjoints, extras=extras,
                level="matrix")
    return ir, directions


def compile_hessian(expr, wrt, inputs=(), name="hessian_kernel", dtype="float64", rewrites=None, max_ops=None,
                    cache=True):
    """A loaded `HessianKernel` for the matrix-level loss `expr` in the parameters `wrt`; `cache` as
    for `symgrad.compile` (True, False, a directory or a KernelCache)."""
    select(rewrites)  # an unknown rule name is an error even on a cache hit
    wrt, inputs = as_symbol_list(wrt), as_symbol_list(inputs or [], "inputs")
    loss = as_scalar_loss(expr)
    check_size("loss", [loss], max_ops)
    directions = _fresh_directions(loss, wrt, inputs)
    store = kernel_cache.resolve(cache)
    key = kernel_cache.kernel_key(canonical([loss])[0], wrt, inputs, [], name, "numpy", dtype, "hessian",
                                  rewrites) if store is not None else None

    def build():
        return build_hessian_ir(expr, wrt, inputs, name, dtype, rewrites, max_ops)[0]

    def render(ir):
        return render_numpy_hessian(ir, [v.ident for v in ir.data if v.symbol in set(directions)])

    kernel = cached_kernel(store, key, build, render, name, wrt, inputs, dtype, MATRIX)
    return HessianKernel(MATRIX_SECOND, wrt, inputs, directions, [kernel])


class MatrixSecond:
    """What a matrix-level `HessianKernel` computes: `.hessian(values)` the n×n matrix of one n×1
    parameter, `.hvp(values, directions)` [H·V per parameter] (one array per parameter, its shape);
    values keyed by MatrixSymbol, bound as every matrix-level kernel binds them (`MATRIX`)."""

    name = "matrix"

    def __reduce__(self):
        return "MATRIX_SECOND"

    def gradient(self, hk):
        return hk.kernels[0]  # one module: loss_and_grad, hessian, hvp

    def hessian(self, hk, values, nonfinite):
        kernel = hk.kernels[0]
        if not hasattr(kernel.module, "hessian"):
            raise InvalidArgumentError(
                f"a Hessian matrix needs one n×1 parameter (this kernel has {', '.join(map(str, hk.wrt))}); use .hvp"
            )
        out = np.asarray(kernel.module.hessian(*kernel.arguments(values, nonfinite)), dtype=hk.dtype)
        check_finite(hk.name, nonfinite, {"the Hessian": out})
        return out

    def hvp(self, hk, values, directions, nonfinite):
        kernel = hk.kernels[0]
        directions = [directions] if isinstance(directions, np.ndarray) else list(directions)
        if len(directions) != len(hk.wrt):
            raise InvalidArgumentError(f"hvp needs {len(hk.wrt)} directions (one per parameter), got {len(directions)}")
        bound_dirs, _ = bind(hk.directions, {**values, **dict(zip(hk.directions, directions, strict=True))},
                             dtype=hk.dtype, nonfinite=nonfinite, sizes=True)
        for d, w in zip(hk.directions, hk.wrt, strict=True):
            want = np.shape(values[w]) if w in values else None
            if want is not None and np.shape(bound_dirs[d]) != want:
                raise InvalidArgumentError(f"the direction for {w} has shape {np.shape(bound_dirs[d])}, not {want}")
        args = kernel.arguments(values, nonfinite) + [as_argument(bound_dirs[d]) for d in hk.directions]
        out = [np.asarray(np.broadcast_to(p, np.shape(bound_dirs[d])), dtype=hk.dtype)
               for p, d in zip(kernel.module.hvp(*args), hk.directions, strict=True)]
        if nonfinite == "raise" and not all_finite(out):
            check_finite(hk.name, nonfinite, {f"H·v for {w}": p for w, p in zip(hk.wrt, out, strict=True)})
        return out


MATRIX_SECOND = MatrixSecond()
