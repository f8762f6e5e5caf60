"""`tf.nn`: activations and the losses TensorFlow keeps under `nn`.

The activations are the primitive records' (`ops.entrywise_op`), so a record with an activation
name and TF names (gelu, leaky_relu, ...) is `tf.nn.<name>` without an entry here.

The cross-entropies take logits and are written in their stable forms (log-sum-exp, softplus), so
a saturated softmax or sigmoid keeps a finite loss and gradient, as TensorFlow's fused kernels do.
"""

from ..errors import InvalidArgumentError, ShapeError
from . import ops
from .graph import Tensor
from .ops import dropout, log_softmax, softmax


def __getattr__(name):  # the records' activations (relu, sigmoid, gelu, ...), registered ones too
    found = ops.entrywise_op(name, first="features", activation=True)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return found


def __dir__():
    return sorted({*globals(), *ops.entrywise_names(activations=True)})


def _labels_logits(what, labels, logits, _sentinel):
    if _sentinel is not None:
        raise InvalidArgumentError(f"{what} takes keyword arguments only: labels=..., logits=...")
    if labels is None or logits is None:
        raise InvalidArgumentError(f"{what} needs both labels= and logits=")
    logits = ops.convert_to_tensor(logits)
    return ops.convert_to_tensor(labels, dtype=logits.dtype, graph=logits.graph), logits


def softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, dim=-1, axis=None, name=None):
    """−Σ_k labels_k · log softmax(logits)_k for each row: shape (samples,). Classes in the last axis."""
    labels, logits = _labels_logits("softmax_cross_entropy_with_logits", labels, logits, _sentinel)
    axis = dim if axis is None else axis
    if logits.shape is not None and axis not in (-1, len(logits.shape) - 1):
        raise InvalidArgumentError(f"softmax_cross_entropy_with_logits: classes must be the last axis, got axis={axis}")
    if labels.shape is not None and logits.shape is not None and labels.shape != logits.shape:
        raise ShapeError(
            f"softmax_cross_entropy_with_logits: labels {labels.shape} and logits {logits.shape} must have the same shape"
        )
    shape = None if logits.shape is None else tuple(logits.shape[:-1])
    return Tensor("softmax_cross_entropy", [labels, logits], shape=shape, name=name or "softmax_cross_entropy")


softmax_cross_entropy_with_logits_v2 = softmax_cross_entropy_with_logits


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """The same loss from class indices (integers in [0, classes)) instead of one-hot rows."""
    if _sentinel is not None or labels is None or logits is None:
        raise InvalidArgumentError("sparse_softmax_cross_entropy_with_logits needs keyword arguments labels= and logits=")
    logits = ops.convert_to_tensor(logits)
    if logits.shape is None or len(logits.shape) != 2 or logits.shape[-1] is None:
        raise ShapeError(f"sparse_softmax_cross_entropy_with_logits needs (samples, classes) logits, got {logits.shape}")
    onehot = ops.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    return softmax_cross_entropy_with_logits(labels=onehot, logits=logits, name=name)


def sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """−[y log σ(z) + (1 − y) log(1 − σ(z))] entry by entry, as softplus(z) − y·z."""
    labels, logits = _labels_logits("sigmoid_cross_entropy_with_logits", labels, logits, _sentinel)
    return ops.subtract(ops.entrywise_op("softplus")(logits), labels * logits, name=name)


def l2_loss(t, name=None):
    """Σ t² / 2."""
    return ops.multiply(ops.reduce_sum(ops.square(t)), 0.5, name=name)


__all__ = [
    "softmax", "log_softmax", "softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits_v2",
    "sparse_softmax_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits", "l2_loss", "dropout",
]
__all__ += ops.entrywise_names(activations=True)
