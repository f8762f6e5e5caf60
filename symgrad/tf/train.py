"""Optimizers (`tf.train.*Optimizer`, and the rules Keras's SGD and Adam share).

An update rule is numpy code applied to the gradient values a run computed, as TensorFlow's own
`ApplyGradientDescent`/`ApplyAdam`/`ApplyRMSProp` kernels are: a rule like Adam's squares the summed gradient,
which is no per-sample expression. Slots (momentum, Adam's moments) live next to the variables'
values, in the session's store.
"""

import itertools

import numpy as np

from ..errors import InvalidArgumentError
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
        if self._apply_now(pairs):
            pairs[0][1].graph.eager_session().run(op)
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
                store[v] = self.update(store, v, np.asarray(store[v]), values[g], step)

        return effect

    def learning_rate_at(self, step):
        """The learning rate of update number `step` (1, 2, …); Keras's `decay=` overrides it."""
        return self.learning_rate

    def slot(self, store, var, name, initial=0.0):
        return store.get((self.uid, var.uid, name), initial)

    def update(self, store, var, value, grad, step):
        raise NotImplementedError


class GradientDescentOptimizer(Optimizer):
    """θ ← θ − lr·g, with optional momentum (velocity v ← μv − lr·g; θ ← θ + v) and Nesterov's
    form of it (θ ← θ + μv − lr·g), as Keras's SGD and TF1's MomentumOptimizer define them."""

    def __init__(self, learning_rate, momentum=0.0, use_locking=False, name="GradientDescent", nesterov=False):
        super().__init__(learning_rate, name)
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        if not 0 <= self.momentum <= 1:
            raise InvalidArgumentError(f"{name} needs a momentum in [0, 1], got {momentum}")

    def update(self, store, var, value, grad, step):
        lr = self.learning_rate_at(step)
        if not self.momentum:
            return value - lr * grad
        velocity = self.momentum * self.slot(store, var, "velocity") - lr * grad
        store[(self.uid, var.uid, "velocity")] = velocity
        if self.nesterov:
            return value + self.momentum * velocity - lr * grad
        return value + velocity


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
        m0, v0 = self.slot(store, var, "m"), self.slot(store, var, "v")
        m = m0 + (grad - m0) * (1 - self.beta1)
        v = v0 + (grad * grad - v0) * (1 - self.beta2)
        store[(self.uid, var.uid, "m")], store[(self.uid, var.uid, "v")] = m, v
        lr, eps, t = dt(self.learning_rate_at(step)), dt(self.epsilon), dt(step)
        lr_t = lr * np.sqrt(1 - dt(self.beta2) ** t) / (1 - dt(self.beta1) ** t)
        return value - lr_t * m / (np.sqrt(v) + eps)



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
        """In place on the slot arrays (a 784-512-512-10 model has 670k entries per slot)."""
        ms = self._slot_array(store, var, "rms", self.initial_rms, grad)
        ms *= self.rho
        denom = grad * grad  # one scratch array: (1−ρ)·g², then √(ms + ε) in place
        denom *= 1 - self.rho
        ms += denom
        np.add(ms, self.epsilon, out=denom)
        if self.centered:
            mg = self._slot_array(store, var, "mg", 0.0, grad)
            mg *= self.rho
            mg += (1 - self.rho) * grad
            denom -= mg * mg
        np.sqrt(denom, out=denom)
        increment = grad * self.learning_rate_at(step)
        increment /= denom
        if not self.momentum:
            return value - increment
        mom = self._slot_array(store, var, "momentum", 0.0, grad)
        mom *= self.momentum
        mom += increment
        return value - mom

    def _slot_array(self, store, var, name, initial, like):
        key = (self.uid, var.uid, name)
        if key not in store:
            store[key] = np.full(np.shape(like), initial, dtype=np.result_type(like, np.float32))
        return store[key]
