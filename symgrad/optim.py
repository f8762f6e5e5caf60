"""Parameter updates for `symgrad.train.fit`: plain gradient descent and Adam.

An optimizer updates a list of float arrays in place from their gradients; `state()` and
`restore()` give everything it carries between steps as arrays, so a checkpoint can hold it and a
resumed run continues bit for bit.
"""

import numpy as np

from .errors import InvalidArgumentError


class SGD:
    """θ ← θ − lr·g (full-batch gradient descent when each step sees all the data)."""

    def __init__(self, lr=0.1):
        if not lr > 0:
            raise InvalidArgumentError(f"need lr > 0, got lr={lr}")
        self.lr = lr

    def __repr__(self):
        return f"SGD(lr={self.lr!r})"

    def step(self, params, grads):
        for p, g in zip(params, grads, strict=True):
            p -= self.lr * g

    def state(self):
        return {}

    def restore(self, state):
        pass


class Adam:
    """Adam (Kingma & Ba): bias-corrected running means of the gradient and its square."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        if not (lr > 0 and 0 <= beta1 < 1 and 0 <= beta2 < 1 and eps > 0):
            raise InvalidArgumentError(f"need lr > 0, 0 ≤ beta1, beta2 < 1, eps > 0; got {lr}, {beta1}, {beta2}, {eps}")
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t, self.m, self.v = 0, None, None

    def __repr__(self):
        return f"Adam(lr={self.lr!r}, beta1={self.beta1!r}, beta2={self.beta2!r}, eps={self.eps!r})"

    def step(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        c1, c2 = 1 - self.beta1**self.t, 1 - self.beta2**self.t
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)

    def state(self):
        if self.m is None:
            return {"t": np.array(self.t)}
        return {"t": np.array(self.t), **{f"m{i}": m for i, m in enumerate(self.m)},
                **{f"v{i}": v for i, v in enumerate(self.v)}}

    def restore(self, state):
        self.t = int(state["t"])
        n = sum(k.startswith("m") for k in state)
        self.m = [np.array(state[f"m{i}"]) for i in range(n)] if n else None
        self.v = [np.array(state[f"v{i}"]) for i in range(n)] if n else None
