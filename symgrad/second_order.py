"""Second derivatives: symbolic Hessians and Hessian-vector products, and kernels generating them.

Both are reverse mode applied to the reverse-mode gradient (reverse-over-reverse), so they share
the forward and gradient DAGs: H·v is the gradient of the scalar ⟨∇f, v⟩ and costs a small
constant times the gradient; the full Hessian is one such sweep per row (P sweeps). The numeric
reference is `symgrad.autodiff.hvp`/`hessian` (forward-over-reverse on dual numbers).
"""

import functools

import numpy as np
import sympy as sp

from . import cache as kernel_cache
from . import symbolic
from .compiler import _normalize
from .diagnostics import check_size
from .errors import InvalidArgumentError, ShapeError
from .load import cached_kernel
from .lowering import lower
from .matrix.graph import is_matrix_level
from .matrix.hessian import hessian as matrix_hessian
from .matrix.hessian import hvp as matrix_hvp
from .matrix.hessian_kernel import compile_hessian as compile_matrix_hessian
from .primitives.build import add, mul
from .rewrite import select, stabilize
from .runtime import HessianKernel
from .targets.numpy.scalar import render_numpy
from .values import as_expr, as_symbol_list


def _direction(v, wrt):
    v = [sp.sympify(x) for x in v]
    if len(v) != len(wrt):
        raise ShapeError(f"v has {len(v)} entries but there are {len(wrt)} parameters in wrt")
    clash = set().union(*(x.free_symbols for x in v)) & set(wrt)
    if clash:
        raise InvalidArgumentError(
            f"v must not depend on the parameters, but mentions {', '.join(sorted(map(str, clash)))}"
        )
    return v


def hvp(expr, wrt, v):
    """H·v as a list of sympy expressions: the gradient of ⟨∇expr, v⟩ (v: numbers or symbols).

    Matrix-level expressions (MatrixSymbol parameters, `v` one direction matrix per parameter) get
    closed-form matrix expressions from `symgrad.matrix.hvp`.
    """
    expr, wrt = as_expr(expr), as_symbol_list(wrt)
    if is_matrix_level(expr, wrt):
        return matrix_hvp(expr, wrt, v)[0]
    v = _direction(v, wrt)
    grad = symbolic.reverse(expr, wrt)
    return symbolic.reverse(add(*[mul(g, x) for g, x in zip(grad, v, strict=True)]), wrt)


def hessian(expr, wrt):
    """The Hessian of `expr` as a list of rows (row i is the gradient of ∂expr/∂wrt_i).

    For one n×1 MatrixSymbol parameter, the n×n matrix expression from `symgrad.matrix.hessian`.
    """
    expr, wrt = as_expr(expr), as_symbol_list(wrt)
    if is_matrix_level(expr, wrt):
        return matrix_hessian(expr, wrt)
    return [symbolic.reverse(g, wrt) for g in symbolic.reverse(expr, wrt)]


class ScalarSecond:
    """What a scalar-level `HessianKernel` computes: `.hvp(values, v)` H·v (length P, `v` one number
    per parameter), `.hessian(values)` the P×P Hessian. Its kernels are the H·v kernel and (when
    compiled with `full`) the Hessian kernel, whose `.predict` return the per-sample H·v terms and
    upper triangle (row-major); both are summed over the batch like `Kernel.grad`."""

    name = "scalar"

    def __reduce__(self):
        return "SCALAR_SECOND"

    def gradient(self, hk):
        return hk.kernels[-1]  # the Hessian kernel binds the data alone (the H·v one takes directions too)

    def hvp(self, hk, values, v, nonfinite):
        v = np.asarray(v, dtype=float)
        if v.shape != (len(hk.wrt),):
            raise ShapeError(f"v must have shape ({len(hk.wrt)},), got {v.shape}")
        args = dict(values)
        args.update(zip(hk.directions, v.tolist(), strict=True))
        return np.array([float(np.sum(t)) for t in hk.kernels[0].predict(args, nonfinite)])

    def hessian(self, hk, values, nonfinite):
        if len(hk.kernels) == 1:
            raise InvalidArgumentError("this kernel was compiled with full=False; use .hvp or compile with full=True")
        entries = [float(np.sum(t)) for t in hk.kernels[1].predict(values, nonfinite)]
        out = np.zeros((len(hk.wrt), len(hk.wrt)))
        for (i, j), h in zip(hk._pairs, entries, strict=True):
            out[i, j] = out[j, i] = h
        return out


SCALAR_SECOND = ScalarSecond()


def compile_hessian(expr, wrt=None, inputs=None, name=None, full=True, dtype="float64", rewrites=None, max_ops=None,
                    cache=True):
    """Generate numpy kernels for H·v and (when `full`) the Hessian of the batch-summed loss `expr`.

    Arguments as for `symgrad.compile` (a `Model` supplies wrt and inputs); `dtype`, `rewrites`,
    `max_ops` and `cache` mean what they mean there, at both levels, and `nonfinite` is taken by
    `.hvp`/`.hessian` as by `Kernel.grad`. `.hessian(values)` returns the full symmetric P×P
    matrix; its kernel computes the upper triangle (P(P+1)/2 entries) and mirrors it, so keep
    `full=True` for small P. A matrix-level loss gets `symgrad.matrix.compile_hessian`'s one kernel.
    """
    expr, wrt, inputs, _, name = _normalize(expr, wrt, inputs, (), name, dtype)
    if is_matrix_level(expr, wrt):  # one kernel: gradient, closed-form Hessian (n×1 parameter), H·V
        return compile_matrix_hessian(expr, wrt, inputs, name, dtype, rewrites, max_ops, cache)
    rules = select(rewrites)  # an unknown rule name is an error even on a cache hit
    check_size("loss", [expr], max_ops)
    store = kernel_cache.resolve(cache)
    directions = [sp.Symbol(f"v_{w.name}", real=True) for w in wrt]
    taken = set(inputs) | set(wrt)
    directions = [d if d not in taken else sp.Dummy(d.name, real=True) for d in directions]
    pairs = [(i, j) for i in range(len(wrt)) for j in range(i, len(wrt))] if full else []

    @functools.cache
    def derived():  # the stabilized loss and its gradient, shared by both kernels' builds
        (stable,) = stabilize([expr], rules)
        grad = symbolic.reverse(stable, wrt)
        check_size("loss with its gradient", [stable, *grad], max_ops)
        return stable, grad

    def hvp_ir():
        stable, grad = derived()
        return lower(f"{name}_hvp", stable, grad, hvp(stable, wrt, directions), inputs + directions, wrt, dtype, rules)

    def hessian_ir():
        stable, grad = derived()
        rows = [symbolic.reverse(g, wrt) for g in grad]
        return lower(f"{name}_hessian", stable, grad, [rows[i][j] for i, j in pairs], inputs, wrt, dtype, rules)

    def load(kind, build, data, title):
        key = kernel_cache.kernel_key(expr, wrt, data, [], f"{name}_{kind}", "numpy", dtype, kind,
                                      rewrites) if store is not None else None
        return cached_kernel(store, key, build, lambda ir: render_numpy(ir, title=title), f"{name}_{kind}", wrt, data, dtype)

    kernels = [load("hvp", hvp_ir, inputs + directions, f"symgrad kernel {name!r}: Hessian-vector products (predict: per-sample H·v)")]
    if full:
        kernels.append(load("hessian", hessian_ir, inputs,
                            f"symgrad kernel {name!r}: Hessian (predict: per-sample upper triangle, row-major)"))
    return HessianKernel(SCALAR_SECOND, wrt, inputs, directions, kernels, pairs)
