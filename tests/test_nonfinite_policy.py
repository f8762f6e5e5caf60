"""One non-finite policy for every kind of kernel (`symgrad.runtime.check_finite`).

Matrix kernels once returned a NaN loss with a finite gradient and no error while scalar kernels
raised. Every numeric entry point of every kernel kind takes `nonfinite=`: "raise" gives our
`NonFiniteError` naming what came out NaN or Inf, "propagate" the IEEE values.
"""

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad.errors import NonFiniteError
from symgrad.matrix import SumAll
from symgrad.matrix.hessian_kernel import compile_hessian

X, W = sp.MatrixSymbol("X", 3, 2), sp.MatrixSymbol("W", 2, 1)
v = sp.MatrixSymbol("v", 2, 1)
LOG_LOSS = SumAll((X * W).applyfunc(sp.log))  # log of a negative entry: NaN loss, finite gradient
ROOT_LOSS = SumAll((X * W).applyfunc(sp.sqrt))  # NaN loss, gradient and second derivatives
NEGATIVE = {X: -np.ones((3, 2)), W: np.ones((2, 1))}
POSITIVE = {X: np.ones((3, 2)), W: np.ones((2, 1))}


def _matrix_calls():
    kernel = symgrad.compile(ROOT_LOSS, wrt=[W], inputs=[X], outputs=[(X * W).applyfunc(sp.sqrt)], cache=False)
    hessian = compile_hessian(ROOT_LOSS, [W], [X])
    return {
        "matrix loss": lambda values, p: kernel.loss(values, nonfinite=p),
        "matrix loss_and_grad": lambda values, p: kernel.loss_and_grad(values, nonfinite=p),
        "matrix grad": lambda values, p: kernel.grad(values, nonfinite=p),
        "matrix predict": lambda values, p: kernel.predict(values, nonfinite=p),
        "hessian loss_and_grad": lambda values, p: hessian.loss_and_grad(values, nonfinite=p),
        "hessian": lambda values, p: hessian.hessian(values, nonfinite=p),
        "hvp": lambda values, p: hessian.hvp(values, [np.ones((2, 1))], nonfinite=p),
    }


CALLS = _matrix_calls()


@pytest.mark.parametrize("entry", sorted(CALLS))
def test_matrix_entry_point_raises_our_error_on_a_nan_result(entry):
    with pytest.raises(NonFiniteError, match="NaN or Inf"):
        CALLS[entry](NEGATIVE, "raise")


@pytest.mark.parametrize("entry", sorted(CALLS))
def test_matrix_entry_point_propagates_ieee_values_when_asked(entry):
    out = CALLS[entry](NEGATIVE, "propagate")
    flat = np.concatenate([np.ravel(np.asarray(o, dtype=float)) for o in (out if isinstance(out, (list, tuple)) else [out])
                           for o in (o if isinstance(o, list) else [o])])
    assert not np.all(np.isfinite(flat))


@pytest.mark.parametrize("entry", sorted(CALLS))
def test_matrix_entry_point_is_quiet_where_the_results_are_finite(entry):
    CALLS[entry](POSITIVE, "raise")


def test_matrix_loss_and_grad_names_the_non_finite_result():
    kernel = symgrad.compile(LOG_LOSS, wrt=[W], inputs=[X], cache=False)
    with pytest.raises(NonFiniteError, match="for loss from") as error:  # the gradient 1/W is finite here
        kernel.loss_and_grad(NEGATIVE)
    assert "d/dW" not in str(error.value)
    _, (grad,) = kernel.loss_and_grad(NEGATIVE, nonfinite="propagate")
    np.testing.assert_allclose(grad, [[1.5], [1.5]])  # Σ_i X_ij / (XW)_i = 3 · (−1)/(−2)
