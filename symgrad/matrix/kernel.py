"""Compiling matrix-level models: symbolic gradient → `MatrixKernelIR` → numpy module → `MatrixKernel`."""

import numpy as np
import sympy as sp

from .. import cache as kernel_cache
from ..distributed import accepts_dask
from ..errors import InvalidArgumentError
from ..render.numpy_matrix import render_numpy_matrix
from ..runtime import check_finite, load_module, no_outputs
from ..values import as_symbol_list
from .lower import canonical, lower
from .rules import as_scalar_loss, reverse
from .values import bind

METHOD = "matrix-reverse"  # the cache key's differentiation method for matrix kernels


def build_matrix_ir(expr, wrt, inputs, outputs=(), name="kernel", dtype="float64", adjoints=None):
    """Lower a matrix-level loss (a matrix means the sum of its entries) and its gradients.

    `adjoints`, a dict, receives every node's adjoint expression (derivation documents cite them).
    """
    expr = as_scalar_loss(expr)
    wrt, inputs = as_symbol_list(wrt), as_symbol_list(inputs or [], "inputs")
    adjoints = {} if adjoints is None else adjoints
    grads = reverse(expr, wrt, adjoints)
    return lower(name, expr, grads, list(outputs), inputs, wrt, dtype=dtype, adjoints=adjoints)


def compile_matrix(expr, wrt, inputs, outputs=(), name="kernel", dtype="float64", target="numpy", store=None):
    """A loaded kernel; numpy modules go through the kernel cache `store` (a KernelCache or None)."""

    def build():
        return build_matrix_ir(expr, wrt, inputs, outputs, name, dtype)

    if target == "cuda":
        from ..cuda_runtime import CudaMatrixKernel
        from ..render.cuda_matrix import render_cuda_matrix

        ir = build()
        return CudaMatrixKernel(ir, render_cuda_matrix(ir))
    if store is None:
        ir = build()
        source = render_numpy_matrix(ir)
        return MatrixKernel(ir, source, load_module(source, ir.name))
    loss, *outs = canonical([as_scalar_loss(expr), *outputs])
    wrt, inputs = as_symbol_list(wrt), as_symbol_list(inputs or [], "inputs")
    key = kernel_cache.kernel_key(loss, wrt, inputs, outs, name, target, dtype, METHOD, None)
    source, status = store.load(key)
    if source is not None:
        kernel = MatrixKernel.from_cache(source, load_module(source, name), name, wrt, inputs, dtype, build, status)
        kernel.cache_key = key
        return kernel
    ir = build()
    source = render_numpy_matrix(ir)
    store.store(key, source)
    kernel = MatrixKernel(ir, source, load_module(source, ir.name))
    kernel.cache_status, kernel.cache_key = ("rebuilt" if status == "corrupt" else "miss"), key
    return kernel


class MatrixKernel:
    """A generated matrix kernel: call it with values keyed by MatrixSymbol (arrays of its shape).

    `.loss(values)`, `.grad(values)` (arrays in each parameter's shape, `wrt` order),
    `.loss_and_grad(values)`, `.predict(values)`; `.module` holds the raw functions, which take
    the arrays positionally (DATA then PARAMS) for training loops that skip the checks.
    """

    target = "numpy"

    def __init__(self, ir, source, module):
        self._ir, self.source, self.module = ir, source, module
        self.name = ir.name
        self.wrt = [v.symbol for v in ir.params]
        self.inputs = [v.symbol for v in ir.data]
        self.dtype = np.dtype(ir.dtype)
        self.cache_status = "off"  # or "hit", "miss", "rebuilt" (see symgrad.cache)
        self.cache_key = None  # set by compile_matrix when the kernel went through the cache

    @classmethod
    def from_cache(cls, source, module, name, wrt, inputs, dtype, build_ir, status="hit"):
        """A kernel loaded from a verified cache entry; its IR is rebuilt only if someone asks."""
        kernel = cls.__new__(cls)
        kernel._ir, kernel._build_ir = None, build_ir
        kernel.source, kernel.module, kernel.name = source, module, name
        kernel.wrt, kernel.inputs, kernel.dtype = list(wrt), list(inputs), np.dtype(dtype)
        kernel.cache_status, kernel.cache_key = status, None
        return kernel

    @property
    def ir(self):
        if self._ir is None:
            self._ir = self._build_ir()
        return self._ir

    def __repr__(self):
        return f"<symgrad MatrixKernel {self.name!r} params={len(self.wrt)} inputs={len(self.inputs)} {self.dtype}>"

    def arguments(self, values, nonfinite="raise", skip=()):
        symbols = [s for s in self.inputs + self.wrt if s not in skip]
        bound, _ = bind(symbols, values, dtype=self.dtype, nonfinite=nonfinite)
        return [_argument(bound[s]) if s in bound else None for s in self.inputs + self.wrt]

    @accepts_dask
    def loss(self, values, nonfinite="raise"):
        value = float(self.module.loss(*self.arguments(values, nonfinite)))
        check_finite(self.name, nonfinite, {"loss": value})
        return value

    @accepts_dask
    def loss_and_grad(self, values, nonfinite="raise"):
        value, grads = self.module.loss_and_grad(*self.arguments(values, nonfinite))
        value, grads = float(value), [_shaped(g, s, self.dtype) for g, s in zip(grads, self.wrt, strict=True)]
        check_finite(self.name, nonfinite, {"loss": value, **{f"d/d{w}": g for w, g in zip(self.wrt, grads, strict=True)}})
        return value, grads

    def grad(self, values, nonfinite="raise"):
        return self.loss_and_grad(values, nonfinite)[1]

    @accepts_dask
    def predict(self, values, nonfinite="raise"):
        """Model outputs; inputs the outputs do not read (targets) may be omitted."""
        read = {v.symbol for v in self.ir.args if v.ident in _reads(self.ir, self.ir.predictions)}
        skip = [s for s in self.inputs if s not in read and s not in values]
        out = [np.asarray(o) for o in self.module.predict(*self.arguments(values, nonfinite, skip))]
        if not out:
            raise no_outputs(self.name)
        check_finite(self.name, nonfinite, {f"output {i}": o for i, o in enumerate(out)})
        return out


def _argument(value):
    """Arrays C-contiguous (fastest BLAS path); scalars as numbers of the kernel's dtype."""
    return np.ascontiguousarray(value) if np.ndim(value) else value[()]


def _shaped(g, symbol, dtype):
    shape = tuple(int(d) for d in g.shape) if np.ndim(g) else ()
    if isinstance(symbol, sp.MatrixSymbol):
        return np.asarray(g, dtype=dtype)
    if shape:
        raise InvalidArgumentError(f"gradient of scalar {symbol} came out with shape {shape}")
    return float(g)


def _reads(ir, names):
    from ..render.numpy_matrix import _live

    out = set()
    for st in _live(ir.statements, names):
        out |= st.reads()
    return out | set(names)
