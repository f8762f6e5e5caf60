"""Keras layers: `Dense`, `Dropout`, `Activation`, `Softmax`, `Flatten`.

A layer called on a tensor builds its weights once (from the input's feature size) and returns the
output tensor, which remembers the layer and its input: that is how a functional `Model(inputs,
outputs)` finds its layers and calls them again on other inputs. Names are unique per kind, as
Keras gives them (`dense`, `dense_1`, …).
"""

import inspect
import itertools
import re
from collections import defaultdict

import numpy as np

from ...errors import InvalidArgumentError, ShapeError, UnsupportedError
from .. import ops
from ..graph import Variable
from . import activations, initializers
from .initializers import set_seed

_NAME_COUNTS = defaultdict(itertools.count)


def unique_name(base):
    """`base`, then `base_1`, `base_2` …: Keras's layer and model names."""
    k = next(_NAME_COUNTS[base])
    return base if k == 0 else f"{base}_{k}"


def snake_case(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Layer:
    """A callable that maps (samples, …) tensors to (samples, …) tensors, with its weights."""

    def __init__(self, name=None, dtype="float64", input_shape=None, input_dim=None):
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.dtype = dtype
        if input_dim is not None:
            input_shape = (input_dim,)
        self.input_shape = None if input_shape is None else tuple(int(d) for d in input_shape)
        self.output_shape = None

    @property
    def trainable_weights(self):
        return []

    trainable_variables = property(lambda self: self.trainable_weights)

    @property
    def weights(self):
        return self.trainable_weights

    @property
    def non_trainable_weights(self):
        return []

    def count_params(self):
        return sum(int(np.prod(w.shape)) for w in self.weights)

    def __call__(self, inputs, training=None):
        inputs = ops.convert_to_tensor(inputs, dtype=self.dtype)
        if inputs.shape is None or len(inputs.shape) < 2:
            raise ShapeError(f"layer {self.name} takes (samples, features…) inputs, got shape {inputs.shape}")
        if "training" in inspect.signature(self.call).parameters:
            out = self.call(inputs, training=training)
        else:
            out = self.call(inputs)
        self.output_shape = out.shape
        out._keras_history = (self, inputs)
        return out

    def call(self, inputs):
        raise NotImplementedError


class Dense(Layer):
    """outputs = activation(inputs @ kernel + bias); kernel is (input features, units)."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", input_shape=None, input_dim=None, name=None, dtype="float64"):
        super().__init__(name=name, dtype=dtype, input_shape=input_shape, input_dim=input_dim)
        if int(units) < 1:
            raise InvalidArgumentError(f"Dense needs at least one unit, got {units}")
        self.units, self.use_bias = int(units), use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.input_dim = self.input_shape[-1] if self.input_shape else None
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

    def call(self, inputs):
        if len(inputs.shape) != 2 or inputs.shape[-1] is None:
            raise InvalidArgumentError(
                f"Dense {self.name} takes (samples, features) inputs with known features, got shape {inputs.shape}; "
                "flatten the features first (a Flatten layer first in a Sequential or functional model, or reshape "
                "the data with numpy)"
            )
        self.build(inputs.shape[-1])
        z = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            z = z + self.bias
        return self.activation(z)


class Activation(Layer):
    """`Activation("relu")`: the activation function as a layer of its own."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)


class Softmax(Layer):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        return ops.softmax(inputs, axis=self.axis)


class Dropout(Layer):
    """Drops each input with probability `rate` while training (the rest scaled by 1/(1 − rate));
    the identity at inference (`predict`, `model(x)`), as Keras does."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= float(rate) < 1:
            raise InvalidArgumentError(f"Dropout rate must be in [0, 1), got {rate}")
        if noise_shape is not None:
            raise UnsupportedError("Dropout(noise_shape=...) is not supported; the noise has the shape of the inputs")
        if seed is not None:
            raise UnsupportedError("Dropout(seed=...) is not supported; seed all random draws with tf.random.set_seed")
        self.rate = float(rate)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return ops.identity(inputs)
        return ops.dropout(inputs, rate=self.rate)


class Flatten(Layer):
    """(samples, d1, d2, …) → (samples, d1·d2·…), in C order as Keras's default data format.

    Traced tensors are matrices, so a model whose inputs reach a Flatten first is fed its images
    flattened in numpy (`Model`); on constant arrays (`Flatten()(images)`) numpy reshapes them."""

    def call(self, inputs):
        rest = inputs.shape[1:]
        if None in rest:
            raise ShapeError(f"Flatten {self.name} needs known feature sizes, got shape {inputs.shape}")
        return ops.reshape(inputs, (-1, int(np.prod(rest))))


__all__ = ["Layer", "Dense", "Dropout", "Activation", "Softmax", "Flatten", "set_seed"]
