"""`tf.gradients` and `tf.GradientTape`: gradient nodes differentiated symbolically when traced.

A gradient node stands for d(Σ of every element of ys)/dx; `Session` differentiates the traced
sympy expressions with `symgrad.grad` (reverse mode). As in TensorFlow, a variable the ys do not
depend on gets `None` (or zeros with `unconnected_gradients="zero"`).
"""


from ..errors import InvalidArgumentError, UnsupportedError
from .graph import RECORDING, Tensor, Variable, walk
from .host import HOST
from .ops import convert_to_tensor, held_constant, needs_feed, zeros


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def gradients(ys, xs, grad_ys=None, unconnected_gradients="none", name=None):
    """[d(Σ ys)/dx for x in xs]; None for an x the ys do not depend on (or only through ops
    without gradients)."""
    if grad_ys is not None:
        raise UnsupportedError("gradients(grad_ys=...) is not supported; multiply ys by the weights first")
    if unconnected_gradients not in ("none", "zero"):
        raise InvalidArgumentError(f"unconnected_gradients must be 'none' or 'zero', got {unconnected_gradients!r}")
    ys = [convert_to_tensor(y) for y in _as_list(ys)]
    xs = _as_list(xs)
    for x in xs:
        if not isinstance(x, Tensor):
            raise InvalidArgumentError(f"gradients needs tensors or variables in xs, got {x!r}")
    reachable = set(walk(ys, stop=HOST))  # no gradient flows through argmax, comparisons, one_hot (as in TF)
    out = []
    for x in xs:
        if x not in reachable:
            out.append(_zeros_like(x, ys, name) if unconnected_gradients == "zero" else None)
        else:
            out.append(Tensor("gradient", [*ys, x], attrs=(len(ys),), shape=x.shape, dtype=x.dtype,
                              name=name or f"gradients/{x.name}"))
    return out


def _zeros_like(x, ys, name):
    """Zeros of x's shape; a shape known only at run time (a batch axis) gets a gradient node,
    which traces to a zero matrix of the fed shape."""
    if x.shape is not None and None not in x.shape:
        return zeros(x.shape, dtype=x.dtype)
    return Tensor("gradient", [*ys, x], attrs=(len(ys),), shape=x.shape, dtype=x.dtype, name=name or f"gradients/{x.name}")


class GradientTape:
    """`with tf.GradientTape() as tape: loss = ...` then `tape.gradient(loss, variables)`.

    As in TensorFlow, the tape records the ops built inside its `with` block and watches the
    trainable variables (and what `watch` names); a source the target reaches only through ops
    built outside the block gets None. The gradient itself is symbolic, over the whole path. When
    the target needs no placeholder (TF2 code), `gradient` returns values right away (as constant
    tensors), otherwise gradient tensors to `Session.run`.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self.recorded, self.watched = set(), set()
        self._used = False

    def __enter__(self):
        RECORDING.append(self)
        return self

    def __exit__(self, *exc):
        RECORDING.remove(self)
        return False

    def watch(self, tensor):
        """Differentiate with respect to `tensor` too (a constant, or a variable when not watched)."""
        for t in _as_list(tensor):
            self.watched.add(t.uid)

    def _watched(self, source):
        return (self.watch_accessed_variables and isinstance(source, Variable) and source.trainable) or (
            source.uid in self.watched or (source.uid in self.recorded and source.inputs)
        )

    def _reached(self, target):
        """The nodes `target` depends on through recorded ops (one walk, shared by every source)."""
        stack, seen = [target], {target}
        while stack:
            node = stack.pop()
            if node.uid in self.recorded:
                for t in node.inputs:
                    if t not in seen:
                        seen.add(t)
                        stack.append(t)
        return seen

    def gradient(self, target, sources, unconnected_gradients="none"):
        if self._used and not self.persistent:
            raise InvalidArgumentError(
                "A non-persistent GradientTape can only be used to compute one set of gradients; "
                "use GradientTape(persistent=True)"
            )
        self._used = True
        single = isinstance(sources, Tensor)
        srcs, target = _as_list(sources), convert_to_tensor(target)
        grads = gradients(target, srcs, unconnected_gradients=unconnected_gradients)
        reached = self._reached(target)
        grads = [g if g is None or (self._watched(x) and x in reached) else
                 (_zeros_like(x, [target], None) if unconnected_gradients == "zero" else None)
                 for g, x in zip(grads, srcs, strict=True)]
        present = [g for g in grads if g is not None and g.op == "gradient"]
        if present and not needs_feed(*present):  # the target's value comes from the same pass: kept
            *computed, value = present[0].graph.eager_session().run([*present, target])
            target.pin(value)
            values = dict(zip(present, computed, strict=True))
            grads = [held_constant(values[g], g.dtype, "gradient", g.graph) if g in values else g for g in grads]
        return grads[0] if single else grads
