"""Network builders and losses that return plain sympy expressions with readable names.

Scalar level: one symbol per weight (`W1_0_2` is layer 1's weight from input 0 to unit 2,
`b1_2` its bias), one symbol per input feature (`x0`...) and target (`y0`...). A `Model` bundles
the per-sample loss with its parameters, inputs, targets and outputs; the loss of a batch is the
sum over its samples (the seed's E = Σ(yp − yt)²).
"""

import numpy as np
import sympy as sp
from sympy.core.add import _addsort
from sympy.core.mul import _mulsort

from .errors import InvalidArgumentError
from .functions import logsumexp, softplus
from .matrix.layers import matrix_mlp as matrix_mlp  # the matrix form: a batch is one N×d MatrixSymbol
from .model import DenseLayer, DenseStack, Model
from .primitives import activation as _activation


def symbols(prefix, n):
    """`prefix0 … prefix{n-1}` as a list of real symbols."""
    return [sp.Symbol(f"{prefix}{i}", real=True) for i in range(n)]


def dense(inputs, units, activation="sigmoid", layer=1):
    """A fully connected layer: outputs_j = act(Σ_i W{layer}_i_j · inputs_i + b{layer}_j).

    Returns (outputs, weights, biases); weights are listed row by row (input-major).
    """
    if units < 1:
        raise InvalidArgumentError(f"a dense layer needs at least one unit, got {units}")
    act = _activation(activation)
    W = [[sp.Symbol(f"W{layer}_{i}_{j}", real=True) for j in range(units)] for i in range(len(inputs))]
    b = [sp.Symbol(f"b{layer}_{j}", real=True) for j in range(units)]
    return dense_outputs(inputs, W, b, act), [w for row in W for w in row], b


def dense_outputs(inputs, W, b, act):
    """[act(Σ_i W[i][j] · inputs_i + b[j]) for each unit j] for given weight and bias symbols."""
    units = range(len(b))
    if all(isinstance(x, (sp.Symbol, sp.Function)) and x.is_commutative for x in inputs):
        # products of symbols and function values: no term can carry a minus sign
        return [_apply(act, _weighted_sum([W[i][j] for i in range(len(inputs))], inputs, b[j])) for j in units]
    # sums or numbers among the inputs: let sympy simplify the products
    return [act(sp.Add(*[W[i][j] * x for i, x in enumerate(inputs)]) + b[j]) for j in units]


def _weighted_sum(weights, inputs, bias):
    """Σ w·x + b as sympy's constructors would build it, without their simplification passes.

    Each weight and the bias are distinct symbols, so sympy would only sort the factors and the
    terms (nothing combines); its flattening also asks assumption queries of every input, which
    dominates building a wide network. tests/test_lift.py checks the result is the same expression.
    """
    terms = []
    for w, x in zip(weights, inputs, strict=True):
        factors = [w, x]
        _mulsort(factors)
        terms.append(sp.Mul._from_args(factors, is_commutative=True))
    terms.append(bias)
    _addsort(terms)
    return sp.Add._from_args(terms, is_commutative=True)


def _apply(act, z):
    """act(z) without its evaluation pass for sympy function classes (their `eval` only simplifies numbers
    and extracts minus signs; a dense layer's sum of products has neither), so a wide layer's `tanh`
    does not walk its argument."""
    if isinstance(act, type) and issubclass(act, sp.Function):
        return act(z, evaluate=False)
    return act(z)


def squared_error(pred, target):
    """Σ_k (pred_k − target_k)², the seed's error."""
    return sp.Add(*[_square(p - t) for p, t in zip(pred, target, strict=True)])


def _square(e):
    """e², skipping sympy's power evaluation for a symbolic sum: it returns the same Pow after asking
    whether each term is infinite, which walks the whole network below (seconds for a wide one)."""
    return sp.Pow(e, 2, evaluate=False) if e.is_Add and not e.is_number else e**2


def mean_squared_error(pred, target):
    """(1/K) Σ_k (pred_k − target_k)² over the K outputs of one sample."""
    return squared_error(pred, target) / len(pred)


def binary_cross_entropy(prob, target):
    """−Σ_k [t log p + (1 − t) log(1 − p)] for probabilities `prob`."""
    return -sp.Add(*[t * sp.log(p) + (1 - t) * sp.log(1 - p) for p, t in zip(prob, target, strict=True)])


def binary_cross_entropy_with_logits(logits, target):
    """The same loss from logits z (p = σ(z)), in the stable form softplus(z) − t·z."""
    return sp.Add(*[softplus(z) - t * z for z, t in zip(logits, target, strict=True)])


def softmax(logits):
    """softmax_k = exp(z_k − logsumexp(z))."""
    lse = logsumexp(*logits)
    return [sp.exp(z - lse) for z in logits]


def softmax_cross_entropy(logits, onehot):
    """−Σ_k t_k log softmax(z)_k = logsumexp(z)·Σt − Σ_k t_k z_k, from logits.

    Written in that second form so each logit z_k stays one node of the expression (t·(lse − z)
    would distribute the minus sign into z's terms), and its adjoint is the textbook softmax − t.
    """
    lse = logsumexp(*logits)
    pairs = list(zip(logits, onehot, strict=True))
    return lse * sp.Add(*[t for _, t in pairs]) - sp.Add(*[t * z for z, t in pairs])


LOSSES = {
    "squared_error": squared_error,
    "mean_squared_error": mean_squared_error,
    "mse": mean_squared_error,  # the short name, as Keras spells it
    "binary_cross_entropy": binary_cross_entropy,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
    "softmax_cross_entropy": softmax_cross_entropy,
}


def mlp(sizes, activation="sigmoid", output_activation=None, loss="squared_error", name=None, seed=0):
    """A scalar-level multi-layer perceptron `sizes = [inputs, hidden..., outputs]` as a `Model`.

    `output_activation` defaults to `activation`; with softmax cross-entropy use "identity" (the
    loss takes logits). Initial weights are drawn from a seeded normal (scale 1/√fan-in).
    """
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise InvalidArgumentError(f"mlp sizes must be ≥ 2 positive layer widths, got {sizes}")
    if loss not in LOSSES:
        raise InvalidArgumentError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)}")
    xs, ys = symbols("x", sizes[0]), symbols("y", sizes[-1])
    h, params, dense_layers = xs, [], []
    rng = np.random.default_rng(seed)
    init = {}
    for layer, units in enumerate(sizes[1:], start=1):
        last = layer == len(sizes) - 1
        act = (output_activation or activation) if last else activation
        fan_in = len(h)
        h, W, b = dense(h, units, act, layer)
        dense_layers.append(DenseLayer(tuple(tuple(W[i * units:(i + 1) * units]) for i in range(fan_in)), tuple(b), act))
        for w in W:
            init[w] = rng.normal() / np.sqrt(fan_in)
        for bias in b:
            init[bias] = 0.0
        params += W + b
    label = name or "mlp_" + "_".join(map(str, sizes))
    return Model(label, LOSSES[loss](h, ys), tuple(params), tuple(xs), tuple(ys), tuple(h), init,
                 DenseStack(tuple(dense_layers), loss))
