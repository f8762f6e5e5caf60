"""`MatrixKernel`: a loaded matrix-level kernel, called with arrays keyed by MatrixSymbol.

The runtime half of `symgrad.matrix.kernel` (which builds and caches kernels), kept apart so that
the CUDA runtime can subclass it without importing the compiler.
"""

import numpy as np
import sympy as sp

from ..dask_hook import accepts_dask
from ..errors import InvalidArgumentError
from ..ir import live
from ..runtime import all_finite, check_finite, no_outputs
from .values import bind


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
        return [as_argument(bound[s]) if s in bound else None for s in self.inputs + self.wrt]

    @accepts_dask
    def loss(self, values, nonfinite="raise"):
        value = float(self.module.loss(*self.arguments(values, nonfinite)))
        check_finite(self.name, nonfinite, {"loss": value})
        return value

    @accepts_dask
    def loss_and_grad(self, values, nonfinite="raise"):
        value, grads = self.module.loss_and_grad(*self.arguments(values, nonfinite))
        value, grads = float(value), [shaped_grad(g, s, self.dtype) for g, s in zip(grads, self.wrt, strict=True)]
        if nonfinite == "raise" and not all_finite([value, *grads]):  # names printed only on failure
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
        if nonfinite == "raise" and not all_finite(out):
            check_finite(self.name, nonfinite, {f"output {i}": o for i, o in enumerate(out)})
        return out


def as_argument(value):
    """Arrays C-contiguous (fastest BLAS path); scalars as numbers of the kernel's dtype."""
    return np.ascontiguousarray(value) if np.ndim(value) else value[()]


def shaped_grad(g, symbol, dtype):
    shape = tuple(int(d) for d in g.shape) if np.ndim(g) else ()
    if isinstance(symbol, sp.MatrixSymbol):
        return np.asarray(g, dtype=dtype)
    if shape:
        raise InvalidArgumentError(f"gradient of scalar {symbol} came out with shape {shape}")
    return float(g)


def _reads(ir, names):
    out = set()
    for st in live(ir.statements, names):
        out |= st.reads()
    return out | set(names)
