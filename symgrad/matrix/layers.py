"""Matrix-form layers and losses: a whole batch is one N×d MatrixSymbol, a layer is X·W + 1·b.

Everything returns plain sympy matrix expressions (sympy's own MatMul, MatAdd, entrywise
`applyfunc`, plus `symgrad.matrix` nodes for sums, softmax and log-sum-exp), with sizes symbolic
until values are bound. Losses are summed over the batch like the scalar level; `mean=True`
divides by the batch size N (a symbol, fixed by the data at the call).
"""

import numpy as np
import sympy as sp

from ..errors import InvalidArgumentError
from ..functions import softplus
from ..model import Model
from ..primitives import activation as _activation
from .nodes import Map, Ones, RowLogSumExp, RowSoftmax, SumAll


def size(name):
    """A positive integer size symbol (N, d, ...)."""
    return sp.Symbol(name, integer=True, positive=True)


def _dim(x, name):
    return sp.Integer(x) if isinstance(x, (int, np.integer)) else (x if isinstance(x, sp.Basic) else size(name))


def broadcast_rows(b, rows):
    """The 1×n row `b` repeated on each of `rows` rows: OneMatrix(rows, 1)·b."""
    return Ones(rows, 1) * b


def dense(X, W, b=None, activation="identity"):
    """act(X·W + 1·b) for a batch X (N×d), weights W (d×h) and a bias row b (1×h)."""
    z = X * W if b is None else sp.MatAdd(X * W, broadcast_rows(b, X.shape[0]))
    act = _activation(activation)
    return z if activation == "identity" else z.applyfunc(act)


def sum_all(M):
    return SumAll(M)


def sum_rows(M):
    """Σ over rows: the 1×n row of column sums, 1ᵀ·M."""
    return Ones(1, M.shape[0]) * M


def sum_cols(M):
    """Σ over columns: the m×1 column of row sums, M·1."""
    return M * Ones(M.shape[1], 1)


def mean(M):
    return SumAll(M) / (M.shape[0] * M.shape[1])


def softmax(Z):
    return RowSoftmax(Z)


def logsumexp(Z):
    return RowLogSumExp(Z)


def squared_error(P, Y, mean=False):
    """Σ_ij (P − Y)_ij², divided by the batch size N when `mean`."""
    E = P - Y
    total = SumAll(sp.HadamardPower(E, 2))
    return total / P.shape[0] if mean else total


def softmax_cross_entropy(Z, Y, mean=False):
    """−Σ_i Σ_k Y_ik log softmax(Z)_ik from logits Z and one-hot (or probability) rows Y."""
    y, lse, z = sp.symbols("_y _l _z", real=True)
    total = SumAll(Map(sp.Lambda((y, lse, z), y * (lse - z)), Y, RowLogSumExp(Z), Z))
    return total / Z.shape[0] if mean else total


def binary_cross_entropy(P, Y, mean=False):
    """−Σ y log p + (1 − y) log(1 − p) from probabilities P (sigmoid outputs) and 0/1 targets Y."""
    p, y = sp.symbols("_p _y", real=True)
    total = SumAll(Map(sp.Lambda((p, y), -y * sp.log(p) - (1 - y) * sp.log(1 - p)), P, Y))
    return total / P.shape[0] if mean else total


def binary_cross_entropy_logits(Z, Y, mean=False):
    """The same loss from logits Z (P = σ(Z)) in its stable form Σ softplus(z) − y·z."""
    z, y = sp.symbols("_z _y", real=True)
    total = SumAll(Map(sp.Lambda((z, y), softplus(z) - y * z), Z, Y))
    return total / Z.shape[0] if mean else total


def _mean_squared_error(P, Y, mean=True):
    return squared_error(P, Y, mean)


LOSSES = {"squared_error": squared_error, "mean_squared_error": _mean_squared_error, "mse": _mean_squared_error,
          "softmax_cross_entropy": softmax_cross_entropy}


def matrix_mlp(sizes, activation="tanh", output_activation="identity", loss="softmax_cross_entropy",
               mean=True, batch="N", name=None, seed=0):
    """A multi-layer perceptron in matrix form as a `symgrad.nn.Model`.

    `sizes` are layer widths; an entry may be an int or a sympy symbol (or a name) to keep it
    symbolic. Parameters are W1 (d0×d1), b1 (1×d1), ...; inputs are X (N×d0) and Y (N×dL).
    `init` holds seeded He/Glorot-style initial values for concrete sizes.
    """
    if len(sizes) < 2:
        raise InvalidArgumentError(f"matrix_mlp needs at least two layer widths, got {sizes}")
    if loss not in LOSSES:
        raise InvalidArgumentError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)}")
    dims = [_dim(s, f"d{k}") for k, s in enumerate(sizes)]
    for d in dims:
        if d.is_Integer and int(d) < 1:
            raise InvalidArgumentError(f"layer widths must be positive, got {sizes}")
    N = _dim(batch, "N") if not isinstance(batch, str) else size(batch)
    X, Y = sp.MatrixSymbol("X", N, dims[0]), sp.MatrixSymbol("Y", N, dims[-1])
    rng = np.random.default_rng(seed)
    h, params, init = X, [], {}
    for layer in range(1, len(dims)):
        W = sp.MatrixSymbol(f"W{layer}", dims[layer - 1], dims[layer])
        b = sp.MatrixSymbol(f"b{layer}", 1, dims[layer])
        last = layer == len(dims) - 1
        h = dense(h, W, b, output_activation if last else activation)
        params += [W, b]
        if W.shape[0].is_Integer and W.shape[1].is_Integer:
            fan_in, fan_out = int(W.shape[0]), int(W.shape[1])
            init[W] = rng.normal(size=(fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))
            init[b] = np.zeros((1, fan_out))
    label = name or "matrix_mlp_" + "_".join(map(str, sizes))
    return Model(label, LOSSES[loss](h, Y, mean=mean), tuple(params), (X,), (Y,), (h,), init)
