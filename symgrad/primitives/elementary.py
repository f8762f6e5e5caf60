"""Records of the elementary functions: exponential, logarithm, trigonometric and hyperbolic, and their inverses."""

import mpmath
import numpy as np
import sympy as sp

from .activations import sigmoid_value
from .build import add, call, mul, neg, power
from .record import Primitive
from .registry import add_record

_HALF = sp.Rational(1, 2)


def _same(name, **fields):
    """Spelled `name` in numpy, Python's math module and CUDA alike."""
    return {"numpy": name, "loop": name, "cuda": name, **fields}


def _inverse_trig(numpy_name, c_name, **fields):
    """numpy spells the inverse functions arc*, math and C a*; torch as C."""
    return {"numpy": numpy_name, "loop": c_name, "cuda": c_name,
            "torch": lambda b, *xs, c_name=c_name: getattr(b.xp, c_name)(*xs), **fields}


def _unit_circle(x):
    return power(add(sp.S.One, neg(power(x, 2))), -_HALF)  # (1 − x²)^(−1/2)


def _atan2_partials(node):
    """atan2(y, x): ∂/∂y = x/(x² + y²), ∂/∂x = −y/(x² + y²)."""
    y, x = node.args
    inverse = power(add(power(x, 2), power(y, 2)), sp.S.NegativeOne)
    return [mul(x, inverse), neg(mul(y, inverse))]


def _atan2_vjp(g, ans, y, x):
    r = np.hypot(x, y)  # (x/r)/r: no x² + y² to overflow
    return [g * (x / r) / r, -g * (y / r) / r]


for record in (
    Primitive(sp.exp, partials=lambda n: [n], vjp=lambda g, ans, x: [g * ans],
              evaluate=lambda b, x: b.xp.exp(x), mpmath=mpmath.exp, tf=("exp",), **_same("exp")),
    Primitive(sp.log, partials=lambda n: [power(n.args[0], sp.S.NegativeOne)], vjp=lambda g, ans, x: [g / x],
              evaluate=lambda b, x: b.xp.log(x), mpmath=mpmath.log, tf=("log",), domain=(0.2, 3.0),
              rewrites=("log_of_sum", "log_of_function"), **_same("log")),
    Primitive(sp.sin, partials=lambda n: [call(sp.cos, n.args[0])], vjp=lambda g, ans, x: [g * np.cos(x)],
              evaluate=lambda b, x: b.xp.sin(x), mpmath=mpmath.sin, tf=("sin",), **_same("sin")),
    Primitive(sp.cos, partials=lambda n: [neg(call(sp.sin, n.args[0]))], vjp=lambda g, ans, x: [-g * np.sin(x)],
              evaluate=lambda b, x: b.xp.cos(x), mpmath=mpmath.cos, tf=("cos",), **_same("cos")),
    Primitive(sp.tan, partials=lambda n: [add(sp.S.One, power(n, 2))], vjp=lambda g, ans, x: [g * (1.0 + ans * ans)],
              evaluate=lambda b, x: b.xp.tan(x), mpmath=mpmath.tan, tf=("tan",), domain=(-1.2, 1.2),
              **_same("tan")),
    Primitive(sp.asin, partials=lambda n: [_unit_circle(n.args[0])], vjp=lambda g, ans, x: [g / np.sqrt(1.0 - x * x)],
              evaluate=lambda b, x: b.xp.arcsin(x), mpmath=mpmath.asin, tf=("asin",), domain=(-0.9, 0.9),
              **_inverse_trig("arcsin", "asin")),
    Primitive(sp.acos, partials=lambda n: [neg(_unit_circle(n.args[0]))],
              vjp=lambda g, ans, x: [-g / np.sqrt(1.0 - x * x)], evaluate=lambda b, x: b.xp.arccos(x),
              mpmath=mpmath.acos, tf=("acos",), domain=(-0.9, 0.9),
              **_inverse_trig("arccos", "acos")),
    Primitive(sp.atan, partials=lambda n: [power(add(sp.S.One, power(n.args[0], 2)), sp.S.NegativeOne)],
              vjp=lambda g, ans, x: [g / (1.0 + x * x)], evaluate=lambda b, x: b.xp.arctan(x), mpmath=mpmath.atan,
              tf=("atan",), **_inverse_trig("arctan", "atan")),
    Primitive(sp.sinh, partials=lambda n: [call(sp.cosh, n.args[0])], vjp=lambda g, ans, x: [g * np.cosh(x)],
              evaluate=lambda b, x: b.xp.sinh(x), mpmath=mpmath.sinh, tf=("sinh",),
              **_same("sinh")),
    Primitive(sp.cosh, partials=lambda n: [call(sp.sinh, n.args[0])], vjp=lambda g, ans, x: [g * np.sinh(x)],
              evaluate=lambda b, x: b.xp.cosh(x), mpmath=mpmath.cosh, tf=("cosh",),
              **_same("cosh")),
    # 1 − tanh² reuses the node symbolically; the VJP writes it as 4σ(2x)σ(−2x), which does not cancel
    Primitive(sp.tanh, partials=lambda n: [add(sp.S.One, neg(power(n, 2)))],
              vjp=lambda g, ans, x: [g * 4.0 * sigmoid_value(2.0 * x) * sigmoid_value(-2.0 * x)],
              evaluate=lambda b, x: b.xp.tanh(x), mpmath=mpmath.tanh, tf=("tanh",), activation="tanh",
              **_same("tanh")),
    Primitive(sp.atan2, partials=_atan2_partials, vjp=_atan2_vjp, evaluate=lambda b, y, x: b.xp.arctan2(y, x),
              mpmath=mpmath.atan2, tf=("atan2",), tf_inputs=("y", "x"), **_inverse_trig("arctan2", "atan2")),
    Primitive(sp.asinh, partials=lambda n: [power(add(sp.S.One, power(n.args[0], 2)), -_HALF)],
              vjp=lambda g, ans, x: [g / np.hypot(1.0, x)], evaluate=lambda b, x: b.xp.arcsinh(x), mpmath=mpmath.asinh,
              tf=("asinh",), **_inverse_trig("arcsinh", "asinh")),
    Primitive(sp.acosh, partials=lambda n: [mul(power(add(n.args[0], sp.S.NegativeOne), -_HALF),
                                                power(add(n.args[0], sp.S.One), -_HALF))],
              vjp=lambda g, ans, x: [g / np.sqrt((x - 1.0) * (x + 1.0))], evaluate=lambda b, x: b.xp.arccosh(x),
              mpmath=mpmath.acosh, tf=("acosh",), domain=(1.05, 3.0), **_inverse_trig("arccosh", "acosh")),
    Primitive(sp.atanh, partials=lambda n: [power(add(sp.S.One, neg(power(n.args[0], 2))), sp.S.NegativeOne)],
              vjp=lambda g, ans, x: [g / ((1.0 - x) * (1.0 + x))], evaluate=lambda b, x: b.xp.arctanh(x),
              mpmath=mpmath.atanh, tf=("atanh",), domain=(-0.9, 0.9), **_inverse_trig("arctanh", "atanh")),
):
    add_record(record)

