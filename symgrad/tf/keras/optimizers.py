"""Keras optimizers: TF2 semantics (`apply_gradients` with computed gradients updates at once).

`decay=` is Keras 2's time decay, lr / (1 + decay·iterations) with iterations counted from 0, the
argument published Keras programs pass (Keras 3 dropped it; its `InverseTimeDecay(lr, 1, decay)`
schedule is the same rate). `lr=` is Keras 2's spelling of `learning_rate`.
"""

from ...errors import InvalidArgumentError
from .. import train


def _learning_rate(learning_rate, lr, default):
    if lr is not None and learning_rate is not None:
        raise InvalidArgumentError(f"pass learning_rate={learning_rate} or its old name lr={lr}, not both")
    rate = lr if lr is not None else learning_rate
    return default if rate is None else rate


class _Keras:
    def _keras_decay(self, decay):
        if not decay >= 0:
            raise InvalidArgumentError(f"{type(self).__name__} needs decay >= 0, got {decay}")
        self.decay = float(decay)

    def learning_rate_at(self, step):
        return self.learning_rate / (1.0 + self.decay * (step - 1))

    def _apply_now(self, pairs):
        return all(g.op == "const" for g, _ in pairs)


class SGD(_Keras, train.GradientDescentOptimizer):
    def __init__(self, learning_rate=None, momentum=0.0, nesterov=False, decay=0.0, name="SGD", lr=None):
        super().__init__(_learning_rate(learning_rate, lr, 0.01), momentum=momentum, name=name, nesterov=nesterov)
        self._keras_decay(decay)


class Adam(_Keras, train.AdamOptimizer):
    """Keras's Adam (ε = 1e-7 by default, in TensorFlow's placement)."""

    def __init__(self, learning_rate=None, beta_1=0.9, beta_2=0.999, epsilon=1e-7, decay=0.0, name="Adam", lr=None):
        super().__init__(_learning_rate(learning_rate, lr, 0.001), beta_1, beta_2, epsilon, name=name)
        self._keras_decay(decay)


class RMSprop(_Keras, train.RMSPropOptimizer):
    """Keras's RMSprop: TF1's update with the mean square started at zeros and ε = 1e-7."""

    def __init__(self, learning_rate=None, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, decay=0.0,
                 name="RMSprop", lr=None):
        super().__init__(_learning_rate(learning_rate, lr, 0.001), decay=rho, momentum=momentum, epsilon=epsilon,
                         centered=centered, name=name, initial_rms=0.0)
        self._keras_decay(decay)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get(name_or_optimizer):
    if isinstance(name_or_optimizer, train.Optimizer):
        return name_or_optimizer
    try:
        return OPTIMIZERS[str(name_or_optimizer).lower()]()
    except KeyError:
        raise InvalidArgumentError(
            f"unknown optimizer {name_or_optimizer!r}; pass one of {sorted(OPTIMIZERS)} or an optimizer object"
        ) from None
