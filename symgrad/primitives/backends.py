"""The array operations evaluation rules call, on numpy and on torch (the autograd oracle)."""

import math

import numpy as np

from .error_function import numpy_erf, numpy_erfc


def _special(fn, x, sign):
    """erf or erfc (sign of the slope ±2/√π e^(−x²)) on arrays, and on dual numbers by their tangent."""
    if hasattr(x, "tangent"):  # a symgrad.dual.Dual: numpy has no erf ufunc to dispatch through
        slope = sign * (2.0 / math.sqrt(math.pi)) * np.exp(-x.value * x.value)
        return type(x)(_special(fn, x.value, sign), slope * x.tangent)
    x = np.asarray(x)
    return fn(x if x.dtype.kind == "f" else x.astype(np.float64))


class NumpyBackend:
    """Array operations the evaluation rules use, on numpy (and on dual numbers through numpy)."""

    name = "numpy"
    xp = np

    @staticmethod
    def const(x, like=None):
        return np.float64(x)

    @staticmethod
    def logaddexp(a, b):
        return np.logaddexp(a, b)

    @staticmethod
    def where(c, a, b):
        return np.where(c, a, b)

    @staticmethod
    def heaviside(x, h0):
        return np.heaviside(x, h0)

    @staticmethod
    def erf(x):
        return _special(numpy_erf, x, 1.0)

    @staticmethod
    def erfc(x):
        return _special(numpy_erfc, x, -1.0)


class TorchBackend:
    """The same operations on torch tensors (float64), for the PyTorch autograd oracle."""

    name = "torch"

    def __init__(self):
        import torch

        self.xp = torch
        self.torch = torch

    def const(self, x, like=None):
        return self.torch.tensor(float(x), dtype=self.torch.float64)

    def logaddexp(self, a, b):
        t = self.torch
        return t.logaddexp(t.as_tensor(a, dtype=t.float64), t.as_tensor(b, dtype=t.float64))

    def where(self, c, a, b):
        t = self.torch
        return t.where(t.as_tensor(c), t.as_tensor(a, dtype=t.float64), t.as_tensor(b, dtype=t.float64))

    def heaviside(self, x, h0):
        """A step built from `where` (torch's own `heaviside` has no derivative): zero slope, as ours."""
        t = self.torch
        x = t.as_tensor(x, dtype=t.float64)
        one, zero = t.ones_like(x), t.zeros_like(x)
        return t.where(x > 0, one, t.where(x == 0, one * float(h0), zero))

    def erf(self, x):
        return self.torch.special.erf(x)

    def erfc(self, x):
        return self.torch.special.erfc(x)
