"""Scalar dense networks run as matrix kernels: one BLAS product per layer instead of one line per weight.

`symgrad.nn.mlp` gives every weight its own symbol, which is what derivations, `check` tables and
per-symbol gradients need, and records the dense layers it built (`DenseStack`). Compiling such a
model also builds the same network at matrix level (weights W1 … as MatrixSymbols, the batch as
one N×d matrix X) and answers every call with a batch larger than the per-sample loop's limit
through that matrix kernel; values go in and gradients come out per scalar symbol, in `wrt`
order, exactly as for the scalar kernel. Small batches (the seed's N = 3) and everything that
reads the scalar kernel itself (`.module`, `.source`, `.ir`, `per_sample_grad`) use the scalar
kernel, compiled when first needed.
"""

import dataclasses
import math

import numpy as np
import sympy as sp

from .dask_hook import accepts_dask
from .lift_binding import MatrixBinding
from .matrix import layers
from .model import DenseStack
from .prepared import Calls, PreparedBinding
from .runtime import SCALAR, Kernel, all_finite, bound_arguments, module_calls, no_outputs, scalar_arguments
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


class LiftedKernel(Kernel):
    """A scalar `Kernel` whose large batches run through the model's matrix kernel."""

    def __init__(self, model, dtype, compile_scalar, compile_matrix, wrt=None, inputs=None):
        self.name, self.target, self.dtype, self.level = model.name, "numpy", np.dtype(dtype), SCALAR
        self.wrt = list(model.params) if wrt is None else list(wrt)
        self.inputs = list(model.data) if inputs is None else list(inputs)
        where = {s: k for k, s in enumerate(self.wrt)}
        order = [where[s] for s in _scalar_order(model)]  # matrix entries, row by row, as wrt positions
        self._order = None if order == list(range(len(order))) else np.array(order)
        at = {s: k for k, s in enumerate(self.inputs)}
        self._features, self._targets = [at[s] for s in model.inputs], [at[s] for s in model.targets]
        self._model, self._compile_scalar, self._compile_matrix = model, compile_scalar, compile_matrix
        self._scalar = compile_scalar() if len(self.wrt) <= SMALL_MODEL else None
        self._matrix = None if self._scalar is not None else compile_matrix()
        # batches up to LOOP_MAX run the scalar module (when compiled), longer ones `_loss_and_grad`
        small = module_calls(self._scalar) if self._scalar is not None else Calls()
        self._shapes = [(len(layer.weights), len(layer.biases)) for layer in model.structure.layers]
        # the fast lane of a float64 dict: the prepared binding (one written line per value, so only
        # for models small enough to compile the scalar kernel eagerly), else the dict read straight
        # into the weight matrices (symgrad/lift_binding.py; small batches then take the checked path)
        fast64, eager = self.dtype == np.float64, self._scalar is not None
        self._prepared = PreparedBinding(
            self.inputs, self.wrt, calls=dataclasses.replace(small, large=self._loss_and_grad, loop_max=LOOP_MAX),
        ) if fast64 and eager else None
        self._matrix_binding = MatrixBinding(
            model.inputs, model.targets, _scalar_order(model), self._shapes, order,
            lambda *args: self.matrix.module.loss_and_grad(*args), self._nonfinite_gradients, LOOP_MAX,
        ) if fast64 and not eager else None

    @property
    def scalar(self):
        """The scalar kernel (compiled on first use for large models)."""
        if self._scalar is None:
            self._scalar = self._compile_scalar()
        return self._scalar

    @property
    def matrix(self):
        """The matrix kernel the large batches run through (compiled on first use for small models)."""
        if self._matrix is None:
            self._matrix = self._compile_matrix()
        return self._matrix

    shipped_kernel = property(lambda self: self.scalar)  # what symgrad.remote sends to Dask workers
    module = property(lambda self: self.scalar.module)
    source = property(lambda self: self.scalar.source)
    ir = property(lambda self: self.scalar.ir)
    cache_status = property(lambda self: (self._scalar or self._matrix).cache_status)
    cache_key = property(lambda self: self.scalar.cache_key)  # the kernel Dask workers load (shipped_kernel)

    def __repr__(self):
        return f"<symgrad LiftedKernel {self.name!r} params={len(self.wrt)} inputs={len(self.inputs)} (dense layers as matrices)>"

    def arguments(self, values, nonfinite="raise"):
        return scalar_arguments(self, values, nonfinite)

    def _matrix_arguments(self, args):
        """Scalar kernel arguments (data columns, parameter numbers) as the matrix kernel's (X, Y, W1, b1, ...)."""
        n = len(self.inputs)
        data, theta = args[:n], np.fromiter(args[n:], self.dtype, len(args) - n)  # a float list: twice np.asarray's speed
        if self._order is not None:
            theta = theta[self._order]
        X = np.array([data[k] for k in self._features]).T  # as symgrad/lift_binding.py lays them out
        Y = np.array([data[k] for k in self._targets]).T
        out, start = [X, Y], 0
        for rows, cols in self._shapes:
            out.append(theta[start:start + rows * cols].reshape(rows, cols))
            start += rows * cols
            out.append(theta[start:start + cols].reshape(1, cols))
            start += cols
        return out

    def _small(self, args):
        return args[0].shape[0] <= LOOP_MAX if self.inputs else True

    @accepts_dask  # dask data runs chunk by chunk through shipped_kernel, never np.asarray
    def loss(self, values, nonfinite="raise"):
        args = self.arguments(values, nonfinite)
        if self._small(args):
            return self.scalar._checked_loss(self.scalar.module.loss(*args), nonfinite)
        value = float(self.matrix.module.loss(*self._matrix_arguments(args)))
        if not np.isfinite(value):
            self._finite(nonfinite, loss=value)
        return value

    def loss_and_grad(self, values, nonfinite="raise"):
        # the documented training call, as lean as Kernel.loss_and_grad (bench/seed_step.py): the
        # prepared binding runs small batches through the scalar module (compiled eagerly for small
        # models) and hands the rest to `_loss_and_grad`; when it answers, `values` holds no dask
        # collection, so the dask door is skipped
        fast = self._prepared or self._matrix_binding
        got = fast.loss_and_grad(values, nonfinite) if fast is not None else None
        return self._checked_loss_and_grad(values, nonfinite) if got is None else got

    @accepts_dask(name="loss_and_grad")  # dask data runs chunk by chunk through shipped_kernel, never np.asarray
    def _checked_loss_and_grad(self, values, nonfinite):
        return self._loss_and_grad(bound_arguments(self, values, nonfinite), nonfinite)

    def _loss_and_grad(self, args, nonfinite):
        if not self.inputs or len(args[0]) <= LOOP_MAX:  # the per-sample loop, checked as the scalar kernel checks
            scalar = self._scalar or self.scalar
            return SCALAR.gradients(scalar, scalar.module.loss_and_grad(*args), nonfinite)
        value, grads = self.matrix.module.loss_and_grad(*self._matrix_arguments(args))
        flat = np.concatenate([np.ravel(g) for g in grads])
        if self._order is not None:
            flat[self._order] = flat.copy()  # wrt order
        value, grads = float(value), flat.tolist()  # Python floats whatever the dtype
        if not (math.isfinite(value) and np.isfinite(flat).all()):
            self._nonfinite_gradients(nonfinite, value, grads)
        return value, grads

    def predict(self, values, nonfinite="raise"):
        """Model outputs as a list of arrays (one per output, length n). Targets may be omitted."""
        if not self._model.outputs:  # an expression compiled without outputs= has none to predict
            raise no_outputs(self.name)
        args = self._prepared.arguments(values, nonfinite) if self._prepared is not None else None
        if args is None:  # as for loss_and_grad: a tuple from the prepared binding rules dask out
            return self._checked_predict(values, nonfinite)
        return self._outputs(args, nonfinite)

    @accepts_dask(name="predict")  # dask data runs chunk by chunk through shipped_kernel, never np.asarray
    def _checked_predict(self, values, nonfinite):
        if hasattr(values, "items"):  # placeholders for the targets (the outputs never read them)
            values = dict(values)
            for s in self._model.targets:
                if s not in values and str(s) not in values:
                    values[s] = 0.0
        return self._outputs(bound_arguments(self, values, nonfinite), nonfinite)

    def _outputs(self, args, nonfinite):
        if self._small(args):
            out = [np.asarray(o) for o in self.scalar.module.predict(*args)]
        else:
            (block,) = self.matrix.module.predict(*self._matrix_arguments(args))
            out = [np.asarray(block[:, k]) for k in range(block.shape[1])]
        if nonfinite == "raise" and not all_finite(out):  # names printed only on failure
            self._finite(nonfinite, **{f"output {i}": o for i, o in enumerate(out)})
        return out

    def per_sample_grad(self, values, nonfinite="raise"):
        return self.scalar.per_sample_grad(values, nonfinite)
