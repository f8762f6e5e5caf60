"""Records of the special functions: erf, sinc, log1p, expm1, logsumexp."""

import math

import mpmath
import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

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


def sinc_value(b, x):
    """sin(x)/x, by its series near 0 (`symgrad.functions.SINC_TAYLOR`)."""
    small = x * x < F.SINC_SERIES_BELOW
    safe = b.where(small, x * 0.0 + 1.0, x)
    return b.where(small, _horner_value(x * x, F.SINC_TAYLOR), b.xp.sin(safe) / safe)


def dsinc_value(b, x):
    """sinc'(x) = (x cos x − sin x)/x², by its series near 0."""
    small = x * x < F.SINC_SERIES_BELOW
    safe = b.where(small, x * 0.0 + 1.0, x)
    return b.where(small, x * _horner_value(x * x, F.DSINC_TAYLOR),
                   (safe * b.xp.cos(safe) - b.xp.sin(safe)) / (safe * safe))


_SMALL = repr(float(F.SINC_SERIES_BELOW))
SINC = Helper(
    "sinc",
    numpy=f"def sinc(x):\n    x2 = x*x\n    small = x2 < {_SMALL}  # the series near 0, where sin(x)/x is 0/0\n"
    "    safe = np.where(small, 1.0, x)\n"
    f"    return np.where(small, {horner(F.SINC_TAYLOR, 'x2')}, np.sin(safe)/safe)",
    loop=f"def scalar_sinc(x):\n    x2 = x*x\n    if x2 < {_SMALL}:  # the series near 0, where sin(x)/x is 0/0\n"
    f"        return {horner(F.SINC_TAYLOR, 'x2')}\n    return math.sin(x)/x",
    cuda=lambda f, lit: (  # the series near 0, where sin(x)/x is 0/0 (coefficients: symgrad.functions)
        "__device__ inline sg_real sg_sinc(sg_real x) {\n"
        f"    const sg_real x2 = x * x;\n    if (x2 < {_SMALL}{lit}) return {horner(F.SINC_TAYLOR, 'x2', lit)};\n"
        f"    return sin{f}(x) / x;\n"
        "}"
    ),
)
DSINC = Helper(
    "dsinc",
    numpy=f"def dsinc(x):\n    x2 = x*x\n    small = x2 < {_SMALL}  # the series near 0, where the direct form cancels\n"
    "    safe = np.where(small, 1.0, x)\n"
    f"    return np.where(small, x*({horner(F.DSINC_TAYLOR, 'x2')}), (safe*np.cos(safe) - np.sin(safe))/(safe*safe))",
    loop=f"def scalar_dsinc(x):\n    x2 = x*x\n    if x2 < {_SMALL}:  # the series near 0, where the direct form cancels\n"
    f"        return x*({horner(F.DSINC_TAYLOR, 'x2')})\n    return (x*math.cos(x) - math.sin(x))/x2",
    cuda=lambda f, lit: (  # sinc'(x); the series near 0, where (x cos x - sin x)/x^2 cancels
        "__device__ inline sg_real sg_dsinc(sg_real x) {\n"
        f"    const sg_real x2 = x * x;\n    if (x2 < {_SMALL}{lit}) return x * ({horner(F.DSINC_TAYLOR, 'x2', lit)});\n"
        f"    return (x * cos{f}(x) - sin{f}(x)) / x2;\n"
        "}"
    ),
)


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


_TWO_OVER_ROOT_PI = 2 / sp.sqrt(sp.pi)

for record in (
    Primitive(sp.erf, partials=lambda n: [mul(_TWO_OVER_ROOT_PI, call(sp.exp, neg(power(n.args[0], 2))))],
              vjp=lambda g, ans, x: [g * (2.0 / math.sqrt(math.pi)) * np.exp(-x * x)],
              evaluate=lambda b, x: b.erf(x), loop="erf", cuda="erf", mpmath=mpmath.erf, tf=("erf",),
              gaps={"numpy": "numpy has no vectorized erf", **tf_missing("erf")}),
    Primitive(sp.sinc, partials=lambda n: [call(F.dsinc, n.args[0])],  # sympy's (x cos x − sin x)/x² is 0/0 at 0
              vjp=lambda g, ans, x: [g * dsinc_value(NumpyBackend, x)], evaluate=sinc_value,
              numpy=SINC, loop=SINC, cuda=SINC, mpmath=lambda x: mpmath.sinc(x), gaps={"tf": "TensorFlow has no sinc"}),
    # second derivatives of sinc at exactly 0 are NaN (the partial divides by x)
    Primitive(F.dsinc, partials=lambda n: [add(neg(call(sp.sinc, n.args[0])),
                                               mul(sp.Integer(-2), n, power(n.args[0], sp.S.NegativeOne)))],
              vjp=lambda g, ans, x: [g * (-sinc_value(NumpyBackend, x) - 2.0 * ans / x)], evaluate=dsinc_value,
              numpy=DSINC, loop=DSINC, cuda=DSINC,
              mpmath=lambda x: mpmath.diff(mpmath.sinc, x), gaps={"tf": "sinc's derivative: TensorFlow has no sinc"}),
    Primitive(log1p, partials=lambda n: [power(add(sp.S.One, n.args[0]), sp.S.NegativeOne)],
              vjp=lambda g, ans, x: [g / (1.0 + x)], evaluate=lambda b, x: b.xp.log1p(x), numpy="log1p",
              loop="log1p", cuda="log1p", mpmath=lambda x: mpmath.log(1 + x), tf=("log1p",), domain=(-0.8, 2.0),
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
