"""The fast lane of `values.bind` for a matrix kernel called again with the same arrays' layout.

A training loop passes the same keys every step, arrays of the same shapes and dtype, often the
very arrays it updates in place. Binding them through `bind` (sizes inferred, every shape and dtype
checked, symbols looked up by hash) costs as much as a small network's whole step. `MatrixLayout`
remembers, from a call the checked path accepted without converting anything, the key order, where
each argument sits and every shape; a call with the same keys and C-contiguous arrays of the kernel's
dtype and those shapes, all finite (one square sum each, under nonfinite="raise"), takes the arrays as
they are. Anything else answers None and goes to `bind`, which decides and names what is wrong
(tests/test_matrix_prepared.py holds both lanes to the same answers).
"""

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MatrixLayout:
    """Where one accepted mapping kept the kernel's arguments, and their shapes."""

    keys: tuple
    positions: tuple  # key position of each argument (DATA then PARAMS)
    shapes: tuple
    dtype: np.dtype

    @classmethod
    def of(cls, values, symbols, arguments, dtype):
        """The layout of `values` if every argument the checked path bound is the array passed for
        its symbol (found as a key, not by name) unchanged, else None."""
        if type(values) is not dict:
            return None
        keys = tuple(values)
        where = {key: i for i, key in enumerate(keys) if not isinstance(key, str)}
        positions = [where.get(s) for s in symbols]
        if None in positions:
            return None
        vals = tuple(values.values())
        if any(type(a) is not np.ndarray or vals[i] is not a for i, a in zip(positions, arguments, strict=True)):
            return None  # a scalar, a converted or copied value: every call of this kind is bound afresh
        return cls(keys, tuple(positions), tuple(a.shape for a in arguments), np.dtype(dtype))

    def arguments(self, values, nonfinite):
        """The arrays of `values` in argument order when they fit this layout, else None."""
        if type(values) is not dict or nonfinite not in ("raise", "propagate") or tuple(values) != self.keys:
            return None
        vals = tuple(values.values())
        if len(vals) != len(self.keys):  # the dict changed size since its keys were read (another thread)
            return None
        args = [vals[i] for i in self.positions]
        dtype = self.dtype
        for a, shape in zip(args, self.shapes, strict=True):
            if type(a) is not np.ndarray or a.shape != shape or a.dtype != dtype or not a.flags.c_contiguous:
                return None
        if nonfinite == "raise":  # a square sum is NaN or Inf exactly when some entry is (or when it overflows)
            if not math.isfinite(sum([float(np.vdot(a, a)) for a in args], 0.0)):
                return None
        return args
