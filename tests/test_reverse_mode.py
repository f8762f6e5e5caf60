"""Symbolic reverse mode: the gradient stays a small multiple of the forward pass and agrees with
per-parameter sympy.diff, numeric autodiff and finite differences."""

import numpy as np
import pytest

from symgrad import autodiff, nn, symbolic
from symgrad.check import finite_difference
from symgrad.dag import op_count
from symgrad.numeric import evaluate


@pytest.mark.parametrize("sizes", [[4, 3, 1], [4, 16, 16, 1], [8, 32, 32, 1]])
def test_reverse_gradient_is_at_most_three_times_the_forward_op_count(sizes):
    model = nn.mlp(sizes)
    forward = op_count([model.loss])
    gradient = op_count(symbolic.grad(model.loss, list(model.params)))
    assert gradient <= 3 * forward, f"{gradient} gradient ops for {forward} forward ops"


@pytest.mark.parametrize("sizes,activation", [([4, 3, 1], "sigmoid"), ([3, 5, 1], "tanh"), ([2, 4, 2], "softplus")])
def test_reverse_and_diff_agree_with_autodiff_and_finite_differences(sizes, activation):
    model = nn.mlp(sizes, activation=activation)
    params = list(model.params)
    rng = np.random.default_rng(0)
    values = {**model.initial_values(), **{s: rng.normal(size=5) for s in model.inputs},
              **{s: rng.uniform(size=5) for s in model.targets}}
    bound = {k: np.asarray(v, dtype=float) for k, v in values.items()}
    reference = autodiff.grad(model.loss, params, values)
    for method in ("reverse", "diff"):
        got = [float(np.sum(v)) for v in evaluate(symbolic.grad(model.loss, params, method=method), bound)]
        np.testing.assert_allclose(got, reference, rtol=1e-10, atol=1e-12, err_msg=method)
    np.testing.assert_allclose(finite_difference(model.loss, params, values), reference, rtol=1e-5, atol=1e-7)
