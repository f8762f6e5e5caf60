"""Hessians and Hessian-vector products: symbolic (reverse-over-reverse), generated kernels,
numeric forward-over-reverse autodiff, finite differences of the gradient, and PyTorch."""

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import autodiff, models, nn
from symgrad.dag import op_count
from symgrad.numeric import evaluate

MODELS = {
    "seed 4-3-1 sigmoid, squared error": lambda: models.seed(),
    "4-5-2 tanh/softplus, squared error": lambda: nn.mlp([4, 5, 2], activation="tanh", output_activation="softplus"),
    "3-4-1 logits, cross-entropy": lambda: nn.mlp([3, 4, 1], activation="sigmoid", output_activation="identity",
                                                  loss="binary_cross_entropy_with_logits"),
    "perceptron, softmax cross-entropy (logsumexp)": lambda: models.perceptron(),
}


def values_for(model, n=6, seed=0):
    rng = np.random.default_rng(seed)
    values = {p: float(v) for p, v in zip(model.params, rng.normal(scale=0.7, size=len(model.params)), strict=True)}
    values.update({s: rng.normal(size=n) for s in model.inputs})
    values.update({s: rng.uniform(size=n) for s in model.targets})
    return values


def fd_hessian(model, values, h=1e-5):
    """Central differences of the autodiff gradient, one column per parameter."""
    params = list(model.params)
    columns = []
    for p in params:
        plus, minus = dict(values), dict(values)
        plus[p] += h
        minus[p] -= h
        columns.append((np.array(autodiff.grad(model.loss, params, plus)) - np.array(autodiff.grad(model.loss, params, minus))) / (2 * h))
    return np.array(columns).T


def symbolic_value(rows, values):
    bound = {k: np.asarray(v, dtype=float) for k, v in values.items()}
    return np.array([[float(np.sum(x)) for x in evaluate(row, bound)] for row in rows])


@pytest.fixture(params=sorted(MODELS), scope="module")
def case(request):
    model = MODELS[request.param]()
    return model, values_for(model)


def test_symbolic_hessian_matches_forward_over_reverse_and_finite_differences(case):
    model, values = case
    params = list(model.params)
    reference = autodiff.hessian(model.loss, params, values)
    np.testing.assert_allclose(reference, reference.T, atol=1e-12)
    np.testing.assert_allclose(fd_hessian(model, values), reference, rtol=1e-5, atol=1e-7)
    got = symbolic_value(symgrad.hessian(model.loss, params), values)
    np.testing.assert_allclose(got, reference, rtol=1e-9, atol=1e-12)


def test_hessian_matches_pytorch(case):
    torch = pytest.importorskip("torch", reason="PyTorch is the optional third reference")
    from symgrad.numeric import TorchBackend

    model, values = case
    params = list(model.params)
    data = {s: torch.tensor(values[s], dtype=torch.float64) for s in (*model.inputs, *model.targets)}

    def loss(theta):
        bound = dict(data)
        bound.update({p: theta[i] for i, p in enumerate(params)})
        (out,) = evaluate([model.loss], bound, TorchBackend())
        return out.sum()

    theta = torch.tensor([values[p] for p in params], dtype=torch.float64)
    expected = torch.autograd.functional.hessian(loss, theta).numpy()
    np.testing.assert_allclose(autodiff.hessian(model.loss, params, values), expected, rtol=1e-9, atol=1e-12)


def test_hvp_symbolic_autodiff_and_generated_agree_in_random_directions(case):
    model, values = case
    params = list(model.params)
    H = autodiff.hessian(model.loss, params, values)
    kernel = symgrad.compile_hessian(model)
    np.testing.assert_allclose(kernel.hessian(values), H, rtol=1e-9, atol=1e-12)
    rng = np.random.default_rng(3)
    for _ in range(3):
        v = rng.normal(size=len(params))
        expected = H @ v
        np.testing.assert_allclose(autodiff.hvp(model.loss, params, values, v), expected, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(kernel.hvp(values, v), expected, rtol=1e-9, atol=1e-12)
        sym = symgrad.hvp(model.loss, params, [sp.Float(x) for x in v])
        np.testing.assert_allclose(symbolic_value([sym], values)[0], expected, rtol=1e-9, atol=1e-12)


def test_hvp_costs_a_small_constant_times_the_gradient():
    model = nn.mlp([4, 16, 16, 1])
    params = list(model.params)
    directions = sp.symbols(f"v0:{len(params)}", real=True)
    gradient_ops = op_count(symgrad.grad(model.loss, params))
    hvp_ops = op_count(symgrad.hvp(model.loss, params, directions))
    assert hvp_ops <= 4 * gradient_ops


def test_hvp_rejects_a_direction_of_the_wrong_length_or_depending_on_the_parameters():
    w, x = sp.symbols("w x")
    with pytest.raises(symgrad.ShapeError, match="2 entries but there are 1"):
        symgrad.hvp(w**3 * x, [w], [1, 2])
    with pytest.raises(symgrad.InvalidArgumentError, match="must not depend on the parameters, but mentions w"):
        symgrad.hvp(w**3 * x, [w], [w])
    with pytest.raises(symgrad.ShapeError, match="2 entries"):
        autodiff.hvp(w**3 * x, [w], {w: 1.0, x: 2.0}, [1.0, 2.0])


def test_closed_form_hessian_of_a_cubic():
    """f = w³x + w·b²: ∂²f/∂w² = 6wx, ∂²f/∂w∂b = 2b, ∂²f/∂b² = 2w (by hand)."""
    w, b, x = sp.symbols("w b x")
    f = w**3 * x + w * b**2
    values = {w: 0.5, b: -1.5, x: 2.0}
    expected = np.array([[6 * 0.5 * 2.0, 2 * -1.5], [2 * -1.5, 2 * 0.5]])
    np.testing.assert_allclose(symbolic_value(symgrad.hessian(f, [w, b]), values), expected, rtol=1e-12)
    np.testing.assert_allclose(autodiff.hessian(f, [w, b], values), expected, rtol=1e-12)
    kernel = symgrad.compile_hessian(f, wrt=[w, b], inputs=[x])
    np.testing.assert_allclose(kernel.hessian(values), expected, rtol=1e-12)
