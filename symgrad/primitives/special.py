"""Records of the special functions: sinc and its derivatives, hypot, log1p, expm1, logsumexp."""

import mpmath
import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import expm1, hypot, log1p

from .. import functions as F
from .arithmetic import maximum as extremum
from .backends import NumpyBackend
from .build import add, call, mul, neg, power
from .record import Helper, Primitive, tf_missing
from .registry import add_record


def horner(coefficients, var, lit=""):
    """c0 + v*(c1 + v*(c2 + ...)) as text (the series of `symgrad.functions` for sinc)."""
    text = f"{float(coefficients[-1])!r}{lit}"
    for c in reversed(coefficients[:-1]):
        text = f"{float(c)!r}{lit} + {var}*({text})"
    return text


def _horner_value(x2, coefficients):
    out = x2 * 0.0 + float(coefficients[-1])
    for c in reversed(coefficients[:-1]):
        out = out * x2 + float(c)
    return out


# sinc's derivatives of order 0-3 away from 0, written so that no x² or x³ overflows for large x
_DIRECT = {
    0: lambda xp, x: xp.sin(x) / x,
    1: lambda xp, x: (xp.cos(x) - xp.sin(x) / x) / x,
    2: lambda xp, x: ((2.0 / (x * x) - 1.0) * xp.sin(x) - 2.0 * xp.cos(x) / x) / x,
    3: lambda xp, x: ((6.0 / (x * x) - 1.0) * xp.cos(x) + (3.0 - 6.0 / (x * x)) * xp.sin(x) / x) / x,
}


def sinc_derivative(b, x, order):
    """sinc's `order`-th derivative: its series where x² < SINC_SERIES_BELOW, the direct form elsewhere."""
    small = x * x < F.SINC_SERIES_BELOW
    safe = b.where(small, x * 0.0 + 1.0, x)
    series = _horner_value(x * x, F.sinc_taylor(order))
    return b.where(small, x * series if order % 2 else series, _DIRECT[order](b.xp, safe))


_SMALL = repr(float(F.SINC_SERIES_BELOW))


def mp_sinc_derivative(order):
    """sinc's `order`-th derivative in mpmath: 40 terms of its series below |x| = 1 (numerical
    differentiation loses everything near 0), mpmath's differentiation above."""
    coefficients = [mpmath.mpf(c.p) / c.q for c in F.sinc_taylor(order, terms=40)]

    def value(x):
        if abs(x) >= 1:
            return mpmath.diff(mpmath.sinc, x, order)
        return x ** (order % 2) * mpmath.polyval(coefficients[::-1], x * x)

    return value


def _sinc_helper(name, order, why, numpy, loop, cuda):
    """A helper computing sinc's `order`-th derivative by the series near 0 (where `why`) and by
    the given direct forms elsewhere: `numpy` of `safe`, `loop` and `cuda(f, lit)` of `x`."""
    coefficients = F.sinc_taylor(order)

    def series(lit=""):
        text = horner(coefficients, "x2", lit)
        return f"x*({text})" if order % 2 else text

    return Helper(
        name,
        numpy=f"def {name}(x):\n    x2 = x*x\n    small = x2 < {_SMALL}  # the series near 0, where {why}\n"
        f"    safe = np.where(small, 1.0, x)\n    return np.where(small, {series()}, {numpy})",
        loop=f"def scalar_{name}(x):\n    x2 = x*x\n    if x2 < {_SMALL}:  # the series near 0, where {why}\n"
        f"        return {series()}\n    return {loop}",
        cuda=lambda f, lit: (  # the series near 0 (coefficients: symgrad.functions)
            f"__device__ inline sg_real sg_{name}(sg_real x) {{\n"
            f"    const sg_real x2 = x * x;\n    if (x2 < {_SMALL}{lit}) return {series(lit)};\n"
            f"    return {cuda(f, lit)};\n"
            "}"
        ),
    )


SINC = _sinc_helper("sinc", 0, "sin(x)/x is 0/0", "np.sin(safe)/safe", "math.sin(x)/x", lambda f, lit: f"sin{f}(x) / x")
DSINC = _sinc_helper(
    "dsinc", 1, "the direct form cancels", "(np.cos(safe) - np.sin(safe)/safe)/safe",
    "(math.cos(x) - math.sin(x)/x)/x", lambda f, lit: f"(cos{f}(x) - sin{f}(x) / x) / x")
D2SINC = _sinc_helper(
    "d2sinc", 2, "the direct form cancels", "((2.0/(safe*safe) - 1.0)*np.sin(safe) - 2.0*np.cos(safe)/safe)/safe",
    "((2.0/x2 - 1.0)*math.sin(x) - 2.0*math.cos(x)/x)/x",
    lambda f, lit: f"((2.0{lit} / x2 - 1.0{lit}) * sin{f}(x) - 2.0{lit} * cos{f}(x) / x) / x")


def _logsumexp_cuda(f, lit, arity):
    xs = [f"x{k}" for k in range(arity)]
    m = xs[0]
    for x in xs[1:]:
        m = f"fmax{f}({m}, {x})"
    total = " + ".join(f"exp{f}({x} - m)" for x in xs)
    return (
        f"__device__ inline sg_real sg_logsumexp{arity}({', '.join('sg_real ' + x for x in xs)}) {{\n"
        f"    sg_real m = {m};\n"
        f"    if (!isfinite(m)) m = 0.0{lit};\n"
        f"    return m + log{f}({total});\n"
        "}"
    )


LOGSUMEXP = Helper(
    "logsumexp",
    numpy="def logsumexp(*xs):\n    m = xs[0]\n    for x in xs[1:]:\n        m = np.maximum(m, x)\n"
    "    m = np.where(np.isfinite(m), m, 0.0)\n    return m + np.log(sum(np.exp(x - m) for x in xs))",
    loop="def scalar_logsumexp(*xs):\n    m = max(xs)\n    if not math.isfinite(m):\n        m = 0.0\n"
    "    return m + math.log(math.fsum(math.exp(x - m) for x in xs))",
    cuda=_logsumexp_cuda,
    variadic=True,
)


def _logsumexp(b, *xs):
    """Shift by the running maximum so no exponential overflows."""
    m = extremum(b, *xs)
    m = b.where(b.xp.isfinite(m), m, 0.0 * m)
    total = 0.0
    for x in xs:
        total = total + b.xp.exp(x - m)
    return m + b.xp.log(total)


def _over(x, node):
    return mul(x, power(node, sp.S.NegativeOne))


for record in (
    Primitive(sp.sinc, partials=lambda n: [call(F.dsinc, n.args[0])],  # sympy's (x cos x − sin x)/x² is 0/0 at 0
              vjp=lambda g, ans, x: [g * sinc_derivative(NumpyBackend, x, 1)],
              evaluate=lambda b, x: sinc_derivative(b, x, 0), numpy=SINC, loop=SINC, cuda=SINC,
              mpmath=lambda x: mpmath.sinc(x), gaps={"tf": "TensorFlow has no sinc"}),
    Primitive(F.dsinc, partials=lambda n: [call(F.d2sinc, n.args[0])],
              vjp=lambda g, ans, x: [g * sinc_derivative(NumpyBackend, x, 2)],
              evaluate=lambda b, x: sinc_derivative(b, x, 1), numpy=DSINC, loop=DSINC, cuda=DSINC,
              mpmath=mp_sinc_derivative(1), gaps={"tf": "sinc's derivative: TensorFlow has no sinc"}),
    # its partial (the third derivative) is a Piecewise of the series and the direct form: finite at 0
    Primitive(F.d2sinc, partials=lambda n: [F.d3sinc(n.args[0])],
              vjp=lambda g, ans, x: [g * sinc_derivative(NumpyBackend, x, 3)],
              evaluate=lambda b, x: sinc_derivative(b, x, 2), numpy=D2SINC, loop=D2SINC, cuda=D2SINC,
              mpmath=mp_sinc_derivative(2), gaps={"tf": "sinc's derivative: TensorFlow has no sinc"}),
    # √(x² + y²) without overflow (numpy, math and CUDA all have it); ∂/∂x = x/hypot reuses the node
    Primitive(hypot, partials=lambda n: [_over(a, n) for a in n.args],
              vjp=lambda g, ans, x, y: [g * x / ans, g * y / ans], evaluate=lambda b, x, y: b.xp.hypot(x, y),
              numpy="hypot", loop="hypot", cuda="hypot", mpmath=mpmath.hypot,
              gaps={"tf": "TensorFlow has no hypot op"}),
    Primitive(log1p, partials=lambda n: [power(add(sp.S.One, n.args[0]), sp.S.NegativeOne)],
              vjp=lambda g, ans, x: [g / (1.0 + x)], evaluate=lambda b, x: b.xp.log1p(x), numpy="log1p",
              loop="log1p", cuda="log1p", mpmath=mpmath.log1p, tf=("log1p",), domain=(-0.8, 2.0),
              rewrites=("log_of_sum",)),
    Primitive(expm1, partials=lambda n: [call(sp.exp, n.args[0])], vjp=lambda g, ans, x: [g * (ans + 1.0)],
              evaluate=lambda b, x: b.xp.expm1(x), numpy="expm1", loop="expm1", cuda="expm1",
              mpmath=lambda x: mpmath.expm1(x), tf=("expm1",), rewrites=("expm1",)),
    Primitive(F.logsumexp, partials=lambda n: [call(sp.exp, add(a, neg(n))) for a in n.args],
              vjp=lambda g, ans, *xs: [g * np.exp(x - ans) for x in xs], evaluate=_logsumexp,
              numpy=LOGSUMEXP, loop=LOGSUMEXP, cuda=LOGSUMEXP,
              mpmath=lambda *xs: mpmath.log(mpmath.fsum(mpmath.exp(x) for x in xs)), tf=("reduce_logsumexp",), gaps=tf_missing("reduce_logsumexp"),
              rewrites=("softmax", "log_of_sum")),
):
    add_record(record)
