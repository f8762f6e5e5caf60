"""Records of symgrad's activation functions, each in its numerically stable form on every target."""

import mpmath
import numpy as np
import sympy as sp

from .. import functions as F
from .build import add, call, mul, neg
from .record import Helper, Primitive
from .registry import add_record


def sigmoid_value(x):
    """σ(x) on numpy without overflow: e^(−softplus(−x))."""
    return np.exp(-np.logaddexp(0.0, -x))


def _sigmoid(b, x):
    return b.xp.exp(-b.logaddexp(0.0, -x))


SIGMOID = Helper(
    "sigmoid",
    # 1/(1 + e^-x) while e^-x cannot overflow (x >= -87 in float32, -708 in float64: four passes,
    # the usual case); with any x below, 1/(1 + e) for x >= 0 and e/(1 + e) below, e = e^-|x|,
    # exact down to the subnormal results (the numerator max(e, x >= 0) is 1 or e without
    # np.where, whose data-dependent branches cost more than the exp on random signs)
    numpy="def sigmoid(x):\n    x = np.asarray(x)\n"
    "    limit = {'f': -87.0, 'd': -708.0}.get(x.dtype.char)  # NaN anywhere: the second form\n"
    "    if limit is not None and np.min(x, initial=limit) >= limit:\n"
    "        return 1.0 / (1.0 + np.exp(-x))\n"
    "    e = np.exp(-np.abs(x))  # never overflows\n"
    "    return np.maximum(e, x >= 0.0) / (1.0 + e)",
    loop="def scalar_sigmoid(x):\n    if x >= 0.0:\n        return 1.0 / (1.0 + math.exp(-x))\n"
    "    e = math.exp(x)\n    return e / (1.0 + e)",
    cuda=lambda f, lit: (
        "__device__ inline sg_real sg_sigmoid(sg_real x) {\n"
        f"    if (x >= 0.0{lit}) return 1.0{lit} / (1.0{lit} + exp{f}(-x));\n"
        f"    const sg_real e = exp{f}(x);\n"
        f"    return e / (1.0{lit} + e);\n"
        "}"
    ),
)
SOFTPLUS = Helper(
    "softplus",
    numpy="def softplus(x):\n    return np.logaddexp(0.0, x)",
    loop="def scalar_softplus(x):\n    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))",
    cuda=lambda f, lit: (
        "__device__ inline sg_real sg_softplus(sg_real x) {\n"
        f"    return fmax{f}(x, 0.0{lit}) + log1p{f}(exp{f}(-fabs{f}(x)));\n"
        "}"
    ),
)
LOGSIGMOID = Helper(
    "logsigmoid",
    numpy="def logsigmoid(x):\n    return -np.logaddexp(0.0, -x)",
    loop="def scalar_logsigmoid(x):\n    return min(x, 0.0) - math.log1p(math.exp(-abs(x)))",
    cuda=lambda f, lit: (
        "__device__ inline sg_real sg_logsigmoid(sg_real x) {\n"
        f"    return fmin{f}(x, 0.0{lit}) - log1p{f}(exp{f}(-fabs{f}(x)));\n"
        "}"
    ),
)
RELU = Helper(
    "relu",
    numpy="def relu(x):\n    return np.maximum(x, 0.0)",
    loop="def scalar_relu(x):\n    return 0.0 if x <= 0.0 else x  # NaN stays NaN, as in numpy",
    cuda=lambda f, lit: f"__device__ inline sg_real sg_relu(sg_real x) {{\n    return x > 0.0{lit} ? x : 0.0{lit};\n}}",
)


def _mp_sigmoid(x):
    return 1 / (1 + mpmath.exp(-x))


for record in (
    # σ' = σ(1 − σ) reuses the node; the VJP writes σ(x)σ(−x), which does not cancel for large x
    Primitive(F.sigmoid, partials=lambda n: [mul(n, add(sp.S.One, neg(n)))],
              vjp=lambda g, ans, x: [g * ans * sigmoid_value(-x)], evaluate=_sigmoid,
              numpy=SIGMOID, loop=SIGMOID, cuda=SIGMOID, mpmath=_mp_sigmoid, tf=("sigmoid",), activation="sigmoid",
              rewrites=("sigmoid_from_exp", "sigmoid_from_exp_ratio", "one_minus_sigmoid")),
    Primitive(F.relu, partials=lambda n: [call(sp.Heaviside, n.args[0], sp.S.Zero)],
              vjp=lambda g, ans, x: [g * (x > 0)], evaluate=lambda b, x: b.where(x > 0, x, 0.0 * x),
              numpy=RELU, loop=RELU, cuda=RELU, mpmath=lambda x: x if x > 0 else mpmath.mpf(0),
              tf=("relu",), activation="relu"),
    Primitive(F.softplus, partials=lambda n: [call(F.sigmoid, n.args[0])], vjp=lambda g, ans, x: [g * sigmoid_value(x)],
              evaluate=lambda b, x: b.logaddexp(0.0, x), numpy=SOFTPLUS, loop=SOFTPLUS, cuda=SOFTPLUS,
              mpmath=lambda x: mpmath.log(1 + mpmath.exp(x)), tf=("softplus",), activation="softplus",
              rewrites=("log_of_sum", "log1p_of_exp")),
    Primitive(F.logsigmoid, partials=lambda n: [call(F.sigmoid, neg(n.args[0]))],
              vjp=lambda g, ans, x: [g * sigmoid_value(-x)], evaluate=lambda b, x: -b.logaddexp(0.0, -x),
              numpy=LOGSIGMOID, loop=LOGSIGMOID, cuda=LOGSIGMOID, mpmath=lambda x: -mpmath.log(1 + mpmath.exp(-x)),
              tf=("log_sigmoid",), activation="logsigmoid", rewrites=("log_of_function",)),
):
    add_record(record)
