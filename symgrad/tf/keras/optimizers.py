"""Keras optimizers: TF2 semantics (`apply_gradients` with computed gradients updates at once)."""

from ...errors import InvalidArgumentError
from .. import train


class _Keras:
    def _apply_now(self, pairs):
        return all(g.op == "const" for g, _ in pairs)


def _rate(learning_rate, lr, default):
    """Keras 2's `lr=` is the old name of `learning_rate=`."""
    if lr is not None and learning_rate is not None:
        raise InvalidArgumentError("pass learning_rate or its old name lr, not both")
    return lr if lr is not None else default if learning_rate is None else learning_rate


class SGD(_Keras, train.GradientDescentOptimizer):
    def __init__(self, learning_rate=None, momentum=0.0, nesterov=False, name="SGD", lr=None):
        super().__init__(_rate(learning_rate, lr, 0.01), momentum=momentum, name=name, nesterov=nesterov)


class Adam(_Keras, train.AdamOptimizer):
    """Keras's Adam (ε = 1e-7 by default, in TensorFlow's placement)."""

    def __init__(self, learning_rate=None, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name="Adam", lr=None):
        super().__init__(_rate(learning_rate, lr, 0.001), beta_1, beta_2, epsilon, name=name)


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get(name_or_optimizer):
    if isinstance(name_or_optimizer, train.Optimizer):
        return name_or_optimizer
    try:
        return OPTIMIZERS[str(name_or_optimizer).lower()]()
    except KeyError:
        raise InvalidArgumentError(
            f"unknown optimizer {name_or_optimizer!r}; pass 'sgd', 'adam' or an optimizer object"
        ) from None
