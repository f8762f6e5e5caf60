"""Second derivatives: symbolic Hessians and Hessian-vector products, and kernels generating them.

Both are reverse mode applied to the reverse-mode gradient (reverse-over-reverse), so they share
the forward and gradient DAGs: H·v is the gradient of the scalar ⟨∇f, v⟩ and costs a small
constant times the gradient; the full Hessian is one such sweep per row (P sweeps). The numeric
reference is `symgrad.autodiff.hvp`/`hessian` (forward-over-reverse on dual numbers).
"""

import numpy as np
import sympy as sp

from . import symbolic
from .compiler import _normalize
from .errors import InvalidArgumentError, ShapeError
from .lowering import lower
from .matrix.graph import is_matrix_level
from .matrix.hessian import hessian as matrix_hessian
from .matrix.hessian import hvp as matrix_hvp
from .matrix.hessian_kernel import compile_hessian as compile_matrix_hessian
from .primitives.build import add, mul
from .rewrite import RULES, stabilize
from .runtime import Kernel, load_module
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


class HessianKernel:
    """Generated second-order kernels for a loss summed over a batch.

    `.hvp(values, v)` is H·v (length P), `.hessian(values)` the P×P Hessian; both are sums over
    the batch like `Kernel.grad`. `.hvp_kernel` / `.hessian_kernel` are the underlying `Kernel`s
    (their `.predict` returns the per-sample terms); `.source` shows both generated modules.
    """

    def __init__(self, wrt, directions, hvp_kernel, hessian_kernel, pairs):
        self.wrt, self.directions = wrt, directions
        self.hvp_kernel, self.hessian_kernel, self._pairs = hvp_kernel, hessian_kernel, pairs

    @property
    def source(self):
        return "\n\n".join(k.source for k in (self.hvp_kernel, self.hessian_kernel) if k is not None)

    def hvp(self, values, v, nonfinite="raise"):
        v = np.asarray(v, dtype=float)
        if v.shape != (len(self.wrt),):
            raise ShapeError(f"v must have shape ({len(self.wrt)},), got {v.shape}")
        args = dict(values)
        args.update(zip(self.directions, v.tolist(), strict=True))
        return np.array([float(np.sum(t)) for t in self.hvp_kernel.predict(args, nonfinite)])

    def hessian(self, values, nonfinite="raise"):
        if self.hessian_kernel is None:
            raise InvalidArgumentError("this kernel was compiled with full=False; use .hvp or compile with full=True")
        entries = [float(np.sum(t)) for t in self.hessian_kernel.predict(values, nonfinite)]
        out = np.zeros((len(self.wrt), len(self.wrt)))
        for (i, j), h in zip(self._pairs, entries, strict=True):
            out[i, j] = out[j, i] = h
        return out


def compile_hessian(expr, wrt=None, inputs=None, name=None, full=True):
    """Generate numpy kernels for H·v and (when `full`) the Hessian of the batch-summed loss `expr`.

    Arguments as for `symgrad.compile` (a `Model` supplies wrt and inputs). `.hessian(values)`
    returns the full symmetric P×P matrix; its kernel computes the upper triangle (P(P+1)/2
    entries) and mirrors it, so keep `full=True` for small P.
    """
    expr, wrt, inputs, _, name = _normalize(expr, wrt, inputs, (), name, "float64")
    if is_matrix_level(expr, wrt):  # one kernel: gradient, closed-form Hessian (n×1 parameter), H·V
        return compile_matrix_hessian(expr, wrt, inputs, name)
    (expr,) = stabilize([expr], RULES)
    grad = symbolic.reverse(expr, wrt)
    directions = [sp.Symbol(f"v_{w.name}", real=True) for w in wrt]
    taken = set(inputs) | set(wrt)
    directions = [d if d not in taken else sp.Dummy(d.name, real=True) for d in directions]
    hv = hvp(expr, wrt, directions)
    hvp_ir = lower(f"{name}_hvp", expr, grad, hv, inputs + directions, wrt)
    hvp_kernel = _kernel(hvp_ir, f"symgrad kernel {name!r}: Hessian-vector products (predict: per-sample H·v)")
    hessian_kernel, pairs = None, []
    if full:
        rows = [symbolic.reverse(g, wrt) for g in grad]
        pairs = [(i, j) for i in range(len(wrt)) for j in range(i, len(wrt))]
        ir = lower(f"{name}_hessian", expr, grad, [rows[i][j] for i, j in pairs], inputs, wrt)
        hessian_kernel = _kernel(ir, f"symgrad kernel {name!r}: Hessian (predict: per-sample upper triangle, row-major)")
    return HessianKernel(wrt, directions, hvp_kernel, hessian_kernel, pairs)


def _kernel(ir, title):
    source = render_numpy(ir, title=title)
    return Kernel(ir, source, load_module(source, ir.name), "numpy")
