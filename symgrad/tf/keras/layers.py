"""Keras layers: `Dense(units, activation=...)`."""

import numpy as np

from ...errors import InvalidArgumentError
from .. import ops
from ..graph import Variable
from ..random import _RNG  # one generator for tf.random and the initializers
from ..random import set_seed as set_seed  # tf.random.set_seed seeds the initializers too
from . import activations


def _glorot_uniform(shape):
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return _RNG["rng"].uniform(-limit, limit, size=shape)


INITIALIZERS = {
    "glorot_uniform": _glorot_uniform,
    "random_normal": lambda shape: _RNG["rng"].normal(0.0, 0.05, size=shape),
    "zeros": np.zeros,
    "ones": np.ones,
}


def _initializer(spec):
    if callable(spec):
        return spec
    if spec in INITIALIZERS:
        return INITIALIZERS[spec]
    raise InvalidArgumentError(f"unknown initializer {spec!r}; choose one of {sorted(INITIALIZERS)} or pass a callable")


class Dense:
    """outputs = activation(inputs @ kernel + bias); kernel is (input features, units)."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", input_shape=None, input_dim=None, name=None, dtype="float64"):
        if int(units) < 1:
            raise InvalidArgumentError(f"Dense needs at least one unit, got {units}")
        self.units, self.use_bias, self.dtype = int(units), use_bias, dtype
        self.activation = activations.get(activation)
        self.kernel_initializer = _initializer(kernel_initializer)
        self.bias_initializer = _initializer(bias_initializer)
        self.input_dim = input_dim or (input_shape[-1] if input_shape else None)
        self.name = name or "dense"
        self.kernel = self.bias = None

    def build(self, input_dim):
        if self.kernel is not None:
            if input_dim != self.kernel.shape[0]:
                raise InvalidArgumentError(
                    f"layer {self.name} was built for {self.kernel.shape[0]} input features, got {input_dim}"
                )
            return
        self.input_dim = input_dim
        shape = (input_dim, self.units)
        self.kernel = Variable(self.kernel_initializer(shape), name=f"{self.name}_kernel", dtype=self.dtype)
        if self.use_bias:
            self.bias = Variable(self.bias_initializer((self.units,)), name=f"{self.name}_bias", dtype=self.dtype)

    @property
    def trainable_weights(self):
        return [w for w in (self.kernel, self.bias) if w is not None]

    def __call__(self, inputs):
        inputs = ops.convert_to_tensor(inputs, dtype=self.dtype)
        if inputs.shape is None or len(inputs.shape) != 2 or inputs.shape[-1] is None:
            raise InvalidArgumentError(
                f"Dense {self.name} takes (samples, features) inputs with known features, got shape {inputs.shape}"
            )
        self.build(inputs.shape[-1])
        z = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            z = z + self.bias
        return self.activation(z)


class Dropout:
    """Drops each input with probability `rate` while training (the rest scaled by 1/(1 − rate));
    the identity at inference (`predict`, `model(x)`), as Keras does."""

    takes_training = True  # Sequential passes training=True in fit/train_on_batch

    def __init__(self, rate, noise_shape=None, seed=None, name=None, **kwargs):
        if not 0 <= float(rate) < 1:
            raise InvalidArgumentError(f"Dropout rate must be in [0, 1), got {rate}")
        if noise_shape is not None:
            raise InvalidArgumentError("Dropout(noise_shape=...) is not supported; the noise has the shape of the inputs")
        self.rate, self.name = float(rate), name or "dropout"
        self.input_dim, self.dtype = None, kwargs.get("dtype", "float64")

    trainable_weights = ()

    def build(self, input_dim):
        return None

    def __call__(self, inputs, training=None):
        inputs = ops.convert_to_tensor(inputs)
        if not training or self.rate == 0:
            return inputs
        return ops.dropout(inputs, rate=self.rate)
