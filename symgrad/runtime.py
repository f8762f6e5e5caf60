"""Loading generated modules and calling them with a `values` mapping."""

import linecache
import math
import types

import numpy as np

from .dask_hook import accepts_dask, holds_dask
from .errors import InvalidArgumentError, NonFiniteError, ShapeError
from .objective import generic as generic_objective
from .prepared import Calls, PreparedBinding
from .values import NONFINITE_POLICIES, bind


def no_outputs(name):
    """`predict` on a kernel compiled without outputs: say what to pass instead of returning []."""
    return InvalidArgumentError(
        f"kernel {name!r} has no outputs to predict: pass the expressions to return as "
        "symgrad.compile(..., outputs=[...]) (a symgrad.nn.Model supplies its own)")


def load_module(source, name):
    """Execute generated `source` as a fresh module; tracebacks show its lines."""
    filename = f"<symgrad-kernel {name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(f"symgrad_kernel_{name}")
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - our own generated text
    return module


def check_finite(kernel_name, nonfinite, results):
    """Under nonfinite="raise", our error naming every result (name -> value) that came out NaN or
    Inf; every kind of kernel (scalar, matrix, Hessian, CUDA) applies the policy through this."""
    if nonfinite != "raise":
        return
    bad = [name for name, value in results.items() if not np.all(np.isfinite(value))]
    if bad:
        raise NonFiniteError(
            f"kernel {kernel_name!r} computed NaN or Inf for {', '.join(bad)} from finite data "
            "(the model is evaluated outside its domain or overflows at these values); "
            "pass nonfinite='propagate' to get the IEEE results instead"
        )


_SMALL = 256  # results up to this many numbers are tested by a Python float sum (quicker than a ufunc call)


def _finite(result):
    if type(result) is float:
        return math.isfinite(result)
    result = np.asarray(result)
    # an overflowing sum of finite numbers only sends the caller on to `check_finite`, which looks closely
    return math.isfinite(sum(result.ravel().tolist(), 0.0)) if result.size <= _SMALL else bool(np.isfinite(result).all())


def all_finite(results):
    """Whether every number and array in `results` is finite (False also, rarely, when a sum of finite
    numbers overflows): the one test run before any name is printed (`check_finite` then says which failed)."""
    return all(map(_finite, results))


def scalar_arguments(kernel, values, nonfinite):
    """The checked positional arguments of a scalar kernel's functions: data arrays, then parameters."""
    fast = kernel._prepared.arguments(values, nonfinite) if kernel._prepared is not None else None
    return list(fast) if fast is not None else bound_arguments(kernel, values, nonfinite)


def bound_arguments(kernel, values, nonfinite):
    """`scalar_arguments` through `values.bind`: the path that names what is wrong."""
    bound, batch = bind(kernel.inputs + kernel.wrt, values, dtype=kernel.dtype, nonfinite=nonfinite, scalar=set(kernel.wrt))
    if len(batch) > 1:
        raise ShapeError(f"data must be one value per sample (1-D), got batch shape {batch}")
    n = batch[0] if batch else 1
    data = [np.ascontiguousarray(np.broadcast_to(bound[s], (n,))) for s in kernel.inputs]
    params = [bound[s].item() if kernel.dtype == np.float64 else bound[s] for s in kernel.wrt]
    return data + params


def module_calls(kernel):
    """The module functions a scalar kernel's fast `loss_and_grad` runs (a numpy module's loop on the
    data lists the binding already made, and its vectorized form), and the kernel's error report."""
    module = kernel.module
    if kernel.target != "numpy":
        return Calls(loss_and_grad=module.loss_and_grad, report=kernel._nonfinite_gradients)
    return Calls(loss_and_grad=module.loss_and_grad, loop=module.loss_and_grad_loop,
                 vectorized=module.loss_and_grad_vectorized, report=kernel._nonfinite_gradients, loop_max=module.LOOP_MAX)


class ScalarLevel:
    """What a scalar-level kernel's calls do with values and results: data one value per sample (1-D),
    parameters single numbers, gradients and losses Python floats; a dict of float64 values takes
    the prepared binding (`symgrad.prepared`). `symgrad.matrix.runtime.MATRIX` is the matrix level's."""

    name, matrix = "scalar", False

    def __reduce__(self):
        return "SCALAR"  # pickled by name (a kernel shipped to Dask workers): the one instance

    def generated(self, kernel):
        """The kernel whose generated module `kernel` shows and ships: itself."""
        return kernel

    def prepared(self, kernel):
        """The fast lane for `kernel`'s calls (None: every call is bound by `values.bind`)."""
        if kernel.dtype != np.float64:
            return None
        return PreparedBinding(kernel.inputs, kernel.wrt, kernel.target != "numpy", module_calls(kernel))

    def arguments(self, kernel, values, nonfinite, skip=()):
        """Checked positional arguments through `values.bind` (`skip` has no meaning for 1-D data)."""
        return bound_arguments(kernel, values, nonfinite)

    def gradients(self, kernel, result, nonfinite):
        """The module's (loss, gradients) as floats, tested with one sum (a sum that overflowed is looked at closely)."""
        value, grads = result
        grads = [*map(float, grads)]
        value = float(value)
        if not math.isfinite(sum(grads, value)):
            kernel._nonfinite_gradients(nonfinite, value, grads)
        return value, grads

    def predict_arguments(self, kernel, values, nonfinite):
        """`predict`'s arguments through `values.bind`, with placeholders for the inputs the outputs do not read."""
        if hasattr(values, "items"):  # anything else: bind says what a values mapping is
            values = dict(values)
            for s in kernel.inputs:  # the IR (rebuilt if the kernel came from the cache) only when one is missing
                if s not in values and str(s) not in values and s not in kernel.predict_reads:
                    values[s] = 0.0  # a placeholder the generated predict never reads
        return bound_arguments(kernel, values, nonfinite)

    def predict_reads(self, ir):
        """The data symbols the outputs read (statements read IR identifiers, not user symbols)."""
        reads = {name for st in ir.needed(ir.predictions) for name in st.reads()}
        return {v.symbol for v in ir.data if v.ident in reads}

    def objective(self, kernel, values, nonfinite):
        return generic_objective(kernel, kernel.arguments(values, nonfinite), nonfinite)

    def per_sample_grad(self, kernel, values, nonfinite):
        out = kernel.calls.per_sample_grad(*kernel.arguments(values, nonfinite))
        if not np.isfinite(out).all():  # one pass over the matrix; name the columns only on failure
            kernel._finite(nonfinite, **{f"d/d{w} (per sample)": out[:, j] for j, w in enumerate(kernel.wrt)})
        return out


SCALAR = ScalarLevel()


class Kernel:
    """A generated kernel bound to its model: call it with the same `values` as autodiff.

    `.loss(values)` is the loss summed over the batch, `.grad(values)` the gradients in `wrt`
    order (floats at scalar level, arrays in each parameter's shape at matrix level),
    `.predict(values)` the model outputs, `.source` the generated text, `.module` its functions.
    One class for every level and target: `level` (`SCALAR`, `symgrad.matrix.runtime.MATRIX`, a
    lifted kernel's `symgrad.lift.Lifted`) says how values bind and results are shaped, `calls` is
    whatever computes (a loaded numpy module, a CUDA launcher's answers, a lifted kernel's
    `LiftedCalls` routing by batch size), chosen by `symgrad.compile`; `module`, `source` and `ir`
    are the generated module's (a lifted kernel shows its scalar half's: `level.generated`).
    """

    def __init__(self, ir, source, module, target="numpy", level=SCALAR):
        self._ir, self._source, self._module, self.target, self.level = ir, source, module, target, level
        self.calls = module  # what loss/grad/predict call (a lifted kernel's routes by batch size)
        self.name = ir.name
        self.wrt = [v.symbol for v in ir.params]
        self.inputs = [v.symbol for v in ir.data]
        self.dtype = np.dtype(ir.dtype)
        self.cache_status = "off"  # or "hit", "miss", "rebuilt" (see symgrad.cache)
        self._cache_key = None  # set by symgrad.compile when the kernel went through the cache
        self._prepared = level.prepared(self)

    @classmethod
    def from_cache(cls, source, module, name, wrt, inputs, dtype, target, build_ir, status="hit", level=SCALAR):
        """A kernel loaded from a verified cache entry; its IR is rebuilt only if someone asks."""
        kernel = cls.__new__(cls)
        kernel._ir, kernel._build_ir = None, build_ir
        kernel._source, kernel._module, kernel.calls = source, module, module
        kernel.target, kernel.name, kernel.level = target, name, level
        kernel.wrt, kernel.inputs, kernel.dtype = list(wrt), list(inputs), np.dtype(dtype)
        kernel.cache_status, kernel._cache_key = status, None
        kernel._prepared = level.prepared(kernel)
        return kernel

    @property
    def shipped_kernel(self):
        """The kernel whose generated text, module and IR this one shows and sends to Dask workers
        (itself; a lifted kernel's scalar half)."""
        return self.level.generated(self)

    @property
    def source(self):
        return self._source if self._source is not None else self.shipped_kernel.source

    @property
    def module(self):
        return self._module if self._module is not None else self.shipped_kernel.module

    @property
    def cache_key(self):
        """The cache key of the shipped text (None: compiled with cache=False)."""
        shipped = self.shipped_kernel
        return self._cache_key if shipped is self else shipped.cache_key

    @cache_key.setter
    def cache_key(self, key):
        self._cache_key = key

    @property
    def ir(self):
        if self._ir is None:
            self._ir = self._build_ir()
        return self._ir

    def __repr__(self):
        where = f" on {self.calls.where()}" if self.target == "cuda" else ""
        return (f"<symgrad Kernel {self.name!r} {self.level.name} target={self.target} params={len(self.wrt)} "
                f"inputs={len(self.inputs)} {self.dtype}{where}>")

    # what target="cuda" adds (symgrad.cuda_runtime.LauncherCalls holds it): the launcher and its settings
    def _launched(self):
        if self.target != "cuda":
            raise InvalidArgumentError(f"kernel {self.name!r} has target={self.target!r}: a launcher, a backend, "
                                       "block and deterministic belong to target='cuda' kernels")
        return self.calls

    def on(self, backend):
        """This CUDA kernel run through `backend` (a cupy-like module, e.g. symgrad.cuda_emu.Backend())."""
        return self._launched().on(self, backend)

    launcher = property(lambda self: self._launched().launcher, doc="the loaded CUDA launcher (device arrays in and out)")
    launcher_source = property(lambda self: self._launched().launcher_source, doc="the CUDA launcher's Python text")
    sources = property(lambda self: self._launched().sources)
    backend = property(lambda self: self._launched().backend)
    block = property(lambda self: self._launched().block, lambda self, b: setattr(self._launched(), "block", b),
                     doc="threads per block (None: the launcher's BLOCK)")
    deterministic = property(lambda self: self._launched().deterministic,
                             lambda self, d: setattr(self._launched(), "deterministic", d),
                             doc="fixed-order gradient reductions (False: atomic adds)")

    def arguments(self, values, nonfinite="raise", skip=()):
        """Positional arguments of the generated functions, checked: data arrays, then parameters
        (at matrix level, None in place of the inputs in `skip`)."""
        if self._prepared is not None and not skip:
            return scalar_arguments(self, values, nonfinite)
        return self.level.arguments(self, values, nonfinite, skip)

    def _finite(self, nonfinite, **results):
        check_finite(self.name, nonfinite, results)

    @accepts_dask
    def loss(self, values, nonfinite="raise"):
        return self._checked_loss(self.calls.loss(*self.arguments(values, nonfinite)), nonfinite)

    def _checked_loss(self, value, nonfinite):
        value = float(value)
        if not math.isfinite(value):
            self._finite(nonfinite, loss=value)
        return value

    def loss_and_grad(self, values, nonfinite="raise"):
        """(loss, gradients in `wrt` order as floats), both summed over the batch."""
        # the documented training call (bench/seed_step.py): the prepared binding binds, calls the
        # module and tests the results in one frame; when it answers, `values` holds no dask
        # collection either, so the dask door is skipped
        got = self._prepared.loss_and_grad(values, nonfinite) if self._prepared is not None else None
        return self._checked_loss_and_grad(values, nonfinite) if got is None else got

    @accepts_dask(name="loss_and_grad")
    def _checked_loss_and_grad(self, values, nonfinite):
        level = self.level
        return level.gradients(self, self.calls.loss_and_grad(*level.arguments(self, values, nonfinite)), nonfinite)

    def _nonfinite_gradients(self, nonfinite, value, grads):
        """Our error naming each NaN or Inf among the loss and gradients (names printed only now)."""
        self._finite(nonfinite, loss=value, **{f"d/d{w}": g for w, g in zip(self.wrt, grads, strict=True)})

    def grad(self, values, nonfinite="raise"):
        """Gradients in `wrt` order, summed over the batch: through the module's own `grad` where it
        has one (a matrix numpy module, which leaves out the statements only the loss reads), else
        `loss_and_grad`'s (dask data always goes through `loss_and_grad`'s door)."""
        direct = getattr(self.calls, "grad", None) if self.level.matrix else None
        if direct is None or holds_dask(values):
            return self.loss_and_grad(values, nonfinite)[1]
        level = self.level
        return level.gradients(self, (None, direct(*level.arguments(self, values, nonfinite))), nonfinite)[1]

    def objective(self, values, nonfinite="raise"):
        """θ ↦ (loss, gradient vector) on the data in `values`, bound and checked once, for
        optimizers and loops that work on one flat float array θ in `wrt` order (each matrix
        parameter's entries row by row); `.x0` is θ read from `values`, `.by_symbol(v)` a vector
        back per symbol (symgrad/objective.py)."""
        if nonfinite not in NONFINITE_POLICIES:
            raise InvalidArgumentError(f"nonfinite must be one of {NONFINITE_POLICIES}, got {nonfinite!r}")
        return self.level.objective(self, values, nonfinite)

    def predict(self, values, nonfinite="raise"):
        """Model outputs as a list of arrays (one per output, length n).

        Inputs the outputs do not read (targets) may be omitted; any other missing value is our
        UnboundSymbolError, as for `loss` and `grad`.
        """
        args = self._prepared.arguments(values, nonfinite) if self._prepared is not None else None
        if args is None:  # as for loss_and_grad: a tuple from the prepared binding rules dask out
            return self._checked_predict(values, nonfinite)
        return self._outputs(args, nonfinite)

    @accepts_dask(name="predict")
    def _checked_predict(self, values, nonfinite):
        return self._outputs(self.level.predict_arguments(self, values, nonfinite), nonfinite)

    def _outputs(self, args, nonfinite):
        out = [np.asarray(o) for o in self.calls.predict(*args)]
        if not out:
            raise no_outputs(self.name)
        if nonfinite == "raise" and not all_finite(out):  # names printed only on failure
            self._finite(nonfinite, **{f"output {i}": o for i, o in enumerate(out)})
        return out

    @property
    def predict_reads(self):
        """The data symbols the outputs read (the others, targets, may be left out of `predict`'s values)."""
        return self.level.predict_reads(self.ir)

    @accepts_dask
    def per_sample_grad(self, values, nonfinite="raise"):
        """The n × len(wrt) matrix of per-sample gradients."""
        return self.level.per_sample_grad(self, values, nonfinite)


class HessianKernel:
    """Generated second derivatives of a loss summed over a batch, at either level: `.hessian(values)`
    and `.hvp(values, v)` (sums over the batch like `Kernel.grad`), `.source` the generated text,
    `.kernels` the loaded `Kernel`s that compute them, `.cache_status` as for a `Kernel`.

    What differs between levels is data, the `level` strategy (`second_order.SCALAR_SECOND`,
    `matrix.hessian_kernel.MATRIX_SECOND`): at scalar level `v` is one number per parameter and the
    Hessian the P×P matrix (two kernels whose `.predict` returns the per-sample H·v terms and upper
    triangle); at matrix level `v` is one direction array per parameter and the Hessian the n×n
    matrix of one n×1 parameter (one kernel, with `.loss_and_grad` too).
    """

    def __init__(self, level, wrt, inputs, directions, kernels, pairs=()):
        self.level, self.kernels, self._pairs = level, list(kernels), list(pairs)
        self.wrt, self.inputs, self.directions = list(wrt), list(inputs), list(directions)
        self.name, self.dtype = self.kernels[0].name, self.kernels[0].dtype
        statuses = {k.cache_status for k in self.kernels}  # every entry hit, or the first that was not
        self.cache_status = next((s for s in ("rebuilt", "miss", "off") if s in statuses), "hit")

    def __repr__(self):
        return f"<symgrad HessianKernel {self.name!r} {self.level.name} params={len(self.wrt)} {self.dtype}>"

    @property
    def source(self):
        return "\n\n".join(k.source for k in self.kernels)

    @property
    def gradient(self):
        """The `Kernel` that also computes the loss and gradient (its module, IR, arguments)."""
        return self.level.gradient(self)

    module = property(lambda self: self.gradient.module)
    ir = property(lambda self: self.gradient.ir)

    def arguments(self, values, nonfinite="raise"):
        return self.gradient.arguments(values, nonfinite)

    def loss_and_grad(self, values, nonfinite="raise"):
        return self.gradient.loss_and_grad(values, nonfinite)

    def hvp(self, values, v, nonfinite="raise"):
        return self.level.hvp(self, values, v, nonfinite)

    def hessian(self, values, nonfinite="raise"):
        return self.level.hessian(self, values, nonfinite)
