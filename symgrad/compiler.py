"""`symgrad.compile`: expression or Model → symbolic gradient → IR → generated module → Kernel."""


import dataclasses

import sympy as sp

from . import cache as kernel_cache
from . import symbolic
from .diagnostics import check_size, warn_if_constant
from .errors import InvalidArgumentError, SymgradError, UnsupportedError
from .lift import can_lift, lifted_kernel, matrix_form
from .load import cached_kernel
from .lowering import lower
from .matrix.kernel import compile_matrix
from .model import Model
from .recognize import recognize
from .rewrite import select, stabilize
from .runtime import Kernel, load_module
from .targets.numpy.scalar import render_numpy
from .values import as_expr, as_symbol_list


def _numpy_kernel(ir):
    source = render_numpy(ir)
    return Kernel(ir, source, load_module(source, ir.name), "numpy")


def _cuda_kernel(ir):
    from .cuda_runtime import cuda_kernel
    from .targets.cuda.scalar import render_cuda

    return cuda_kernel(ir, render_cuda(ir))


TARGETS = {"numpy": _numpy_kernel, "cuda": _cuda_kernel}  # target -> IR to a loaded kernel
DTYPES = ("float64", "float32")


def _normalize(expr, wrt, inputs, outputs, name, dtype):
    """The checked (expr, wrt, inputs, outputs, name) of a compile call (a `Model` supplies them)."""
    if isinstance(expr, Model):
        model = expr
        expr, wrt = model.loss, list(model.params) if wrt is None else wrt
        inputs = list(model.data) if inputs is None else inputs
        outputs = model.outputs if not outputs else outputs
        name = name or model.name
    if wrt is None:
        raise InvalidArgumentError("compile needs wrt= (the parameters to differentiate) or a Model")
    expr = as_expr(expr)
    wrt = as_symbol_list(wrt)
    inputs = as_symbol_list(inputs or [], "inputs")
    both = set(wrt) & set(inputs)
    if both:
        raise InvalidArgumentError(f"{', '.join(sorted(map(str, both)))} is in both wrt and inputs")
    if dtype not in DTYPES:
        raise InvalidArgumentError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    return expr, wrt, inputs, [as_expr(o) for o in outputs], name or "kernel"


def build_ir(expr, wrt=None, inputs=None, outputs=(), name=None, dtype="float64", method="reverse",
             rewrites=None, max_ops=None):
    """Lower a loss (or `Model`) and its symbolic gradient to a `KernelIR`.

    `rewrites` names the stable rewrites to apply (None: all of `symgrad.rewrite.RULES`, (): none);
    they are applied before differentiating and again to every lowered expression. `max_ops`
    bounds the operation count of the loss and of the loss with its gradient.
    """
    expr, wrt, inputs, outputs, name = _normalize(expr, wrt, inputs, outputs, name, dtype)
    check_size("loss", [expr, *outputs], max_ops)
    rules = select(rewrites)
    (expr,) = stabilize([expr], rules)
    adjoints = symbolic.adjoints(expr, wrt) if method == "reverse" else None  # they name the backward pass
    grads = [adjoints.get(w, sp.S.Zero) for w in wrt] if adjoints is not None else symbolic.grad(expr, wrt, method=method)
    check_size("loss with its gradient", [expr, *grads, *outputs], max_ops)
    return lower(name, expr, grads, outputs, inputs, wrt, dtype=dtype, rewrites=rules, adjoints=adjoints)


def compile(expr, wrt=None, inputs=None, target="numpy", outputs=(), name=None, dtype="float64", method="reverse",  # noqa: A001
            rewrites=None, max_ops=None, cache=True):
    """Generate, load and return a `Kernel` for the loss `expr` (per sample, summed over the batch).

    `wrt` are the parameters (single numbers), `inputs` the data symbols (one value per sample);
    every free symbol must be one or the other. A `symgrad.nn.Model` supplies all of these.
    `outputs` are extra expressions returned by `.predict`. `rewrites` and `max_ops`: see `build_ir`.
    `cache`: True (the default cache directory, see `symgrad.cache`), False (off), a directory, or a
    `symgrad.cache.KernelCache`; `kernel.cache_status` says "hit", "miss", "rebuilt" or "off".
    `target="cuda"` generates CUDA kernels run through CuPy (imported only when the kernel is first
    called; CuPy keeps its own cache of compiled kernels, so the cache here holds numpy modules only).

    Every option means the same for a scalar expression, a matrix-level model (`symgrad.matrix.kernel`)
    and a scalar dense model answered through its matrix form (`symgrad.lift`); a `method` with no
    matrix form is refused by name there.
    """
    if target not in TARGETS:
        raise UnsupportedError(f"unknown target {target!r}; available targets: {', '.join(TARGETS)}")
    e, w, i, o, n = _normalize(expr, wrt, inputs, outputs, name, dtype)
    warn_if_constant(e, w, n)
    store = kernel_cache.resolve(cache)
    level, model = _level(expr, wrt, inputs, outputs, name, target, method)
    if level == "lifted":
        return _lifted(model, name, dtype, store, wrt, inputs, rewrites, max_ops)
    return LEVELS[level](e, w, i, o, n, dtype, target, store, method, rewrites, max_ops)


def _level(expr, wrt, inputs, outputs, name, target, method):
    """The level a compile call builds at, decided once: ("lifted", the dense Model), ("matrix", None)
    for MatrixSymbol models, else ("scalar", None)."""
    if target == "numpy" and method == "reverse":  # the matrix form has reverse mode only
        model = _dense_model(expr, wrt, inputs, name)
        if model is not None and can_lift(model, wrt, inputs, outputs):
            return "lifted", model
    return ("matrix" if _matrix_level(expr, wrt) else "scalar"), None


def _dense_model(expr, wrt, inputs, name):
    """`expr` as a Model with its dense layers: nn.mlp's record, or what `symgrad.recognize` finds."""
    if isinstance(expr, Model):
        if expr.structure is not None:
            return expr
        expr, wrt, inputs, name = expr.loss, wrt or expr.params, inputs or expr.data, name or expr.name
    elif wrt is None or inputs is None or not isinstance(expr, sp.Expr):
        return None
    try:
        found = recognize(expr, as_symbol_list(wrt), as_symbol_list(inputs, "inputs"))
    except (SymgradError, TypeError, ValueError, AttributeError):
        return None  # bad arguments or an expression recognition cannot read: the scalar path decides
    if found is None:
        return None
    stack, features, targets, _ = found
    return Model(name or "kernel", expr, tuple(as_symbol_list(wrt)), tuple(features), tuple(targets), (), {}, stack)


def _lifted(model, name, dtype, store, wrt=None, inputs=None, rewrites=None, max_ops=None):
    """A lifted `Kernel` (level `lift.Lifted`): the scalar kernel for small batches, the dense layers as matrices for large ones.

    Both halves get the same `rewrites` and cache `store`; `max_ops` counts the scalar model (what the
    caller wrote): its loss now, its gradient when the scalar half is built.
    """
    select(rewrites)  # an unknown rule name is an error before either half is built
    check_size("loss", [model.loss, *model.outputs], max_ops)
    named = dataclasses.replace(model, name=name) if name else model

    def matrix():
        loss, params, inputs, outputs = matrix_form(named)
        return compile_matrix(loss, params, inputs, outputs, f"{named.name}_matrix", dtype, "numpy", store,
                              "reverse", rewrites)

    def scalar():
        return compile_scalar(*_normalize(named.loss, list(wrt or named.params), list(inputs or named.data),
                                          named.outputs, named.name, dtype), dtype, "numpy", store, "reverse", rewrites, max_ops)

    return lifted_kernel(named, dtype, scalar, matrix, wrt, inputs)


def compile_scalar(e, w, i, o, n, dtype, target, store, method, rewrites, max_ops):
    """A scalar-level kernel of the normalized (expr, wrt, inputs, outputs, name): numpy modules
    through the cache `store` (a KernelCache or None), CUDA ones built (CuPy caches its own)."""
    select(rewrites)  # an unknown rule name is an error even on a cache hit

    def build():
        return build_ir(e, w, i, o, n, dtype, method, rewrites, max_ops)

    if target != "numpy":
        return TARGETS[target](build())
    check_size("loss", [e, *o], max_ops)
    key = kernel_cache.kernel_key(e, w, i, o, n, target, dtype, method, rewrites) if store is not None else None
    return cached_kernel(store, key, build, render_numpy, n, w, i, dtype)


LEVELS = {"scalar": compile_scalar, "matrix": compile_matrix}  # level -> how a normalized call is built


def _matrix_level(expr, wrt):
    """Matrix-level models (MatrixSymbols) compile through `symgrad.matrix.kernel`."""
    from .matrix.graph import is_matrix_level

    if isinstance(expr, Model):
        return is_matrix_level(expr.loss, expr.params)
    return is_matrix_level(as_expr(expr), as_symbol_list(wrt) if wrt is not None else [])


__all__ = ["compile", "build_ir"]
