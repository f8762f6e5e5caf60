"""Measuring the symbolic and autodiff paths on one model: derivation, size, speed, accuracy."""

import statistics
import time
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.core.cache import clear_cache

from .. import autodiff, symbolic
from ..compiler import compile as compile_kernel
from ..dag import op_count, tree_op_count
from .reference import max_relative_error, reference_gradient


@dataclass(frozen=True)
class Measurement:
    """One model measured along both paths (times in seconds, errors relative to mpmath)."""

    model: str
    width: int
    params: int
    derive_diff: float  # sympy.diff per parameter (median of 3 runs, like derive_reverse)
    derive_reverse: float  # symgrad's symbolic reverse mode
    compile: float  # reverse mode + lowering + rendering + loading the numpy module
    ops_forward: int
    ops_naive: int  # the per-parameter sympy.diff gradients written out as trees
    ops_cse: int  # the same after sympy.cse
    ops_reverse: int  # the reverse-mode gradient DAG (forward pass included)
    eval_symbolic: float  # one loss-and-gradient call of the generated kernel on the batch
    eval_autodiff: float  # one numeric reverse-mode pass on the same batch
    error_symbolic: float
    error_autodiff: float
    batch: int


def _timed(fn, repeats=3):
    """(result, median seconds) of `fn()`, each run from an empty sympy cache (no path profits from another)."""
    times = []
    for _ in range(repeats):
        clear_cache()
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, statistics.median(times)


def _median_seconds(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sample_values(model, n, seed=0):
    """The model's initial parameters and a seeded random batch (normal inputs, uniform targets)."""
    rng = np.random.default_rng(seed)
    values = dict(model.initial_values())
    values.update({s: rng.normal(size=n) for s in model.inputs})
    values.update({s: rng.uniform(size=n) for s in model.targets})
    return values


def measure(model, width, batch=256, repeats=5, accuracy_batch=16):
    """Measure `model` (the family member of hidden width `width`) along both paths."""
    params = list(model.params)
    naive, t_diff = _timed(lambda: symbolic.grad(model.loss, params, method="diff"))
    reverse, t_reverse = _timed(lambda: symbolic.grad(model.loss, params))
    replacements, reduced = sp.cse(naive)
    kernel, t_compile = _timed(lambda: compile_kernel(model, cache=False), repeats=1)

    values = sample_values(model, batch)
    args = kernel.arguments(values)
    vectorized = kernel.module.loss_and_grad_vectorized
    eval_symbolic = _median_seconds(lambda: vectorized(*args), repeats)
    eval_autodiff = _median_seconds(lambda: autodiff.grad(model.loss, params, values), repeats)

    small = sample_values(model, accuracy_batch, seed=1)
    reference = reference_gradient(model, small)
    small_args = kernel.arguments(small)
    symbolic_grad = kernel.module.loss_and_grad_vectorized(*small_args)[1]
    return Measurement(
        model=model.name, width=width, params=len(params),
        derive_diff=t_diff, derive_reverse=t_reverse, compile=t_compile,
        ops_forward=op_count([model.loss]), ops_naive=tree_op_count(naive),
        ops_cse=op_count([rhs for _, rhs in replacements] + list(reduced)), ops_reverse=op_count(reverse),
        eval_symbolic=eval_symbolic, eval_autodiff=eval_autodiff,
        error_symbolic=max_relative_error(symbolic_grad, reference),
        error_autodiff=max_relative_error(autodiff.grad(model.loss, params, small), reference),
        batch=batch,
    )
