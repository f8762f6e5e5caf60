"""A compiled kernel as a function of one flat parameter vector: θ ↦ (loss, gradient vector).

`kernel.loss_and_grad(values)` takes and gives one Python number per parameter symbol, which is
what derivations, `check` tables and per-symbol updates read. Beyond a few thousand parameters
making and reading those Python floats costs as much as the kernel itself (about 35 ns a number
each way, where the 64-64-1 kernel computes in about 45 ns a parameter), and optimizers want a
vector anyway (`scipy.optimize.minimize(fun, x0, jac=True)`, a hand-written SGD loop on arrays,
as JAX's `ravel_pytree` gives them). `kernel.objective(values)` binds and checks the data once and
answers calls on a float array θ in `wrt` order (each matrix parameter's entries row by row):
a lifted `nn.mlp` splits θ straight into its weight matrices, so the call costs what the matrix
module costs plus a few vectorised passes over θ.
"""

import math

import numpy as np

from .errors import InvalidArgumentError, NonFiniteError

NAMED = 5  # parameters named in an error about θ (then "... and k more")


class Objective:
    """θ ↦ (loss, gradient) for one kernel and one batch of data (see the module docstring).

    `x0`: θ read from the `values` the objective was made from; `wrt`: the parameters θ lists,
    `sizes`: how many entries of θ each takes; `by_symbol(v)`: a vector of that layout (θ, a
    gradient) back as {symbol: float or array}. Calls check θ's shape and, under
    nonfinite="raise", that θ and the results are finite, naming the parameters that are not.
    `run(theta)`: the kernel's (loss, gradients) at a checked θ; `flat(grads)`: those gradients as
    one vector laid out as θ (by default `flat_vector`).
    """

    def __init__(self, kernel, x0, shapes, run, nonfinite, flat=None):
        self.wrt, self.name, self.nonfinite = list(kernel.wrt), kernel.name, nonfinite
        self.dtype = kernel.dtype
        self._shapes = [tuple(s) for s in shapes]
        self.sizes = [math.prod(s) for s in self._shapes]
        self.x0 = np.asarray(x0, dtype=self.dtype).reshape(-1)
        self._run = run
        self._flat = flat if flat is not None else lambda grads: flat_vector(grads, self.dtype)
        self._report = kernel._nonfinite_gradients

    def __repr__(self):
        return f"<symgrad Objective of {self.name!r}: {len(self.x0)} parameters, {self.dtype}>"

    def _theta(self, theta):
        """θ as a 1-D array of the kernel's dtype, or our error naming what is wrong."""
        if type(theta) is np.ndarray and theta.dtype == self.dtype and theta.ndim == 1:
            arr = theta
        else:
            try:
                arr = np.asarray(theta, dtype=self.dtype)
            except (TypeError, ValueError) as exc:
                raise InvalidArgumentError(
                    f"objective of {self.name!r}: θ must be a vector of {len(self.x0)} real numbers "
                    f"(one per parameter in kernel.wrt order), got {type(theta).__name__}: {exc}") from None
        if arr.shape != self.x0.shape:
            raise InvalidArgumentError(
                f"objective of {self.name!r}: θ must have shape {self.x0.shape} (one entry per parameter "
                f"entry in kernel.wrt order, as objective.x0), got shape {arr.shape}")
        if self.nonfinite == "raise" and not math.isfinite(float(arr @ arr)):  # NaN/Inf iff one is (or overflow)
            bad = self._symbols_at(~np.isfinite(arr))
            if bad:
                raise NonFiniteError(
                    f"objective of {self.name!r}: θ holds NaN or Inf for {bad}; pass finite parameters "
                    "or make the objective with nonfinite='propagate'")
        return arr

    def _symbols_at(self, mask):
        """The names of the parameters whose entries `mask` marks, the first NAMED of them."""
        names, start = [], 0
        for w, size in zip(self.wrt, self.sizes, strict=True):
            if mask[start:start + size].any():
                names.append(str(w))
            start += size
        more = f" and {len(names) - NAMED} more" if len(names) > NAMED else ""
        return ", ".join(names[:NAMED]) + more

    def split(self, vector):
        return split(vector, self._shapes)

    def by_symbol(self, vector):
        """{parameter symbol: value} for a vector laid out as θ (θ itself, a gradient, x0)."""
        vector = np.asarray(vector, dtype=self.dtype).reshape(-1)
        if vector.shape != self.x0.shape:
            raise InvalidArgumentError(f"objective of {self.name!r}: a vector of shape {self.x0.shape} "
                                       f"lays out the parameters, got shape {vector.shape}")
        return dict(zip(self.wrt, self.split(vector), strict=True))

    def __call__(self, theta):
        """(loss as a float, gradient as a vector laid out as θ), both summed over the batch."""
        value, grads = self._run(self._theta(theta))
        grad = self._flat(grads)
        value = float(value)
        if self.nonfinite == "raise" and not math.isfinite(value + float(grad @ grad)):
            self._report(self.nonfinite, value, self.split(grad))  # names every NaN/Inf gradient
        return value, grad

    def loss(self, theta):
        return self(theta)[0]

    def grad(self, theta):
        return self(theta)[1]


def split(vector, shapes):
    """`vector` (θ's layout) as parameter values of `shapes` in order: Python floats for scalar
    parameters, array views in their shapes for matrix ones."""
    if all(shape == () for shape in shapes):
        return vector.tolist()
    out, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        part = vector[start:start + size]
        out.append(part.reshape(shape) if shape else part[0])
        start += size
    return out


def flat_vector(grads, dtype):
    """Gradients (floats or arrays, in `wrt` order) as one vector of `dtype`."""
    if grads and all(np.ndim(g) == 0 for g in grads):
        return np.array(grads, dtype=dtype)
    return np.concatenate(grads, axis=None, dtype=dtype)


def generic(kernel, args, nonfinite):
    """The objective of any kernel from its checked positional arguments (data, then parameters):
    each call hands the data and θ's parameter values to `kernel.calls.loss_and_grad`."""
    data, params = args[:len(args) - len(kernel.wrt)], args[len(args) - len(kernel.wrt):]
    shapes = [np.shape(p) for p in params]
    x0 = np.concatenate([np.ravel(p) for p in params]) if params else np.zeros(0)
    call = kernel.calls.loss_and_grad

    def run(theta):
        return call(*data, *split(theta, shapes))

    return Objective(kernel, x0, shapes, run, nonfinite)
