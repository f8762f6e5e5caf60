"""`tf.gradients` and `tf.GradientTape`: gradient nodes differentiated symbolically when traced.

A gradient node stands for d(Σ of every element of ys)/dx; `Session` differentiates the traced
sympy expressions with `symgrad.grad` (reverse mode). As in TensorFlow, a variable the ys do not
depend on gets `None` (or zeros with `unconnected_gradients="zero"`).
"""

import numpy as np

from ..errors import InvalidArgumentError, UnsupportedError
from .graph import Tensor
from .ops import constant, convert_to_tensor, needs_feed, zeros
from .session import walk


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def gradients(ys, xs, grad_ys=None, unconnected_gradients="none", name=None):
    """[d(Σ ys)/dx for x in xs]; None for an x the ys do not depend on."""
    if grad_ys is not None:
        raise UnsupportedError("gradients(grad_ys=...) is not supported; multiply ys by the weights first")
    if unconnected_gradients not in ("none", "zero"):
        raise InvalidArgumentError(f"unconnected_gradients must be 'none' or 'zero', got {unconnected_gradients!r}")
    ys = [convert_to_tensor(y) for y in _as_list(ys)]
    xs = _as_list(xs)
    for x in xs:
        if not isinstance(x, Tensor):
            raise InvalidArgumentError(f"gradients needs tensors or variables in xs, got {x!r}")
    reachable = set(walk(ys))
    out = []
    for x in xs:
        if x not in reachable:
            out.append(zeros(x.shape, dtype=x.dtype) if unconnected_gradients == "zero" else None)
        else:
            out.append(Tensor("gradient", [*ys, x], attrs=(len(ys),), shape=x.shape, dtype=x.dtype,
                              name=name or f"gradients/{x.name}"))
    return out


class GradientTape:
    """`with tf.GradientTape() as tape: loss = ...` then `tape.gradient(loss, variables)`.

    The graph already knows how every tensor was computed, so the tape records nothing; when the
    target needs no placeholder (TF2 code), `gradient` returns the values right away (as constant
    tensors), otherwise gradient tensors to `Session.run`.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self._used = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def watch(self, tensor):
        """Accepted for compatibility: every tensor of the graph can be differentiated."""

    def gradient(self, target, sources, unconnected_gradients="none"):
        if self._used and not self.persistent:
            raise InvalidArgumentError(
                "A non-persistent GradientTape can only be used to compute one set of gradients; "
                "use GradientTape(persistent=True)"
            )
        self._used = True
        single = isinstance(sources, Tensor)
        srcs = _as_list(sources)
        grads = gradients(target, srcs, unconnected_gradients=unconnected_gradients)
        present = [g for g in grads if g is not None]
        if present and not needs_feed(*present):
            values = present[0].graph.eager_session().run(present)
            it = iter(values)
            grads = [None if g is None else constant(np.asarray(next(it)), dtype=g.dtype, name="gradient", graph=g.graph)
                     for g in grads]
        return grads[0] if single else grads
