"""Optimizers (`tf.train.*Optimizer`, and the rules Keras's SGD and Adam share).

An update rule is numpy code applied to the gradient values a run computed, as TensorFlow's own
`ApplyGradientDescent`/`ApplyAdam`/`ApplyRMSProp` kernels are: a rule like Adam's squares the summed gradient,
which is no per-sample expression. Slots (momentum, Adam's moments) live next to the variables'
values, in the session's store. An update runs in place, with scratch arrays, on a value array the
optimizer owns (a copy the first time), so a step allocates nothing; `Session.run` hands out copies
of variable values, so nothing a caller holds changes under it.
"""

import itertools

import numpy as np

from ..errors import InvalidArgumentError, NonFiniteError, ShapeError
from .gradients import gradients
from .graph import Operation, Tensor, Variable, executing_eagerly
from .ops import convert_to_tensor

_uids = itertools.count()


class Optimizer:
    """compute_gradients → apply_gradients; `minimize` does both."""

    def __init__(self, learning_rate, name):
        if not learning_rate > 0:
            raise InvalidArgumentError(f"{name} needs a learning rate > 0, got {learning_rate}")
        self.learning_rate = float(learning_rate)
        self.uid = next(_uids)

    def compute_gradients(self, loss, var_list=None):
        """[(gradient tensor or None, variable)] for the trainable variables (or `var_list`)."""
        loss = convert_to_tensor(loss)
        if var_list is None:
            var_list = [v for v in loss.graph.variables if v.trainable]
        var_list = list(var_list)
        for v in var_list:
            if not isinstance(v, Variable):
                raise InvalidArgumentError(f"var_list must hold Variables, got {v!r}")
        return list(zip(gradients(loss, var_list), var_list, strict=True))

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """An op applying the update (run it with `Session.run`); eagerly, applied right away too."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            names = [v.name for _, v in grads_and_vars]
            raise InvalidArgumentError(f"No gradients provided for any variable: {names}; does the loss depend on them?")
        for _, v in pairs:
            if not isinstance(v, Variable):
                raise InvalidArgumentError(f"apply_gradients needs Variables, got {v!r}")
        pairs = [(g if isinstance(g, Tensor) else convert_to_tensor(np.asarray(g), graph=v.graph), v) for g, v in pairs]
        op = Operation([self._effect(pairs)], [g for g, _ in pairs], name=name or type(self).__name__,
                       graph=pairs[0][1].graph)
        if self._apply_now(pairs):  # constant gradients (TF2): their values go straight to the update
            op.effects[0](pairs[0][1].graph.eager_session().store, {g: _constant_value(g, v) for g, v in pairs})
        return op

    def minimize(self, loss, var_list=None, global_step=None, name=None):
        return self.apply_gradients(self.compute_gradients(loss, var_list), name=name)

    def _apply_now(self, pairs):
        return executing_eagerly() and all(g.op == "const" for g, _ in pairs)

    def _effect(self, pairs):
        def effect(store, values):
            step = store.get((self.uid, "step"), 0) + 1
            store[(self.uid, "step")] = step
            for g, v in pairs:
                store[v] = self.update(store, v, self._writable(store, v), values[g], step)

        return effect

    def learning_rate_at(self, step):
        """The learning rate of update number `step` (1, 2, …); Keras's `decay=` overrides it."""
        return self.learning_rate

    def _writable(self, store, var):
        """The variable's value as an array this optimizer may update in place: the one it wrote the
        step before, or else a copy (a value set from outside, by an initializer, `load` or
        `set_weights`, may be the caller's own array)."""
        key = (self.uid, var.uid, "owned")
        value = store[var]
        if store.get(key) is not value:
            value = np.array(value, dtype=var.dtype.as_numpy_dtype).reshape(var.shape)
            store[key] = value
        return value

    def slot(self, store, var, name, initial, like):
        """The slot array `name` of `var` (momentum, Adam's moments), `initial` everywhere at first."""
        key = (self.uid, var.uid, name)
        if key not in store:
            store[key] = np.full(np.shape(like), initial, dtype=like.dtype)
        return store[key]

    def scratch(self, store, like, k=0):
        """Scratch array number `k` of `like`'s shape and dtype, shared by this optimizer's variables
        (the updates run one after another), so a step allocates nothing."""
        key = (self.uid, "scratch", k, like.shape, like.dtype.str)
        if key not in store:
            store[key] = np.empty_like(like)
        return store[key]

    def update(self, store, var, value, grad, step):
        """The variable's new value: `value` (an array this optimizer owns) updated in place."""
        raise NotImplementedError


def _constant_value(g, var):
    """A constant gradient's value, refused when it is not finite or does not fit its variable."""
    value = g.value if g.attrs == ("array",) else np.asarray(g.attrs[0], dtype=g.dtype.as_numpy_dtype)
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        raise NonFiniteError(f"gradient {g.name} for {var.name} contains NaN or Inf; pass finite gradients")
    if value.shape != var.shape and not _broadcasts_to(value.shape, var.shape):
        raise ShapeError(f"gradient {g.name} of shape {value.shape} does not fit variable {var.name} of shape {var.shape}")
    return value


def _broadcasts_to(shape, target):
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


class GradientDescentOptimizer(Optimizer):
    """θ ← θ − lr·g, with optional momentum (velocity v ← μv − lr·g; θ ← θ + v) and Nesterov's
    form of it (θ ← θ + μv − lr·g), as Keras's SGD and TF1's MomentumOptimizer define them."""

    def __init__(self, learning_rate, momentum=0.0, use_locking=False, name="GradientDescent", nesterov=False):
        super().__init__(learning_rate, name)
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        if not 0 <= self.momentum <= 1:
            raise InvalidArgumentError(f"{name} needs a momentum in [0, 1], got {momentum}")

    def update(self, store, var, value, grad, step):
        step_ = np.multiply(grad, self.learning_rate_at(step), out=self.scratch(store, value))  # lr·g
        if not self.momentum:
            value -= step_
            return value
        velocity = self.slot(store, var, "velocity", 0.0, value)
        velocity *= self.momentum
        velocity -= step_
        if self.nesterov:  # θ + μv − lr·g, in that order
            value += np.multiply(velocity, self.momentum, out=self.scratch(store, value, 1))
            value -= step_
        else:
            value += velocity
        return value


class MomentumOptimizer(GradientDescentOptimizer):
    """TF1's `tf.train.MomentumOptimizer(learning_rate, momentum, use_nesterov=False)`."""

    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum", use_nesterov=False):
        super().__init__(learning_rate, momentum, name=name, nesterov=use_nesterov)


class AdamOptimizer(Optimizer):
    """Adam (Kingma & Ba), in TensorFlow's form: lr_t = lr·√(1−β₂ᵗ)/(1−β₁ᵗ), θ ← θ − lr_t·m/(√v + ε)."""

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, name="Adam"):
        super().__init__(learning_rate, name)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)

    def update(self, store, var, value, grad, step):
        """In the variable's dtype, as TensorFlow computes it (the powers βᵗ from β in that dtype)."""
        dt = value.dtype.type
        m, v = self.slot(store, var, "m", 0.0, value), self.slot(store, var, "v", 0.0, value)
        s, s2 = self.scratch(store, value), self.scratch(store, value, 1)
        np.subtract(grad, m, out=s)  # m ← m + (g − m)(1 − β₁)
        s *= 1 - self.beta1
        m += s
        np.multiply(grad, grad, out=s)  # v ← v + (g² − v)(1 − β₂)
        s -= v
        s *= 1 - self.beta2
        v += s
        lr, eps, t = dt(self.learning_rate_at(step)), dt(self.epsilon), dt(step)
        lr_t = lr * np.sqrt(1 - dt(self.beta2) ** t) / (1 - dt(self.beta1) ** t)
        np.sqrt(v, out=s)  # θ ← θ − (lr_t·m) / (√v + ε)
        s += eps
        np.divide(np.multiply(m, lr_t, out=s2), s, out=s)
        value -= s
        return value



class RMSPropOptimizer(Optimizer):
    """RMSProp as TensorFlow's `ApplyRMSProp` kernel computes it (ε inside the square root):

        ms ← ρ·ms + (1−ρ)·g²            (centered: mg ← ρ·mg + (1−ρ)·g, and ms − mg² below)
        mom ← μ·mom + lr·g/√(ms + ε)
        θ ← θ − mom

    TF1 starts `ms` at ones (`initial_rms=1.0`); Keras's RMSprop starts it at zeros.
    """

    def __init__(self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, use_locking=False, centered=False,
                 name="RMSProp", initial_rms=1.0):
        super().__init__(learning_rate, name)
        if not 0.0 <= decay < 1.0:
            raise InvalidArgumentError(f"{name} needs a decay (rho) in [0, 1), got {decay}")
        if momentum < 0 or epsilon < 0:
            raise InvalidArgumentError(f"{name} needs momentum >= 0 and epsilon >= 0, got {momentum} and {epsilon}")
        self.rho, self.momentum, self.epsilon = float(decay), float(momentum), float(epsilon)
        self.centered, self.initial_rms = bool(centered), float(initial_rms)

    def update(self, store, var, value, grad, step):
        ms = self.slot(store, var, "rms", self.initial_rms, value)
        denom, increment = self.scratch(store, value), self.scratch(store, value, 1)
        ms *= self.rho
        np.multiply(grad, grad, out=denom)  # (1−ρ)·g², then √(ms + ε) in the same array
        denom *= 1 - self.rho
        ms += denom
        np.add(ms, self.epsilon, out=denom)
        if self.centered:
            mg = self.slot(store, var, "mg", 0.0, value)
            mg *= self.rho
            mg += np.multiply(grad, 1 - self.rho, out=increment)
            denom -= np.multiply(mg, mg, out=increment)
        np.sqrt(denom, out=denom)
        np.multiply(grad, self.learning_rate_at(step), out=increment)
        increment /= denom
        if self.momentum:
            mom = self.slot(store, var, "momentum", 0.0, value)
            mom *= self.momentum
            mom += increment
            increment = mom
        value -= increment
        return value
