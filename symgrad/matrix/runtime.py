"""The matrix level of `symgrad.runtime.Kernel`: values keyed by MatrixSymbol, arrays in and out.

What differs from a scalar kernel is data, not a class: `MATRIX` binds arrays by MatrixSymbol
(sizes read off their shapes), returns each gradient in its parameter's shape, and lets `predict`
leave out the inputs the outputs do not read. `.module` holds the raw functions, which take the
arrays positionally (DATA then PARAMS) for training loops that skip the checks.
"""

import numpy as np
import sympy as sp

from ..errors import InvalidArgumentError, UnsupportedError
from ..ir import live
from ..objective import generic as generic_objective
from ..runtime import all_finite, check_finite
from ..values import bind
from .prepared import MatrixLayout


class MatrixLevel:
    """How a matrix-level kernel binds values and shapes results (`Kernel.level`)."""

    name, matrix = "matrix", True

    def __reduce__(self):
        return "MATRIX"  # pickled by name (a kernel shipped to Dask workers): the one instance

    def generated(self, kernel):
        return kernel  # the kernel whose generated module it shows and ships: itself

    def prepared(self, kernel):
        return None  # arrays of any shape: bound by `values.bind` or a remembered layout (`arguments`)

    def arguments(self, kernel, values, nonfinite, skip=()):
        layout = None if skip else kernel.__dict__.get("_matrix_layout")
        fast = layout.arguments(values, nonfinite) if layout is not None else None
        if fast is not None:  # the same keys, shapes and dtype as an accepted call (symgrad/matrix/prepared.py)
            return fast
        symbols = [s for s in kernel.inputs + kernel.wrt if s not in skip]
        bound, _ = bind(symbols, values, dtype=kernel.dtype, nonfinite=nonfinite, sizes=True)
        out = [as_argument(bound[s]) if s in bound else None for s in kernel.inputs + kernel.wrt]
        if not skip:
            kernel._matrix_layout = MatrixLayout.of(values, kernel.inputs + kernel.wrt, out, kernel.dtype)
        return out

    def gradients(self, kernel, result, nonfinite):
        """(loss, gradients) shaped and checked; a loss of None (the module's `grad`) is not tested."""
        value, grads = result
        value = None if value is None else float(value)
        grads = [shaped_grad(g, s, kernel.dtype) for g, s in zip(grads, kernel.wrt, strict=True)]
        if nonfinite == "raise" and not all_finite(grads if value is None else [value, *grads]):  # names only on failure
            loss = {} if value is None else {"loss": value}
            check_finite(kernel.name, nonfinite, {**loss, **{f"d/d{w}": g for w, g in zip(kernel.wrt, grads, strict=True)}})
        return value, grads

    def predict_arguments(self, kernel, values, nonfinite):
        """Inputs the outputs do not read (targets) may be omitted."""
        missing = [s for s in kernel.inputs if s not in values]
        read = kernel.predict_reads if missing else ()  # the IR (rebuilt after a cache hit) only when needed
        skip = [s for s in missing if s not in read]
        return self.arguments(kernel, values, nonfinite, skip)

    def objective(self, kernel, values, nonfinite):
        return generic_objective(kernel, self.arguments(kernel, values, nonfinite), nonfinite)

    def predict_reads(self, ir):
        read = _reads(ir, ir.predictions)
        return {v.symbol for v in ir.args if v.ident in read}

    def per_sample_grad(self, kernel, values, nonfinite):
        raise UnsupportedError(
            f"kernel {kernel.name!r} is matrix-level: its gradients are sums over the batch rows; for "
            "per-sample gradients compile the model at scalar level (symgrad.nn.mlp) or call grad on one row")


MATRIX = MatrixLevel()


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
