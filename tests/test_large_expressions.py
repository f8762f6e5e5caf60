"""Deep and wide expressions: every pass is iterative and linear, so size never hits a recursion limit.

The fast tests use expressions far deeper than Python's recursion limit (1000 frames) and sums far
wider than the Python compiler's nesting limit; the `slow` one is the issue's million operations.
"""

import sys

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import autodiff, symbolic
from symgrad.check import finite_difference
from symgrad.dag import op_count
from symgrad.lowering.scalar import MAX_WIDTH

K = 4  # parameters cycle through K pairs (a_k, c_k), so gradients accumulate many terms


def chain(steps):
    """h_{t+1} = σ(a_{t mod K}·h_t + c_{t mod K}·x), loss (h_T − y)²: depth ≈ 3·steps.

    Built unevaluated (as large generated models are): sympy's evaluating constructors query
    assumptions recursively, which is the caller's side of the line, not symgrad's.
    """
    a = sp.symbols(f"a0:{K}", real=True)
    c = sp.symbols(f"c0:{K}", real=True)
    x, y = sp.symbols("x y", real=True)
    h = x
    for t in range(steps):
        z = sp.Add(sp.Mul(a[t % K], h, evaluate=False), sp.Mul(c[t % K], x, evaluate=False), evaluate=False)
        h = symgrad.sigmoid(z, evaluate=False)
    loss = sp.Pow(sp.Add(h, sp.Mul(-1, y, evaluate=False), evaluate=False), 2, evaluate=False)
    return loss, list(a + c), [x, y]


def chain_values(params, inputs):
    rng = np.random.default_rng(0)
    values = {p: float(v) for p, v in zip(params, rng.normal(scale=0.8, size=len(params)))}
    x, y = inputs
    values.update({x: rng.normal(size=5), y: rng.uniform(size=5)})
    return values


def wide(terms):
    """Σ_i σ(w_i·x_i + b)² with `terms` parameters: one Add with thousands of operands."""
    w = sp.symbols(f"w0:{terms}", real=True)
    xs = sp.symbols(f"x0:{terms}", real=True)
    b = sp.Symbol("b", real=True)
    loss = sp.Add(*[symgrad.sigmoid(wi * xi + b) ** 2 for wi, xi in zip(w, xs)])
    return loss, [*w, b], list(xs)


def test_chain_deeper_than_the_recursion_limit_derives_compiles_and_agrees():
    steps = 1500
    loss, params, inputs = chain(steps)
    assert op_count([loss]) > 3 * sys.getrecursionlimit()
    values = chain_values(params, inputs)

    reference = autodiff.grad(loss, params, values)
    symbolic_grad = symbolic.grad(loss, params)
    assert op_count(symbolic_grad) <= 4 * op_count([loss])
    kernel = symgrad.compile(loss, wrt=params, inputs=inputs)
    np.testing.assert_allclose(kernel.grad(values), reference, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(finite_difference(loss, params, values), reference, rtol=1e-5, atol=1e-7)
    per_sample = kernel.per_sample_grad(values)
    np.testing.assert_allclose(per_sample.sum(axis=0), reference, rtol=1e-9, atol=1e-12)


def test_sum_wider_than_the_compiler_nesting_limit_compiles_and_agrees():
    loss, params, inputs = wide(1200)
    rng = np.random.default_rng(1)
    values = {p: float(v) for p, v in zip(params, rng.normal(size=len(params)))}
    values.update({x: rng.normal(size=3) for x in inputs})
    kernel = symgrad.compile(loss, wrt=params, inputs=inputs)
    widest = max(line.count(" + ") for line in kernel.source.splitlines())
    assert widest < MAX_WIDTH, "wide sums are split into partial sums of at most MAX_WIDTH terms"
    np.testing.assert_allclose(kernel.grad(values), autodiff.grad(loss, params, values), rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_a_million_operation_expression_derives_and_generates():
    from symgrad.lowering import lower
    from symgrad.runtime import load_module
    from symgrad.targets.numpy.scalar import render_numpy

    loss, params, inputs = chain(334_000)
    assert op_count([loss]) >= 1_000_000
    grads = symbolic.grad(loss, params)
    ir = lower("million", loss, grads, [], inputs, params)
    source = render_numpy(ir)
    module = load_module(source, "million")
    values = chain_values(params, inputs)
    args = [values[s] for s in inputs] + [values[p] for p in params]
    _, got = module.loss_and_grad_vectorized(*args)
    np.testing.assert_allclose(got, autodiff.grad(loss, params, values), rtol=1e-8, atol=1e-12)
