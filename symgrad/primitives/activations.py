"""Records of symgrad's activation functions, each in its numerically stable form on every target."""

import math

import mpmath
import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import expm1

from .. import functions as F
from .backends import NumpyBackend
from .build import add, call, mul, neg, power
from .error_function import numpy_text
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
    "    if limit is not None and np.minimum.reduce(x, None, initial=limit) >= limit:  # (x.min() adds a Python layer)\n"
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


_GELU_NUMPY = (numpy_text("erfc").replace("def erfc(x):", "def _gelu_erfc(x):")
               + "\n\n\ndef gelu(x):\n    return 0.5 * x * _gelu_erfc(-x * 0.7071067811865476)")
GELU = Helper(  # x·Φ(x) with Φ(x) = erfc(−x/√2)/2: no cancellation for x ≪ 0, where 1 + erf(x/√2) has
    "gelu",
    numpy=_GELU_NUMPY,  # erfc's own Cody text (`error_function`), under a name of its own
    loop="def scalar_gelu(x):\n    return 0.5 * x * math.erfc(-x * 0.7071067811865476)",
    cuda=lambda f, lit: (
        "__device__ inline sg_real sg_gelu(sg_real x) {\n"
        f"    return 0.5{lit} * x * erfc{f}(-x * 0.7071067811865476{lit});\n"
        "}"
    ),
)
SILU = Helper(
    "silu",
    # x·σ(x) with σ as in `SIGMOID`: e = e^(−|x|) never overflows
    numpy="def silu(x):\n    e = np.exp(-np.abs(x))  # never overflows\n"
    "    return x * np.maximum(e, x >= 0.0) / (1.0 + e)",
    loop="def scalar_silu(x):\n    if x >= 0.0:\n        return x / (1.0 + math.exp(-x))\n"
    "    e = math.exp(x)\n    return x * e / (1.0 + e)",
    cuda=lambda f, lit: (
        "__device__ inline sg_real sg_silu(sg_real x) {\n"
        f"    if (x >= 0.0{lit}) return x / (1.0{lit} + exp{f}(-x));\n"
        f"    const sg_real e = exp{f}(x);\n"
        f"    return x * e / (1.0{lit} + e);\n"
        "}"
    ),
)
ELU = Helper(
    "elu",
    # expm1 of min(x, 0): the branch not taken never overflows
    numpy="def elu(x, alpha):\n    return np.where(x > 0.0, x, alpha * np.expm1(np.minimum(x, 0.0)))",
    loop="def scalar_elu(x, alpha):\n    return x if x > 0.0 else alpha * math.expm1(x)",
    cuda=lambda f, lit: (
        "__device__ inline sg_real sg_elu(sg_real x, sg_real alpha) {\n"
        f"    return x > 0.0{lit} ? x : alpha * expm1{f}(x);\n"
        "}"
    ),
)
LEAKY_RELU = Helper(
    "leaky_relu",
    numpy="def leaky_relu(x, slope):\n    return np.where(x > 0.0, x, slope * x)",
    loop="def scalar_leaky_relu(x, slope):\n    return x if x > 0.0 else slope * x",
    cuda=lambda f, lit: (
        "__device__ inline sg_real sg_leaky_relu(sg_real x, sg_real slope) {\n"
        f"    return x > 0.0{lit} ? x : slope * x;\n"
        "}"
    ),
)
SOFTSIGN = Helper(
    "softsign",
    numpy="def softsign(x):\n    return x / (1.0 + np.abs(x))",
    loop="def scalar_softsign(x):\n    return x / (1.0 + abs(x))",
    cuda=lambda f, lit: f"__device__ inline sg_real sg_softsign(sg_real x) {{\n    return x / (1.0{lit} + fabs{f}(x));\n}}",
)
MISH = Helper(
    "mish",
    # softplus as in `SOFTPLUS`, which never overflows
    numpy="def mish(x):\n    return x * np.tanh(np.logaddexp(0.0, x))",
    loop="def scalar_mish(x):\n    return x * math.tanh(max(x, 0.0) + math.log1p(math.exp(-abs(x))))",
    cuda=lambda f, lit: (
        "__device__ inline sg_real sg_mish(sg_real x) {\n"
        f"    return x * tanh{f}(fmax{f}(x, 0.0{lit}) + log1p{f}(exp{f}(-fabs{f}(x))));\n"
        "}"
    ),
)
_ROOT_HALF = 1.0 / math.sqrt(2.0)
_ROOT_TWO_PI = math.sqrt(2.0 * math.pi)


def _gelu_slope(x):
    """Φ(x) + x·φ(x), Φ written with erfc (no cancellation for x ≪ 0)."""
    return 0.5 * NumpyBackend.erfc(-x * _ROOT_HALF) + x * np.exp(-0.5 * x * x) / _ROOT_TWO_PI


def _gelu_partials(node):
    x = node.args[0]
    cdf = mul(sp.S.Half, add(sp.S.One, call(sp.erf, mul(x, 1 / sp.sqrt(2)))))
    return [add(cdf, mul(x, call(sp.exp, mul(sp.Rational(-1, 2), power(x, 2))), 1 / sp.sqrt(2 * sp.pi)))]


def _silu_vjp(g, ans, x):
    s = sigmoid_value(x)
    return [g * (s + x * s * sigmoid_value(-x))]


def _positive(x):
    return sp.StrictGreaterThan(x, sp.S.Zero)


def _elu_partials(node):
    x, alpha = node.args  # for x ≤ 0: α·eˣ = elu(x) + α, the node reused
    return [sp.Piecewise((sp.S.One, _positive(x)), (add(node, alpha), True)),
            sp.Piecewise((sp.S.Zero, _positive(x)), (call(expm1, x), True))]


def _elu_vjp(g, ans, x, alpha):
    below = np.minimum(x, 0.0)  # the exponential of the branch not taken never overflows
    return [g * np.where(x > 0, 1.0, alpha * np.exp(below)), g * np.where(x > 0, 0.0, np.expm1(below))]


def _elu(b, x, alpha):
    below = b.where(x > 0, 0.0 * x, x)
    return b.where(x > 0, x, alpha * b.xp.expm1(below))


def _leaky_relu_partials(node):
    x, slope = node.args
    return [sp.Piecewise((sp.S.One, _positive(x)), (slope, True)), sp.Piecewise((sp.S.Zero, _positive(x)), (x, True))]


def _softsign_vjp(g, ans, x):
    d = 1.0 + np.abs(x)
    return [g / (d * d)]


def _mish_partials(node):
    x = node.args[0]
    t = call(sp.tanh, call(F.softplus, x))
    return [add(t, mul(x, call(F.sigmoid, x), add(sp.S.One, neg(power(t, 2)))))]


def _mish_vjp(g, ans, x):
    y = np.logaddexp(0.0, x)  # softplus; tanh'(y) = 4σ(2y)σ(−2y), which does not cancel
    return [g * (np.tanh(y) + x * sigmoid_value(x) * 4.0 * sigmoid_value(2.0 * y) * sigmoid_value(-2.0 * y))]


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
    Primitive(F.gelu, partials=_gelu_partials, vjp=lambda g, ans, x: [g * _gelu_slope(x)],
              evaluate=lambda b, x: 0.5 * x * b.erfc(-x * _ROOT_HALF), numpy=GELU, loop=GELU, cuda=GELU,
              mpmath=lambda x: x * mpmath.erfc(-x / mpmath.sqrt(2)) / 2, tf=("gelu",), activation="gelu"),
    Primitive(F.silu, partials=lambda n: [add(call(F.sigmoid, n.args[0]),
                                              mul(n, add(sp.S.One, neg(call(F.sigmoid, n.args[0])))))],
              vjp=_silu_vjp, evaluate=lambda b, x: x * _sigmoid(b, x), numpy=SILU, loop=SILU, cuda=SILU,
              mpmath=lambda x: x / (1 + mpmath.exp(-x)), tf=("silu", "swish"), activation="silu"),
    Primitive(F.elu, partials=_elu_partials, vjp=_elu_vjp, evaluate=_elu, numpy=ELU, loop=ELU, cuda=ELU,
              mpmath=lambda x, a: x if x > 0 else a * mpmath.expm1(x), tf=("elu",), activation="elu"),
    # tf.nn.leaky_relu's alpha defaults to TensorFlow's 0.2; symgrad's own leaky_relu(x) is torch's 0.01
    Primitive(F.leaky_relu, partials=_leaky_relu_partials,
              vjp=lambda g, ans, x, s: [g * np.where(x > 0, 1.0, s), g * np.where(x > 0, 0.0, x)],
              evaluate=lambda b, x, s: b.where(x > 0, x, s * x), numpy=LEAKY_RELU, loop=LEAKY_RELU, cuda=LEAKY_RELU,
              mpmath=lambda x, s: x if x > 0 else s * x, tf=("leaky_relu",),
              tf_params={"alpha": 0.2}, activation="leaky_relu"),
    Primitive(F.softsign, partials=lambda n: [power(add(sp.S.One, neg(call(sp.Abs, n))), 2)],  # 1/(1+|x|)²
              vjp=_softsign_vjp, evaluate=lambda b, x: x / (1.0 + b.xp.abs(x)), numpy=SOFTSIGN, loop=SOFTSIGN,
              cuda=SOFTSIGN, mpmath=lambda x: x / (1 + abs(x)), tf=("softsign",), activation="softsign"),
    Primitive(F.mish, partials=_mish_partials, vjp=_mish_vjp, evaluate=lambda b, x: x * b.xp.tanh(b.logaddexp(0.0, x)),
              numpy=MISH, loop=MISH, cuda=MISH, mpmath=lambda x: x * mpmath.tanh(mpmath.log1p(mpmath.exp(x))),
              tf=("mish",), activation="mish"),
):
    add_record(record)
