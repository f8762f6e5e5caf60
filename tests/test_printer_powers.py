"""Squares printed as products keep their meaning inside quotients (regression: `1/t**2` → `1/t*t`)."""

import numpy as np
import sympy as sp

import symgrad


def test_gradient_through_a_squared_denominator_matches_the_closed_form():
    a, c, x = sp.symbols("a c x", real=True)
    kernel = symgrad.compile(1 / (1 + c**2) + a * x, wrt=[a, c], inputs=[x])
    n, cv = 50, 0.7
    values = {x: np.linspace(-1.0, 1.0, n), a: 0.3, c: cv}
    # d/dc of n copies of 1/(1 + c²) is n · (−2c / (1 + c²)²)
    assert np.isclose(kernel.grad(values)[1], n * (-2 * cv / (1 + cv**2) ** 2), rtol=1e-14)


def test_quotient_by_a_square_in_the_per_sample_loop_matches_the_closed_form():
    w, x = sp.symbols("w x", real=True)
    kernel = symgrad.compile(x / w**2, wrt=[w], inputs=[x])
    values = {x: np.array([1.0, 2.0, 3.0]), w: 2.0}  # small batch: the per-sample loop path
    assert np.isclose(kernel.loss(values), 6.0 / 4.0, rtol=1e-15)
    assert np.isclose(kernel.grad(values)[0], -2 * 6.0 / 8.0, rtol=1e-15)
