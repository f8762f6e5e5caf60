"""Dual numbers over numpy arrays: numeric forward mode, one JVP rule per numpy ufunc.

A `Dual` carries a value and a tangent (x + ε·ẋ with ε² = 0). Numpy ufuncs applied to it dispatch
to the `JVP` table below, so any numpy code written for plain arrays (the forward evaluation rules
of `symgrad.numeric` and the VJP table of `symgrad.autodiff`) also computes a directional
derivative when handed duals. Running autodiff's reverse pass on duals is forward-over-reverse:
the tangent of the gradient is a Hessian-vector product. The rules are written from the calculus,
independently of sympy's derivatives and of `symgrad.symbolic`.
"""

import numpy as np

from .errors import UnsupportedError


def _pow(a, b, da, db):
    value = a**b
    tangent = da * b * a ** (b - 1)
    if np.any(db != 0):
        with np.errstate(divide="ignore", invalid="ignore"):  # the convention of primitives.arithmetic.exponent_slope
            tangent = tangent + db * np.where(a == 0, 0.0, value * np.log(a))
    return value, tangent


def _logaddexp(a, b, da, db):
    value = np.logaddexp(a, b)
    return value, da * np.exp(a - value) + db * np.exp(b - value)


def _pick(take_first):
    def rule(a, b, da, db):
        first = take_first(a, b)
        return np.where(first, a, b), np.where(first, da, db)

    return rule


def _flat(ufunc):
    """A piecewise-constant function: derivative zero wherever it exists."""
    return lambda *args: (ufunc(*args[: len(args) // 2]), 0.0 * args[0])


# ufunc -> rule(*values, *tangents) -> (value, tangent)
JVP = {
    np.add: lambda a, b, da, db: (a + b, da + db),
    np.subtract: lambda a, b, da, db: (a - b, da - db),
    np.multiply: lambda a, b, da, db: (a * b, da * b + a * db),
    np.true_divide: lambda a, b, da, db: (a / b, da / b - a * db / (b * b)),
    np.negative: lambda a, da: (-a, -da),
    np.positive: lambda a, da: (a, da),
    np.power: _pow,
    np.square: lambda a, da: (a * a, 2.0 * a * da),
    np.sqrt: lambda a, da: (np.sqrt(a), da / (2.0 * np.sqrt(a))),
    np.exp: lambda a, da: (np.exp(a), np.exp(a) * da),
    np.expm1: lambda a, da: (np.expm1(a), np.exp(a) * da),
    np.log: lambda a, da: (np.log(a), da / a),
    np.log1p: lambda a, da: (np.log1p(a), da / (1.0 + a)),
    np.logaddexp: _logaddexp,
    np.sin: lambda a, da: (np.sin(a), np.cos(a) * da),
    np.cos: lambda a, da: (np.cos(a), -np.sin(a) * da),
    np.tan: lambda a, da: (np.tan(a), da / np.cos(a) ** 2),
    np.arcsin: lambda a, da: (np.arcsin(a), da / np.sqrt(1.0 - a * a)),
    np.arccos: lambda a, da: (np.arccos(a), -da / np.sqrt(1.0 - a * a)),
    np.arctan: lambda a, da: (np.arctan(a), da / (1.0 + a * a)),
    np.arctan2: lambda a, b, da, db: (np.arctan2(a, b), (b * da - a * db) / (a * a + b * b)),
    np.hypot: lambda a, b, da, db: (np.hypot(a, b), (a * da + b * db) / np.hypot(a, b)),
    np.arcsinh: lambda a, da: (np.arcsinh(a), da / np.sqrt(1.0 + a * a)),
    np.arccosh: lambda a, da: (np.arccosh(a), da / np.sqrt(a * a - 1.0)),
    np.arctanh: lambda a, da: (np.arctanh(a), da / (1.0 - a * a)),
    np.sinh: lambda a, da: (np.sinh(a), np.cosh(a) * da),
    np.cosh: lambda a, da: (np.cosh(a), np.sinh(a) * da),
    np.tanh: lambda a, da: (np.tanh(a), (1.0 - np.tanh(a) ** 2) * da),
    np.absolute: lambda a, da: (np.abs(a), np.sign(a) * da),
    np.maximum: _pick(lambda a, b: a >= b),
    np.minimum: _pick(lambda a, b: a <= b),
    np.sign: _flat(np.sign),
    np.heaviside: _flat(np.heaviside),
}
# ufuncs whose result is not a real number (comparisons, tests): computed on the values alone
VALUE_ONLY = {
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    np.isfinite, np.isnan, np.isinf, np.logical_and, np.logical_or, np.logical_not,
}


def _parts(x):
    return (x.value, x.tangent) if isinstance(x, Dual) else (x, 0.0)


def _where(cond, a, b):
    (va, ta), (vb, tb) = _parts(a), _parts(b)
    c = cond.value if isinstance(cond, Dual) else cond
    return Dual(np.where(c, va, vb), np.where(c, ta, tb))


# numpy functions (not ufuncs) that autodiff's rules call on values
FUNCTIONS = {
    np.where: _where,
    np.shape: lambda x: np.shape(x.value),
    np.ndim: lambda x: np.ndim(x.value),
}


class Dual:
    """value + ε·tangent, for numpy arrays or floats; numpy ufuncs and operators work on it."""

    __array_priority__ = 1000

    def __init__(self, value, tangent):
        self.value, self.tangent = value, tangent

    def __repr__(self):
        return f"Dual({self.value!r}, {self.tangent!r})"

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs:
            return NotImplemented
        values = [_parts(x)[0] for x in inputs]
        if ufunc in VALUE_ONLY:
            return ufunc(*values)
        rule = JVP.get(ufunc)
        if rule is None:
            raise UnsupportedError(f"forward mode has no rule for numpy.{ufunc.__name__}; add one to symgrad.dual.JVP")
        tangents = [_parts(x)[1] for x in inputs]
        return Dual(*rule(*values, *tangents))

    def __array_function__(self, func, types, args, kwargs):
        if func not in FUNCTIONS:
            raise UnsupportedError(f"forward mode does not support numpy.{func.__name__} on dual numbers")
        return FUNCTIONS[func](*args, **kwargs)

    def __add__(self, other):
        return np.add(self, other)

    def __radd__(self, other):
        return np.add(other, self)

    def __sub__(self, other):
        return np.subtract(self, other)

    def __rsub__(self, other):
        return np.subtract(other, self)

    def __mul__(self, other):
        return np.multiply(self, other)

    def __rmul__(self, other):
        return np.multiply(other, self)

    def __truediv__(self, other):
        return np.true_divide(self, other)

    def __rtruediv__(self, other):
        return np.true_divide(other, self)

    def __pow__(self, other):
        return np.power(self, other)

    def __rpow__(self, other):
        return np.power(other, self)

    def __neg__(self):
        return np.negative(self)

    def __abs__(self):
        return np.absolute(self)

    def __gt__(self, other):
        return np.greater(self, other)

    def __ge__(self, other):
        return np.greater_equal(self, other)

    def __lt__(self, other):
        return np.less(self, other)

    def __le__(self, other):
        return np.less_equal(self, other)

    def __eq__(self, other):
        return np.equal(self, other)

    def __ne__(self, other):
        return np.not_equal(self, other)

    __hash__ = None
