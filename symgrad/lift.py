"""Scalar dense networks run as matrix kernels: one BLAS product per layer instead of one line per weight.

`symgrad.nn.mlp` gives every weight its own symbol, which is what derivations, `check` tables and
per-symbol gradients need, and records the dense layers it built (`DenseStack`). Compiling such a
model also builds the same network at matrix level (weights W1 … as MatrixSymbols, the batch as
one N×d matrix X) and answers every call with a batch larger than the per-sample loop's limit
through that matrix kernel; values go in and gradients come out per scalar symbol, in `wrt`
order, exactly as for the scalar kernel. Small batches (the seed's N = 3) and everything that
reads the scalar kernel itself (`.module`, `.source`, `.ir`, `per_sample_grad`) use the scalar
kernel, compiled when first needed.

The result is the one `runtime.Kernel`: its `level` is a `Lifted` (the scalar level's binding and
checks, plus the two halves) and its `module` computes through `LiftedCalls`, which routes by batch size.
"""

import dataclasses

import numpy as np
import sympy as sp

from .lift_binding import MatrixBinding, layer_bounds, layer_matrices
from .matrix import layers
from .model import DenseStack
from .objective import Objective
from .objective import generic as generic_objective
from .prepared import Calls, PreparedBinding
from .runtime import Kernel, ScalarLevel, bound_arguments, module_calls, no_outputs
from .targets.numpy.scalar import LOOP_MAX

# scalar loss name -> the same loss at matrix level, summed over the batch (Z: last layer, Y: targets)
MATRIX_LOSSES = {
    "squared_error": lambda Z, Y: layers.squared_error(Z, Y),
    "mse": lambda Z, Y: layers.squared_error(Z, Y) / Z.shape[1],
    "softmax_cross_entropy": lambda Z, Y: layers.softmax_cross_entropy(Z, Y),
    "binary_cross_entropy_with_logits": lambda Z, Y: layers.binary_cross_entropy_logits(Z, Y),
}
SMALL_MODEL = 256  # parameters up to which the scalar kernel is compiled eagerly (it is cheap then)


def matrix_form(model):
    """(loss, params, inputs, outputs) of `model` at matrix level, params in scalar `model.params` order."""
    stack = model.structure
    N = layers.size("N")
    X = sp.MatrixSymbol("X", N, len(model.inputs))
    Y = sp.MatrixSymbol("Y", N, len(model.targets))
    h, params = X, []
    for k, layer in enumerate(stack.layers, start=1):
        W = sp.MatrixSymbol(f"W{k}", len(layer.weights), len(layer.biases))
        b = sp.MatrixSymbol(f"b{k}", 1, len(layer.biases))
        h = layers.dense(h, W, b, layer.activation)
        params += [W, b]
    return MATRIX_LOSSES[stack.loss](h, Y), params, [X, Y], [h]


def _scalar_order(model):
    """The scalar parameters in the order the matrix gradients, flattened row by row, list them."""
    out = []
    for layer in model.structure.layers:
        out += [w for row in layer.weights for w in row] + list(layer.biases)
    return out


def can_lift(model, wrt, inputs, outputs):
    """Whether `compile(model, ...)` may answer through the matrix form: nn.mlp structure (or one
    `symgrad.recognize` found), a liftable loss, every parameter and data symbol in `wrt`/`inputs`."""
    stack = getattr(model, "structure", None)
    return (isinstance(stack, DenseStack) and stack.loss in MATRIX_LOSSES
            and all(isinstance(layer.activation, str) for layer in stack.layers) and not outputs
            and (wrt is None or sorted(wrt, key=str) == sorted(model.params, key=str))
            and (inputs is None or sorted(inputs, key=str) == sorted(model.data, key=str)))


def lifted_kernel(model, dtype, compile_scalar, compile_matrix, wrt=None, inputs=None):
    """The one `Kernel` for `model` at level `Lifted`: the scalar half compiled now for small models,
    else the matrix half (the other on first use); its cache status is the half built now."""
    level = Lifted(model, compile_scalar, compile_matrix)
    wrt = list(model.params) if wrt is None else list(wrt)
    inputs = list(model.data) if inputs is None else list(inputs)
    eager = level.start(len(wrt) <= SMALL_MODEL)
    # no text or module of its own (`level.generated` shows the scalar half's), its calls routed
    kernel = Kernel.from_cache(None, None, model.name, wrt, inputs, dtype, "numpy", lambda: level.scalar_half.ir,
                               eager.cache_status, level)
    kernel.calls = LiftedCalls(kernel, level)
    return kernel


class Lifted(ScalarLevel):
    """The level of a lifted kernel: bound and checked as a scalar kernel (`ScalarLevel`), computed
    by the scalar half for batches up to LOOP_MAX and by the matrix half for longer ones.
    One instance per kernel (it holds the halves); never pickled: Dask workers get the scalar half."""

    name = "lifted"

    def __init__(self, model, compile_scalar, compile_matrix):
        self.model, self._compile_scalar, self._compile_matrix = model, compile_scalar, compile_matrix
        self._scalar = self._matrix = None

    __reduce__ = object.__reduce__

    def start(self, scalar_first):
        """Build the half a new kernel builds eagerly; returns it."""
        if scalar_first:
            return self.scalar_half
        return self.matrix_half

    @property
    def scalar_half(self):
        """The scalar kernel (compiled on first use for large models)."""
        if self._scalar is None:
            self._scalar = self._compile_scalar()
        return self._scalar

    @property
    def matrix_half(self):
        """The matrix kernel the large batches run through (compiled on first use for small models)."""
        if self._matrix is None:
            self._matrix = self._compile_matrix()
        return self._matrix

    def generated(self, kernel):
        return self.scalar_half  # its text, module and IR are what the lifted kernel shows and ships

    def prepared(self, kernel):
        """The fast lane of a float64 dict: the prepared binding (one written line per value, so only
        for models small enough to compile the scalar half eagerly: batches up to LOOP_MAX through the
        scalar module, longer ones `large`), else the dict read straight into the weight matrices
        (symgrad/lift_binding.py; small batches then take the checked path)."""
        if kernel.dtype != np.float64:
            return None
        if self._scalar is None:
            where = {s: k for k, s in enumerate(kernel.wrt)}
            model = self.model
            return MatrixBinding(
                model.inputs, model.targets, _scalar_order(model),
                [(len(layer.weights), len(layer.biases)) for layer in model.structure.layers],
                [where[s] for s in _scalar_order(model)],
                lambda *args: self.matrix_half.module.loss_and_grad(*args), kernel._nonfinite_gradients, LOOP_MAX)
        small = module_calls(self._scalar) if self._scalar is not None else Calls()

        def large(args, nonfinite):
            return self.gradients(kernel, kernel.calls.loss_and_grad(*args), nonfinite)

        return PreparedBinding(kernel.inputs, kernel.wrt, calls=dataclasses.replace(small, large=large, loop_max=LOOP_MAX))

    def predict_arguments(self, kernel, values, nonfinite):
        """Placeholders for the targets (the outputs never read them): no IR needed."""
        if hasattr(values, "items"):
            values = dict(values)
            for s in self.model.targets:
                if s not in values and str(s) not in values:
                    values[s] = 0.0
        return bound_arguments(kernel, values, nonfinite)

    def objective(self, kernel, values, nonfinite):
        """Through the matrix half for batches past the per-sample loop's (θ split straight into
        W1, b1, ...: no Python float per parameter), else the scalar kernel's generic objective."""
        args = kernel.arguments(values, nonfinite)
        calls = kernel.calls
        return generic_objective(kernel, args, nonfinite) if calls._small(args) else calls.objective(kernel, args, nonfinite)

    def per_sample_grad(self, kernel, values, nonfinite):
        return self.scalar_half.per_sample_grad(values, nonfinite)


class LiftedCalls:
    """The module functions a lifted kernel calls: each routes by batch size to the scalar module
    or, through the matrix arguments (X, Y, W1, b1, …), to the matrix module; results in the
    scalar module's form (loss, gradients in `wrt` order)."""

    def __init__(self, kernel, level):
        self._level = level
        where = {s: k for k, s in enumerate(kernel.wrt)}
        order = [where[s] for s in _scalar_order(level.model)]  # matrix entries, row by row, as wrt positions
        self._order = None if order == list(range(len(order))) else np.array(order)
        at = {s: k for k, s in enumerate(kernel.inputs)}
        self._features, self._targets = [at[s] for s in level.model.inputs], [at[s] for s in level.model.targets]
        self._shapes = [(len(layer.weights), len(layer.biases)) for layer in level.model.structure.layers]
        self._data, self._dtype, self._name = len(kernel.inputs), kernel.dtype, kernel.name

    def _small(self, args):
        return args[0].shape[0] <= LOOP_MAX if self._data else True

    def _matrix_arguments(self, args):
        """Scalar kernel arguments (data columns, parameter numbers) as the matrix kernel's (X, Y, W1, b1, ...)."""
        n = self._data
        theta = np.fromiter(args[n:], self._dtype, len(args) - n)  # a float list: twice np.asarray's speed
        if self._order is not None:
            theta = theta[self._order]
        return [*self._data_matrices(args[:n]), *layer_matrices(theta, self._shapes)]

    def _data_matrices(self, data):
        """X and Y from the data columns (as symgrad/lift_binding.py lays them out)."""
        return np.array([data[k] for k in self._features]).T, np.array([data[k] for k in self._targets]).T

    def objective(self, kernel, args, nonfinite):
        """The `Objective` of a large batch: X and Y built once, θ (wrt order) permuted into the
        matrices' row-by-row order and split into W1, b1, ... on each call, the gradients back."""
        n, order, bounds = self._data, self._order, layer_bounds(self._shapes)
        X, Y = self._data_matrices(args[:n])
        call = self._level.matrix_half.module.loss_and_grad

        def run(theta):
            if order is not None:
                theta = theta[order]
            return call(X, Y, *[theta[a:b].reshape(shape) for a, b, shape in bounds])

        def flat(grads):
            matrix_order = np.concatenate(grads, axis=None)
            if order is None:
                return matrix_order
            out = np.empty_like(matrix_order)
            out[order] = matrix_order
            return out

        return Objective(kernel, args[n:], [()] * len(kernel.wrt), run, nonfinite, flat)

    def loss(self, *args):
        if self._small(args):
            return self._level.scalar_half.module.loss(*args)
        return self._level.matrix_half.module.loss(*self._matrix_arguments(args))

    def loss_and_grad(self, *args):
        if self._small(args):
            return self._level.scalar_half.module.loss_and_grad(*args)
        value, grads = self._level.matrix_half.module.loss_and_grad(*self._matrix_arguments(args))
        flat = np.concatenate([np.ravel(g) for g in grads])
        if self._order is not None:
            flat[self._order] = flat.copy()  # wrt order
        return value, flat.astype(np.float64).tolist()

    def predict(self, *args):
        if not self._level.model.outputs:  # an expression compiled without outputs= has none to predict
            raise no_outputs(self._name)
        if self._small(args):
            return self._level.scalar_half.module.predict(*args)
        (block,) = self._level.matrix_half.module.predict(*self._matrix_arguments(args))
        return [block[:, k] for k in range(block.shape[1])]
