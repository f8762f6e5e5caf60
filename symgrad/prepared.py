"""The fast lane of `values.bind` for scalar kernels called again and again with the same symbols.

A training loop calls `kernel.loss_and_grad(values)` with a mapping whose keys are the same symbols,
in the same order, every step. `PreparedBinding` remembers where each kernel argument sits in that
key order, so a call costs a tuple comparison and a gather instead of a hash, a printed name and a
conversion per symbol. It only ever accepts input that is plainly valid (Python or numpy float64
numbers for parameters, equal-length 1-D float64 arrays for data, every number finite) and answers
None for anything else, so the checked `values.bind` path stays the one place that decides what
is wrong and says so.
"""

import math
import operator
from dataclasses import dataclass

import numpy as np

_NUMBERS = frozenset({float, np.float64})
_ARRAY = {np.ndarray}
_FLOAT64 = {np.dtype(np.float64)}
_DTYPE = operator.attrgetter("dtype")
_SMALL = 256  # data blocks up to this many numbers are checked by a Python float sum


@dataclass(frozen=True)
class _Layout:
    keys: tuple  # the `values` keys this layout was made for, in their order
    gather: object  # list of values in key order -> tuple of argument values (data, then parameters)


class PreparedBinding:
    """Positional kernel arguments (data arrays, then parameter floats) from a `values` dict.

    `contiguous` copies strided data arrays (what CUDA launchers need); numpy kernels read them as they are.
    """

    def __init__(self, inputs, wrt, contiguous=False):
        self._symbols = list(inputs) + list(wrt)
        self._names = None  # printed once, when a mapping first keys a value by name
        self._n_data, self._contiguous = len(inputs), contiguous
        self._layout = None

    def _prepare(self, keys):
        """Where each argument's value sits in `keys` (the symbol itself first, then its name), or None."""
        where = {key: i for i, key in enumerate(keys) if not isinstance(key, str)}
        by_name = {key: i for i, key in enumerate(keys) if isinstance(key, str)}
        if by_name and self._names is None:
            self._names = [str(s) for s in self._symbols]
        names = self._names if by_name else [None] * len(self._symbols)
        positions = [where.get(symbol, by_name.get(name)) for symbol, name in zip(self._symbols, names, strict=True)]
        if None in positions:
            return None
        gather = operator.itemgetter(*positions) if len(positions) > 1 else lambda given: tuple(given[i] for i in positions)
        return _Layout(keys, gather)

    def arguments(self, values, nonfinite):
        """The arguments `values.bind` would produce, or None when the checked path must decide."""
        if type(values) is not dict or nonfinite not in ("raise", "propagate"):
            return None
        keys = tuple(values)
        layout = self._layout
        if layout is None or keys != layout.keys:
            layout = self._prepare(keys)
            if layout is None:
                return None
            self._layout = layout
        args = layout.gather(list(values.values()))
        data, params = args[:self._n_data], args[self._n_data:]
        types = set(map(type, params))
        if not types <= _NUMBERS:
            return None
        if np.float64 in types:
            params = tuple(map(float, params))
        total = sum(params, 0.0)  # Python floats: NaN and Inf propagate, nothing warns
        if data:
            if set(map(type, data)) != _ARRAY or set(map(_DTYPE, data)) != _FLOAT64:
                return None
            try:
                block = np.array(data)  # one n_inputs × n block when every input has the same shape
            except ValueError:
                return None
            if block.ndim != 2 or not block.shape[1]:
                return None
            if nonfinite == "raise":
                # small batches: one float sum (quicker than a ufunc call); large ones: one isfinite pass
                total += sum(block.ravel().tolist()) if block.size <= _SMALL else (0.0 if np.isfinite(block).all() else math.nan)
            if self._contiguous:
                data = tuple(map(np.ascontiguousarray, data))
        if nonfinite == "raise" and not math.isfinite(total):
            return None  # a NaN or Inf somewhere (or a sum that overflowed): let bind look closely
        return [*data, *params]
