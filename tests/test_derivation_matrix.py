"""Matrix-level derivation documents: the documented δ matrices and gradients are the right numbers
(against matrix autodiff and the generated kernel), each step cites the kernel line computing it,
and the documents render and compile."""

import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import nn
from symgrad.cli import main as cli
from symgrad.derivation import derive
from symgrad.errors import UnsupportedError
from symgrad.matrix import autodiff as matrix_autodiff
from symgrad.matrix.evaluate import evaluate
from symgrad.matrix.graph import matrix_symbols
from symgrad.matrix.kernel import build_matrix_ir
from symgrad.matrix.layers import SumAll
from symgrad.values import bind

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "derivations"

ARCHITECTURES = {
    # the output layer's Z is absorbed into Z − Y by sympy's flattening of sums
    "tanh_squared_error_sum": lambda: nn.matrix_mlp([3, 4, 2], "tanh", loss="squared_error", mean=False),
    "relu_sigmoid_output_mse": lambda: nn.matrix_mlp([2, 5, 1], "relu", output_activation="sigmoid",
                                                     loss="squared_error"),
    "three_layer_sigmoid_softmax": lambda: nn.matrix_mlp([3, 5, 4, 3], "sigmoid", loss="softmax_cross_entropy"),
}


def load_example(stem):
    spec = importlib.util.spec_from_file_location(f"derivation_example_{stem}", EXAMPLES / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def batch_values(model, n=6, seed=1):
    """Initial weights moved off their start, random biases, a random batch and one-hot-ish targets."""
    rng = np.random.default_rng(seed)
    values = {p: v + 0.3 * rng.normal(size=v.shape) for p, v in model.initial_values().items()}
    (X,), (Y,) = model.inputs, model.targets
    values[X] = rng.normal(size=(n, int(X.shape[1])))
    values[Y] = rng.dirichlet(np.ones(int(Y.shape[1])), size=n)
    return values


def numbers(exprs, values):
    """Each matrix expression evaluated at `values` (the model's symbols bound)."""
    symbols = sorted(matrix_symbols(exprs) | set(values), key=str)
    bound, sizes = bind(symbols, values)
    return evaluate(exprs, bound, sizes)


def assert_documented_gradients_match(derivation, values):
    model, steps = derivation.model, derivation.steps
    reference = matrix_autodiff.grad(model.loss, list(model.params), values)
    closed = numbers([steps.expand(g.closed) for g in steps.gradients], values)
    via_delta = numbers([steps.expand(g.via_delta) for g in steps.gradients], values)
    for p, ref, c, v in zip(model.params, reference, closed, via_delta, strict=True):
        np.testing.assert_allclose(c, ref, rtol=1e-10, atol=1e-12, err_msg=str(p))
        np.testing.assert_allclose(v, ref, rtol=1e-10, atol=1e-12, err_msg=str(p))
    kernel = symgrad.compile(model)
    for p, got, ref in zip(model.params, kernel.grad(values), reference, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12, err_msg=str(p))


def test_matrix_example_writes_documents_whose_gradients_match_autodiff(tmp_path):
    derivation = load_example("matrix_mlp").main(tmp_path)
    md = (tmp_path / "matrix_mlp.md").read_text()
    assert md.startswith("# Derivation") and md.count("$$") % 2 == 0
    assert (tmp_path / "matrix_mlp.tex").read_text().startswith("\\documentclass")
    assert_documented_gradients_match(derivation, batch_values(derivation.model))


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_other_architectures_document_gradients_that_match_autodiff(name):
    derivation = derive(ARCHITECTURES[name]())
    assert_documented_gradients_match(derivation, batch_values(derivation.model, seed=3))


@pytest.mark.parametrize("name", ["matrix_mlp", *sorted(ARCHITECTURES)])
def test_documented_deltas_are_the_kernels_adjoints_and_cite_their_lines(name):
    model = load_example(name).build() if name == "matrix_mlp" else ARCHITECTURES[name]()
    derivation = derive(model)
    steps = derivation.steps
    adjoints = {}
    build_matrix_ir(model.loss, list(model.params), list(model.data), model.outputs, model.name, adjoints=adjoints)
    values = batch_values(model, seed=2)
    documented = numbers([steps.expand(d.recurrence) for d in steps.deltas], values)
    kernel = numbers([adjoints[d.layer.product] for d in steps.deltas], values)
    for d, got, want in zip(steps.deltas, documented, kernel, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=f"delta {d.layer.index}")
    # each δ step cites the line assigning the kernel's d_z<l>, each gradient the line assigning d_<param>
    delta_section = derivation.sections[2]
    for d, step in zip(steps.deltas, delta_section.steps, strict=True):
        assert step.code and step.code[-1].text.startswith(f"d_z{d.layer.index} = ")
    for i, step in enumerate(derivation.sections[3].steps):
        assert [c.text.split(" = ")[0] for c in step.code] == [derivation.codemap.ir.grads[i]]


def test_matrix_document_states_the_textbook_recurrences():
    text = derive(load_example("matrix_mlp").build()).markdown()
    # δ1 = (δ2 W2ᵀ) ⊙ tanh'(Z1), the gradients Xᵀ δ1 and 1ᵀ δ1, each beside the code computing it
    assert r"\delta_{1} = \frac{\partial E}{\partial Z_{1}} = \left(\delta_{2} W_{2}^{T}\right) \odot \left(1 - H_{1}^{\circ 2}\right)" in text
    assert r"\frac{\partial E}{\partial W_{1}} = X^{T} \delta_{1}" in text
    assert r"\frac{\partial E}{\partial b_{1}} = \mathbf{1}^{T} \delta_{1}" in text
    assert r"Z_{1} = X W_{1} + \mathbf{1} b_{1}" in text
    assert text.count("z1 = X @ W1") == 2  # beside Z1's definition, and in the appendix listing
    for line in ["d_h1 = d_z2 @ W2.T", "d_W1 = X.T @ d_z1", "d_b1 = column_sums(d_z1)"]:
        assert text.count(line) == 3  # beside the layer's local rule, its δ or gradient, and in the listing


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_matrix_latex_document_compiles_with_pdflatex(tmp_path):
    tex = tmp_path / "matrix.tex"
    tex.write_text(derive(ARCHITECTURES["relu_sigmoid_output_mse"]()).latex())
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", tex.name],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "matrix.pdf").stat().st_size > 1000


def test_matrix_model_that_is_not_dense_layers_is_named_in_the_error():
    N = sp.Symbol("N", integer=True, positive=True)
    X, W = sp.MatrixSymbol("X", N, 2), sp.MatrixSymbol("W", 2, 2)
    model = nn.Model("squared_weights", SumAll(X * W * W), (W,), (X,), (), (X * W * W,), {})
    with pytest.raises(UnsupportedError, match="squared_weights.*dense layers|dense layers.*squared_weights"):
        derive(model)


def test_matrix_symbol_names_cannot_inject_tex():
    N = sp.Symbol("N", integer=True, positive=True)
    X, W = sp.MatrixSymbol(r"\input{x}", N, 2), sp.MatrixSymbol("W$}\\def", 2, 1)
    Y = sp.MatrixSymbol("Y", N, 1)
    model = nn.Model("evil", SumAll(sp.HadamardPower(X * W - Y, 2)), (W,), (X,), (Y,), (X * W,), {})
    text = derive(model).latex()
    assert r"\input" not in text and r"\def" not in text
    values = {X: np.ones((3, 2)), W: np.ones((2, 1)), Y: np.zeros((3, 1))}
    (grad,) = symgrad.compile(model).grad(values)  # the generated module's names are escaped too
    np.testing.assert_allclose(grad, [[12.0], [12.0]])


def test_cli_derives_a_matrix_model_from_a_file(tmp_path, capsys):
    source = tmp_path / "two_layer.py"
    source.write_text("from symgrad import nn\nmodel = nn.matrix_mlp([2, 3, 2], 'sigmoid', name='two_layer')\n")
    assert cli(["derive", str(source)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Derivation of the gradient of `two_layer`") and "d_z1 = np.multiply(np.multiply(d_h1, h1, out=d_h1), 1 - h1, out=d_h1)" in out
