"""`tf.nn`: the activations TensorFlow keeps under `nn`."""

from .ops import relu, sigmoid, softmax, softplus, tanh

__all__ = ["relu", "sigmoid", "softmax", "softplus", "tanh"]
