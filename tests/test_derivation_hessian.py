"""The logistic-regression derivation: its documented gradient and Hessian, per sample and in the
matrix forms X̃ᵀ(p − y) and X̃ᵀ diag(p(1 − p)) X̃, against autodiff, finite differences of the
gradient, symgrad.hessian and torch.autograd.functional.hessian."""

import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from symgrad import autodiff, models
from symgrad.derivation import derive
from symgrad.derivation.hessian import linear_model_form
from symgrad.errors import UnsupportedError
from symgrad.numeric import evaluate
from symgrad.second_order import hessian
from symgrad.values import bind

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "derivations" / "logistic_regression.py"
N = 9


def load_example():
    spec = importlib.util.spec_from_file_location("derivation_example_logistic_regression", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def batch_values(model, seed=0):
    rng = np.random.default_rng(seed)
    values = {p: 0.7 * rng.normal() for p in model.params}
    values.update({s: rng.normal(size=N) for s in model.inputs})
    values.update({s: rng.integers(0, 2, size=N).astype(float) for s in model.targets})
    return values


def per_sample(exprs, values):
    symbols = sorted(set().union(*(e.free_symbols for e in exprs)) | set(values), key=str)
    bound, _ = bind(symbols, values)
    return [np.broadcast_to(v, (N,)) for v in evaluate(exprs, bound)]


def gradient_by_autodiff(model, values, theta):
    return np.array(autodiff.grad(model.loss, list(model.params), {**values, **dict(zip(model.params, theta, strict=True))}))


@pytest.fixture(scope="module")
def documented(tmp_path_factory):
    out = tmp_path_factory.mktemp("logistic")
    derivation = load_example().main(out)
    model = derivation.model
    values = batch_values(model)
    form = linear_model_form(derivation)
    X_tilde = np.stack(per_sample(list(form.features), values), axis=1)  # rows x̃_nᵀ
    delta, c = per_sample([form.delta, form.curvature], values)
    return derivation, values, X_tilde, delta, c, (out / "logistic_regression.md").read_text(), out


def test_document_states_the_matrix_forms(documented):
    text = documented[5]
    assert r"\tilde{X}^{T} \left(- y_{0} + p\right)" in text
    assert r"\tilde{X}^{T} \operatorname{diag}\left(p \odot \left(1 - p\right)\right) \tilde{X}" in text
    assert r"p = \sigma\left(z^{(1)}_{0}\right)" in text and text.count("$$") % 2 == 0


def test_gradient_in_matrix_form_matches_autodiff(documented):
    derivation, values, X_tilde, delta, *_ = documented
    model = derivation.model
    reference = autodiff.grad(model.loss, list(model.params), values)
    np.testing.assert_allclose(X_tilde.T @ delta, reference, rtol=1e-12, atol=1e-13)
    # and with p and y computed directly: X̃ᵀ(p − y), p = σ(X̃θ)
    theta = np.array([values[p] for p in model.params])
    p = 1 / (1 + np.exp(-(X_tilde @ theta)))
    np.testing.assert_allclose(X_tilde.T @ (p - values[model.targets[0]]), reference, rtol=1e-12, atol=1e-13)


def test_hessian_in_matrix_form_matches_finite_differences_of_the_gradient(documented):
    derivation, values, X_tilde, _, c, *_ = documented
    model = derivation.model
    H = X_tilde.T @ np.diag(c) @ X_tilde
    theta = np.array([values[p] for p in model.params])
    step, fd = 1e-5, []
    for k in range(len(theta)):
        e = np.zeros_like(theta)
        e[k] = step
        fd.append((gradient_by_autodiff(model, values, theta + e) - gradient_by_autodiff(model, values, theta - e)) / (2 * step))
    np.testing.assert_allclose(H, np.array(fd).T, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(H, H.T)
    assert np.all(np.linalg.eigvalsh(H) > -1e-12)  # logistic loss is convex


def test_hessian_in_matrix_form_matches_symgrad_hessian_summed(documented):
    derivation, values, X_tilde, _, c, *_ = documented
    model = derivation.model
    rows = hessian(model.loss, list(model.params))
    summed = np.array([[v.sum() for v in per_sample(row, values)] for row in rows])
    np.testing.assert_allclose(X_tilde.T @ np.diag(c) @ X_tilde, summed, rtol=1e-12, atol=1e-13)


def test_hessian_in_matrix_form_matches_torch(documented):
    torch = pytest.importorskip("torch", reason="the torch extra is not installed")
    derivation, values, X_tilde, _, c, *_ = documented
    model = derivation.model
    X = torch.tensor(np.stack([values[s] for s in model.inputs], axis=1))
    y = torch.tensor(values[model.targets[0]])

    def loss(theta):  # written in torch independently: Σ softplus(z) − y·z, z = X w + b
        z = X @ theta[:-1] + theta[-1]
        return (torch.nn.functional.softplus(z) - y * z).sum()

    theta = torch.tensor([values[p] for p in model.params], dtype=torch.float64)
    reference = torch.autograd.functional.hessian(loss, theta).numpy()
    np.testing.assert_allclose(X_tilde.T @ np.diag(c) @ X_tilde, reference, rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_document_with_the_hessian_compiles(documented):
    out = documented[-1]
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
                          "logistic_regression.tex"], cwd=out, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]


def test_matrix_form_is_refused_for_a_model_with_hidden_layers():
    with pytest.raises(UnsupportedError, match="seed.*pre-activations"):
        linear_model_form(derive(models.seed()))
