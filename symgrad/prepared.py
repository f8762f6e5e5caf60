"""The fast lane of `values.bind` for scalar kernels called again and again with the same symbols.

A training loop calls `kernel.loss_and_grad(values)` with a mapping whose keys are the same symbols,
in the same order, every step. `PreparedBinding` remembers where each kernel argument sits in that
key order and which value types the last accepted call had, so a call costs two tuple comparisons
and two gathers instead of a hash, a printed name and a conversion per symbol. It only ever accepts
input that is plainly valid (Python or numpy float64 numbers for parameters, equal-length 1-D float64
arrays for data, every number finite, no dask collection anywhere) and answers None for anything
else, so the checked `values.bind` path stays the one place that decides what is wrong and says so.
Every test on the way is one C-level pass over all values (the key tuple, the type tuple, the data
dtypes and lengths, one float sum over data and parameters), since this runs once per training step.
"""

import math
import operator
from itertools import chain

import numpy as np

_NUMBERS = frozenset({float, np.float64})
_FLOAT64S = frozenset({np.dtype(np.float64)})
_DTYPE = operator.attrgetter("dtype")
_NDIM = operator.attrgetter("ndim")
_ONE_D = frozenset({1})
_TOLIST = np.ndarray.tolist
_chain = chain.from_iterable
_SMALL = 256  # data blocks up to this many numbers are checked by a Python float sum


def _getter(positions):
    """`positions` of a tuple gathered into a tuple: one slice when they are a run (the usual dict
    layout: parameters together, data together), else an itemgetter (which answers a bare item for
    one position, hence the slice form there too)."""
    if not positions:
        return operator.itemgetter(slice(0, 0))
    start = positions[0]
    if positions == list(range(start, start + len(positions))):
        return operator.itemgetter(slice(start, start + len(positions)))
    return operator.itemgetter(*positions) if len(positions) > 1 else operator.itemgetter(slice(start, start + 1))


def _all_finite(array):
    return np.isfinite(array).all()


def _is_dask(kind):
    return hasattr(kind, "__dask_graph__")


class PreparedBinding:
    """Positional kernel arguments (data arrays, then parameter floats) from a `values` dict.

    `contiguous` copies strided data arrays (what CUDA launchers need); numpy kernels read them as they are.
    """

    def __init__(self, inputs, wrt, contiguous=False):
        self._symbols = list(inputs) + list(wrt)
        self._names = None  # printed once, when a mapping first keys a value by name
        self._n_data, self._contiguous = len(inputs), contiguous
        # the layout of the last accepted mapping, replaced whole (threads sharing a kernel never read
        # one mapping's keys with another's gathers): its keys and value types in their order, the
        # gathers (tuple of values in key order -> data / parameter arguments), and whether some
        # parameter is a numpy float64 (handed on as a Python float)
        self._layout = (None, None, None, None, False)

    def _prepare(self, keys, vals):
        """The layout for `keys` and the value types `vals` have: each argument's place in `keys` (the
        symbol itself first, then its name); None when some argument has no value there, a value has
        a type the fast lane does not vouch for, or any value is a dask collection."""
        where = {key: i for i, key in enumerate(keys) if not isinstance(key, str)}
        by_name = {key: i for i, key in enumerate(keys) if isinstance(key, str)}
        if by_name and self._names is None:
            self._names = [str(s) for s in self._symbols]
        names = self._names if by_name else [None] * len(self._symbols)
        positions = [where.get(symbol, by_name.get(name)) for symbol, name in zip(self._symbols, names, strict=True)]
        if None in positions:
            return None
        types = tuple(map(type, vals))
        data, params = positions[:self._n_data], positions[self._n_data:]
        if not all(types[i] is np.ndarray for i in data) or not _NUMBERS.issuperset(types[i] for i in params):
            return None
        if any(map(_is_dask, set(types))):  # an unused value may still send the call to dask
            return None
        self._layout = (keys, types, _getter(data), _getter(params), any(types[i] is not float for i in params))
        return self._layout

    def arguments(self, values, nonfinite):
        """The arguments `values.bind` would produce (as a tuple), or None when the checked path must decide.

        A tuple here also means `values` holds no dask collection, so callers may skip that test."""
        if type(values) is not dict:
            return None
        keys, vals = tuple(values), tuple(values.values())
        layout = self._layout  # read once: see __init__
        if keys != layout[0] or tuple(map(type, vals)) != layout[1]:
            layout = self._prepare(keys, vals)
            if layout is None:
                return None
        _, _, data, params, convert = layout
        data, params = data(vals), params(vals)
        if convert:
            params = tuple(map(float, params))
        if nonfinite == "raise":
            total = sum(params, 0.0)  # Python floats: NaN and Inf propagate, nothing warns
        elif nonfinite != "propagate":
            return None
        if data:
            try:
                (n,) = set(map(len, data))  # TypeError for a 0-d array, ValueError unless one common length
            except (TypeError, ValueError):
                return None
            if not n or not _FLOAT64S.issuperset(map(_DTYPE, data)):
                return None  # an empty batch or another dtype: bind names it
            if nonfinite == "raise" and n * len(data) <= _SMALL:
                try:  # small batches: one float sum over the inputs as lists (one of 2-D is a TypeError)
                    total = sum(_chain(map(_TOLIST, data)), total)
                except TypeError:
                    return None
            elif not _ONE_D.issuperset(map(_NDIM, data)):
                return None
            elif nonfinite == "raise" and not all(map(_all_finite, data)):  # large ones: one isfinite pass each
                return None
            if self._contiguous:
                data = tuple(map(np.ascontiguousarray, data))
        if nonfinite == "raise" and not math.isfinite(total):
            return None  # a NaN or Inf somewhere (or a sum that overflowed): let bind look closely
        return data + params
