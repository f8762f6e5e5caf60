"""The fast lane of `values.bind` for scalar kernels called again and again with the same symbols.

A training loop calls `kernel.loss_and_grad(values)` with a mapping whose keys are the same symbols,
in the same order, every step. `PreparedBinding` remembers where each kernel argument sits in that
key order, so a call costs a tuple comparison and one gather instead of a hash, a printed name and
a conversion per symbol. It only ever accepts input that is plainly valid (Python or numpy float64
numbers for parameters, equal-length 1-D float64 arrays for data, every number finite) and answers
None for anything else, so the checked `values.bind` path stays the one place that decides what
is wrong and says so. Every test on the way is one C-level pass over all values (a set test of the
types, one stacked block, one float sum), since this runs once per training step.
"""

import math
import operator

import numpy as np

_NUMBERS = frozenset({float, np.float64})
_ARRAY = frozenset({np.ndarray})
_FLOAT64 = np.dtype(np.float64)
_FLOAT64S = frozenset({_FLOAT64})
_DTYPE = operator.attrgetter("dtype")
_POLICIES = frozenset({"raise", "propagate"})
_SMALL = 256  # data blocks up to this many numbers are checked by a Python float sum


def _getter(positions):
    """`positions` of a list gathered into a tuple (itemgetter answers a bare item for one position)."""
    if len(positions) > 1:
        return operator.itemgetter(*positions)
    return lambda given: tuple(given[i] for i in positions)


class PreparedBinding:
    """Positional kernel arguments (data arrays, then parameter floats) from a `values` dict.

    `contiguous` copies strided data arrays (what CUDA launchers need); numpy kernels read them as they are.
    """

    def __init__(self, inputs, wrt, contiguous=False):
        self._symbols = list(inputs) + list(wrt)
        self._names = None  # printed once, when a mapping first keys a value by name
        self._n_data, self._contiguous = len(inputs), contiguous
        self._keys = None  # the `values` keys the gather below was made for, in their order
        self._gather = None  # list of values in key order -> tuple of arguments (data, then parameters)
        self._types = None  # the value types, in key order, of the last call whose types passed

    def _prepare(self, keys):
        """Point the gather at each argument's place in `keys` (the symbol itself first, then its name);
        False when some argument has no value there."""
        where = {key: i for i, key in enumerate(keys) if not isinstance(key, str)}
        by_name = {key: i for i, key in enumerate(keys) if isinstance(key, str)}
        if by_name and self._names is None:
            self._names = [str(s) for s in self._symbols]
        names = self._names if by_name else [None] * len(self._symbols)
        positions = [where.get(symbol, by_name.get(name)) for symbol, name in zip(self._symbols, names, strict=True)]
        if None in positions:
            return False
        self._gather = _getter(positions)
        self._keys = keys
        return True

    def arguments(self, values, nonfinite):
        """The arguments `values.bind` would produce (as a tuple), or None when the checked path must decide."""
        if type(values) is not dict or nonfinite not in _POLICIES:
            return None
        keys = tuple(values)
        if keys != self._keys and not self._prepare(keys):
            return None
        args = self._gather(list(values.values()))
        data, params = args[:self._n_data], args[self._n_data:]
        types = tuple(map(type, args))  # type objects: the comparison below is by identity, one pass
        if types != self._types:
            if not (_NUMBERS.issuperset(map(type, params)) and _ARRAY.issuperset(map(type, data))):
                return None
            self._types = types
        if not _FLOAT64S.issuperset(map(_DTYPE, data)):
            return None
        total = sum(params, 0.0)  # NaN and Inf propagate, nothing warns; a numpy float64 makes it one
        if type(total) is not float:
            args = data + tuple(map(float, params))
        if data:
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
                args = tuple(map(np.ascontiguousarray, data)) + args[self._n_data:]
        if nonfinite == "raise" and not math.isfinite(total):
            return None  # a NaN or Inf somewhere (or a sum that overflowed): let bind look closely
        return args
