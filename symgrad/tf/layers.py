"""`tf.layers.dense` (TensorFlow 1): a Keras `Dense` layer made and applied in one call."""

from .graph import Tensor
from .keras.layers import Dense


def dense(inputs, units, activation=None, use_bias=True, kernel_initializer=None, bias_initializer="zeros",
          name=None):
    """activation(inputs @ kernel + bias), with new variables; TF1's default kernel initializer is
    Glorot uniform. The layer's variables are in `tf.trainable_variables()`' graph as any others."""
    layer = Dense(units, activation=activation, use_bias=use_bias,
                  kernel_initializer=kernel_initializer or "glorot_uniform", bias_initializer=bias_initializer,
                  name=name, dtype=inputs.dtype.name if isinstance(inputs, Tensor) else "float64")
    return layer(inputs)


__all__ = ["dense", "Dense"]
