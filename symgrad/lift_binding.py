"""Per-symbol values of a lifted `nn.mlp` handed to its matrix kernel, the layout read once per key order.

A training loop calls `kernel.loss_and_grad(values)` with the same dict every step: thousands of
weights keyed by their symbols, then the data columns. `MatrixBinding` works out, for the key order
of the last accepted mapping, where each data column and each weight sits (in the row-by-row order
of the matrices W1, b1, W2, ...), so a call costs one key-tuple comparison, one float sum over the
parameters (their type test and, with the data's square sums, the finiteness test), one
`struct` packing into the weight matrices (a quarter of `np.fromiter`'s time) and one `tolist` of the gradients: no symbol is looked up,
hashed or printed. It answers None for anything it does not vouch for (a batch the per-sample loop
takes, data that are not equal-length 1-D float64 arrays, a parameter that is not a real Python or
numpy number, a NaN or Inf anywhere, a dask collection, another nonfinite policy), so the checked
path stays the one place that decides what is wrong and says so (tests/test_lift_binding.py holds
the two lanes to the same answers).
"""

import math
import operator
import struct
from dataclasses import dataclass

import numpy as np

_FLOAT64 = np.dtype(np.float64)
_NUMBER_SUMS = (float, np.float64)  # a sum with 0.0 of Python floats, ints, bools or numpy float64 scalars


@dataclass(frozen=True)
class _Layout:
    """Where one key order keeps the kernel's values (replaced whole, never edited)."""

    keys: tuple
    features: tuple  # key positions of X's columns
    targets: tuple  # key positions of Y's columns
    take: object  # values tuple -> the parameters (a slice or an itemgetter)
    order: object  # None, or the permutation from what `take` gives to matrix order
    others: tuple  # key positions no argument reads (each tested: no dask collection)


def layer_bounds(shapes):
    """(start, stop, shape) of W1, b1, W2, b2, ... in the flat parameters in matrix order (each W_k
    row by row, then b_k), for layers of the (fan-in, units) `shapes`."""
    out, start = [], 0
    for fan_in, units in shapes:
        out.append((start, start + fan_in * units, (fan_in, units)))
        start += fan_in * units
        out.append((start, start + units, (1, units)))
        start += units
    return out


def layer_matrices(theta, shapes, bounds=None):
    """The flat parameters in matrix order as W1, b1, W2, b2, ... (views of `theta`); `bounds`:
    `layer_bounds(shapes)` when the caller keeps them."""
    return [theta[a:b].reshape(shape) for a, b, shape in bounds or layer_bounds(shapes)]


class MatrixBinding:
    """`loss_and_grad(values, nonfinite)` of a lifted kernel through `call` (the matrix module's),
    or None when the checked path must decide.

    `features`, `targets`: the data symbols that are X's and Y's columns; `params`: the scalar
    parameters in matrix order (each matrix's entries row by row); `shapes`: the matrices' shapes;
    `wrt_order`: for each matrix-order entry its position in the gradients returned; `report(nonfinite,
    value, grads)` names non-finite results; batches up to `loop_max` rows are left to the caller.
    """

    def __init__(self, features, targets, params, shapes, wrt_order, call, report, loop_max):
        self._features, self._targets, self._params = list(features), list(targets), list(params)
        self._shapes, self._call, self._report, self._loop_max = list(shapes), call, report, loop_max
        inverse = np.argsort(np.asarray(wrt_order))
        self._to_wrt = None if (inverse == np.arange(len(inverse))).all() else inverse
        self._pack = struct.Struct(f"={len(self._params)}d").pack  # floats to float64 bytes, native order
        self._layout = None

    def _prepare(self, keys):
        """The layout for `keys` (each symbol found as a key, else by its name), now installed; None
        when some symbol has no value there."""
        where = {key: i for i, key in enumerate(keys) if not isinstance(key, str)}
        by_name = {key: i for i, key in enumerate(keys) if isinstance(key, str)}

        def find(symbols):
            return [where.get(s, by_name.get(str(s)) if by_name else None) for s in symbols]

        features, targets, params = find(self._features), find(self._targets), find(self._params)
        if None in features or None in targets or None in params:
            return None
        low, high = min(params, default=0), max(params, default=-1) + 1
        if sorted(params) == list(range(low, high)):  # one run of keys: a tuple slice, reordered in numpy
            take = slice(low, high)
            order = None if params == list(range(low, high)) else np.asarray(params) - low
        else:
            take, order = operator.itemgetter(*params), None  # two or more scattered keys: a tuple
        others = tuple(sorted(set(range(len(keys))) - set(features) - set(targets) - set(params)))
        self._layout = _Layout(keys, tuple(features), tuple(targets), take, order, others)
        return self._layout

    def arguments(self, values, nonfinite):
        """The scalar kernel's arguments: this lane has none to give (the checked path binds them)."""
        return None

    def matrix_arguments(self, values, nonfinite):
        """The matrix kernel's arguments (X, Y, W1, b1, ...) from `values`, or None."""
        if type(values) is not dict or nonfinite not in ("raise", "propagate"):
            return None
        keys = tuple(values)
        layout = self._layout
        if layout is None or keys != layout.keys:
            layout = self._prepare(keys)
            if layout is None:
                return None
        vals = tuple(values.values())
        if len(vals) != len(keys):  # the dict changed size since its keys were read (another thread)
            return None
        if any(hasattr(type(vals[i]), "__dask_graph__") for i in layout.others):
            return None  # an unused value may still send the call to dask
        features, targets = [vals[i] for i in layout.features], [vals[i] for i in layout.targets]
        if set(map(type, features + targets)) != {np.ndarray}:
            return None  # a list, a dask array, ... (np.array would compute a dask array): bind reads or names it
        try:  # the columns gathered as rows (3-5x quicker than np.stack(axis=1)), passed on transposed
            XT, YT = np.array(features), np.array(targets)
        except ValueError:  # unequal lengths: bind names them
            return None
        if XT.dtype != _FLOAT64 or YT.dtype != _FLOAT64 or XT.ndim != 2 or YT.ndim != 2:
            return None  # another dtype, 0-d or 2-D columns: bind converts, broadcasts or names them
        rows = XT.shape[1]
        if YT.shape[1] != rows:
            return None
        if rows <= self._loop_max:
            return None  # the per-sample loop's batches are the caller's
        params = vals[layout.take] if type(layout.take) is slice else layout.take(vals)
        try:
            total = sum(params, 0.0)
        except (TypeError, OverflowError):  # a string, None, a Decimal, an int past float range ...: bind names it
            return None
        if type(total) not in _NUMBER_SUMS:  # a sympy number, an array, a complex ...: bind decides
            return None
        if nonfinite == "raise":  # a square sum is NaN or Inf exactly when some entry is (or it overflows)
            if not math.isfinite(float(total) + float(np.vdot(XT, XT)) + float(np.vdot(YT, YT))):
                return None
        theta = np.frombuffer(self._pack(*params), _FLOAT64)  # read-only: kernels never write their arguments
        if layout.order is not None:
            theta = theta[layout.order]
        return [XT.T, YT.T, *layer_matrices(theta, self._shapes)]  # BLAS reads the transposed views as fast

    def loss_and_grad(self, values, nonfinite):
        """(loss, one float per parameter in wrt order) through the matrix module, or None."""
        args = self.matrix_arguments(values, nonfinite)
        if args is None:
            return None
        value, grads = self._call(*args)
        flat = np.concatenate([np.ravel(g) for g in grads])
        if self._to_wrt is not None:
            flat = flat[self._to_wrt]
        value = float(value)
        if not (math.isfinite(value) and np.isfinite(flat).all()):
            self._report(nonfinite, value, flat.tolist())
        return value, flat.tolist()
