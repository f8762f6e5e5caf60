"""Derivation documents: the documented δ terms and gradients are the right numbers, and cite the
lines of the generated module that compute them; the documents render and compile."""

import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import autodiff, models, nn
from symgrad.cli import main as cli
from symgrad.dag import op_count
from symgrad.derivation import derive
from symgrad.ir import Assign
from symgrad.numeric import evaluate
from symgrad.values import bind

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "derivations"
SCALAR_EXAMPLES = ["seed_mlp", "perceptron_softmax"]


def load_example(stem):
    spec = importlib.util.spec_from_file_location(f"derivation_example_{stem}", EXAMPLES / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def batch_values(model, n=7, seed=1):
    """Initial parameters moved off their symmetric start, and a random batch of data."""
    rng = np.random.default_rng(seed)
    values = {p: v + 0.3 * rng.normal() for p, v in model.initial_values().items()}
    values.update({s: rng.normal(size=n) for s in model.inputs})
    values.update({s: rng.uniform(size=n) for s in model.targets})
    return values


def per_sample(exprs, values, n=7):
    """Each expression evaluated for every sample of the batch (a list of length-n arrays)."""
    symbols = sorted(set().union(*(e.free_symbols for e in exprs)) | set(values), key=str)
    bound, _ = bind(symbols, values)
    return [np.broadcast_to(v, (n,)) for v in evaluate(exprs, bound)]


@pytest.mark.parametrize("stem", SCALAR_EXAMPLES)
def test_example_script_writes_documents_whose_gradients_match_autodiff(stem, tmp_path):
    derivation = load_example(stem).main(tmp_path)
    assert (tmp_path / f"{stem}.md").read_text().startswith("# Derivation")
    assert (tmp_path / f"{stem}.tex").read_text().startswith("\\documentclass")
    model, steps = derivation.model, derivation.steps
    values = batch_values(model)
    documented = per_sample([steps.expand(g.closed) for g in steps.gradients], values)
    via_delta = per_sample([steps.expand(g.via_delta) for g in steps.gradients], values)
    reference = autodiff.grad(model.loss, list(model.params), values)
    np.testing.assert_allclose([d.sum() for d in documented], reference, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(via_delta, documented, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("stem", SCALAR_EXAMPLES)
def test_cited_lines_compute_the_documented_deltas_and_gradients(stem):
    derivation = derive(load_example(stem).build())
    model, steps = derivation.model, derivation.steps
    values = batch_values(model, seed=2)
    # the δ the document states equals the kernel's adjoint it cites
    deltas = per_sample([steps.expand(d.closed) for d in steps.deltas], values)
    adjoints = per_sample([d.adjoint for d in steps.deltas], values)
    np.testing.assert_allclose(deltas, adjoints, rtol=1e-10, atol=1e-12)
    # the generated module's per-sample gradients equal the documented closed forms
    kernel = symgrad.compile(model)
    documented = per_sample([steps.expand(g.closed) for g in steps.gradients], values)
    np.testing.assert_allclose(kernel.per_sample_grad(values), np.stack(documented, axis=1), rtol=1e-10, atol=1e-12)
    for i in range(len(steps.gradients)):
        lines = derivation.codemap.of_gradient(i)
        assert [c.text.split(" = ")[0] for c in lines] == [kernel.ir.summand(kernel.ir.grads[i]), kernel.ir.grads[i]]


def test_seed_document_states_the_textbook_steps():
    text = derive(models.seed()).markdown()
    assert r"\frac{d}{d z} \sigma\left(z\right) = \left(1 - \sigma\left(z\right)\right) \sigma\left(z\right)" in text
    # δ(1)_0 = δ(2)_0 · W(2)_{0,0} · h(1)_0 (1 − h(1)_0)
    delta = next(line for line in text.splitlines() if line.startswith(r"\delta^{(1)}_{0}"))
    for factor in [r"\delta^{(2)}_{0}", r"W^{(2)}_{0,0}", r"h^{(1)}_{0}", r"\left(1 - h^{(1)}_{0}\right)"]:
        assert factor in delta
    assert text.count("$$") % 2 == 0
    for p in models.seed().params:
        assert f"d_{p} = " in text  # every parameter's batch-sum line is cited


def test_every_kernel_temporary_traces_back_to_the_sympy_node_it_computes():
    model = models.seed()
    ir = symgrad.compile(model).ir
    own = {}  # temporary -> the outermost node its statement computes
    for node, target in ir.origins.items():
        if target not in own or op_count([node]) > op_count([own[target]]):
            own[target] = node
    assigns = [st for st in ir.statements if isinstance(st, Assign)]  # the batch sums are `Reduce`s
    assert set(own) == {st.target for st in assigns}
    back = {sp.Symbol(t): n for t, n in own.items()} | {sp.Symbol(v.ident): v.symbol for v in ir.args}
    values = batch_values(model, seed=3)
    for st in assigns:
        (kernel_value, node_value) = per_sample([st.expr.xreplace(back), own[st.target]], values)
        np.testing.assert_allclose(kernel_value, node_value, rtol=1e-12, err_msg=st.target)
    assert ir.origins[model.loss] == ir.summand(ir.loss)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("name", ["seed", "perceptron"])
def test_latex_document_compiles_with_pdflatex(name, tmp_path):
    tex = tmp_path / f"{name}.tex"
    tex.write_text(derive(models.load(name)).latex())
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", tex.name],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / f"{name}.pdf").stat().st_size > 1000


def test_symbol_names_cannot_inject_tex():
    x, w, y = sp.Symbol(r"\input{secret}"), sp.Symbol("w$}\\def"), sp.Symbol("y")
    model = nn.Model("evil}\\input{x}", (symgrad.sigmoid(w * x) - y) ** 2, (w,), (x,), (y,), (symgrad.sigmoid(w * x),),
                     {w: 0.5})
    text = derive(model).latex()
    assert r"\input" not in text and r"\def" not in text


def test_notebook_representations():
    derivation = derive(models.perceptron())
    assert derivation._repr_markdown_() == derivation.markdown()
    latex = derivation._repr_latex_()
    assert latex.startswith("$$") and r"\ell^{(1)}" in latex and "verbatim" not in latex


def test_cli_derive_writes_the_chosen_format(tmp_path, capsys):
    out = tmp_path / "seed.tex"
    assert cli(["derive", "seed", "--format", "latex", "-o", str(out)]) == 0
    assert out.read_text().startswith("\\documentclass")
    assert cli(["derive", "perceptron"]) == 0
    assert capsys.readouterr().out.count("## ") == 5
    assert cli(["derive", "no-such-model"]) == 2


VARIANTS = {
    "deep_tanh_softmax": lambda: nn.mlp([3, 4, 3, 2], "tanh", output_activation="identity", loss="softmax_cross_entropy"),
    "relu_bce": lambda: nn.mlp([2, 3, 1], "relu", output_activation="sigmoid", loss="binary_cross_entropy"),
    "softplus_logits": lambda: nn.mlp([2, 3, 1], "softplus", output_activation="identity",
                                      loss="binary_cross_entropy_with_logits"),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_derivation_of_other_architectures_matches_autodiff(name):
    model = VARIANTS[name]()
    steps = derive(model).steps
    values = batch_values(model, seed=4)
    documented = per_sample([steps.expand(g.closed) for g in steps.gradients], values)
    reference = autodiff.grad(model.loss, list(model.params), values)
    np.testing.assert_allclose([d.sum() for d in documented], reference, rtol=1e-9, atol=1e-12)
    deltas = per_sample([steps.expand(d.closed) for d in steps.deltas], values)
    np.testing.assert_allclose(deltas, per_sample([d.adjoint for d in steps.deltas], values), rtol=1e-9, atol=1e-12)
    layers = {int(str(p)[1]) for p in model.params}  # W{layer}_i_j, b{layer}_j
    assert {d.stage.layer for d in steps.deltas} == layers
