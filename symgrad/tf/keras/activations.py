"""Activations by Keras name: linear, softmax, and every primitive record's activation under its TF
names (sigmoid, relu, gelu, leaky_relu, mish, ...), so a new record needs no entry here."""

from ...errors import InvalidArgumentError
from .. import ops


def linear(x):
    return x


OWN = {None: linear, "linear": linear, "softmax": ops.softmax}
softmax = ops.softmax


def get(name_or_fn):
    if callable(name_or_fn):
        return name_or_fn
    if name_or_fn is None or isinstance(name_or_fn, str) and name_or_fn in OWN:
        return OWN[name_or_fn]
    found = ops.entrywise_op(name_or_fn, activation=True) if isinstance(name_or_fn, str) else None
    if found is not None:
        return found
    choices = sorted([k for k in OWN if k] + ops.entrywise_names(activations=True))
    raise InvalidArgumentError(f"unknown activation {name_or_fn!r}; choose one of {choices} or pass a callable")


def __getattr__(name):  # `tf.keras.activations.gelu` and the rest
    found = ops.entrywise_op(name, activation=True)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return found
