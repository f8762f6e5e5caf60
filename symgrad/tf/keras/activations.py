"""Activations by Keras name."""

from ...errors import InvalidArgumentError
from .. import ops


def _linear(x):
    return x


ACTIVATIONS = {
    None: _linear,
    "linear": _linear,
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "relu": ops.relu,
    "softplus": ops.softplus,
    "softmax": ops.softmax,
}


def get(name_or_fn):
    if callable(name_or_fn):
        return name_or_fn
    try:
        return ACTIVATIONS[name_or_fn]
    except (KeyError, TypeError):
        names = sorted(k for k in ACTIVATIONS if k)
        raise InvalidArgumentError(f"unknown activation {name_or_fn!r}; choose one of {names} or pass a callable") from None
