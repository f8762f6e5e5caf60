"""`symgrad compare`: the mpmath reference is right, and the report measures both paths."""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from matplotlib.figure import Figure

from symgrad import autodiff, nn
from symgrad.cli import main as cli
from symgrad.comparison import compare
from symgrad.comparison.measure import sample_values
from symgrad.comparison.reference import max_relative_error, reference_gradient
from symgrad.errors import InvalidArgumentError


def test_reference_gradient_is_exact_for_a_hand_derived_loss():
    x, y, w, b = sp.symbols("x y w b", real=True)
    model = nn.Model("line", (w * x + b - y) ** 2, (w, b), (x,), (y,), (w * x + b,), {w: 0.0, b: 0.0})
    xs, ys, wv, bv = [0.5, -1.25, 3.0], [0.1, 0.7, -2.0], 0.3, -0.2
    values = {x: np.array(xs), y: np.array(ys), w: wv, b: bv}
    F = Fraction
    residual = [F(wv) * F(xi) + F(bv) - F(yi) for xi, yi in zip(xs, ys, strict=True)]
    exact = [sum(2 * r * F(xi) for r, xi in zip(residual, xs, strict=True)), sum(2 * r for r in residual)]
    got = reference_gradient(model, values)
    assert got.tolist() == [float(e) for e in exact]  # correctly rounded from 50 digits


def test_reference_gradient_agrees_with_autodiff_on_softmax_mlp():
    model = nn.mlp([2, 3, 2], activation="tanh", output_activation="identity", loss="softmax_cross_entropy")
    values = sample_values(model, 5)
    ref = reference_gradient(model, values)
    assert max_relative_error(autodiff.grad(model.loss, list(model.params), values), ref) < 1e-12


def test_max_relative_error_skips_gradients_that_are_zero_at_reference():
    assert abs(max_relative_error([1.0, 2.0 + 2e-10, 1e-30], [1.0, 2.0, 0.0]) - 1e-10) < 1e-15


def test_compare_measures_both_paths_across_widths():
    report = compare("seed", widths=(2, 6), batch=32, repeats=1)
    small, large = report.rows
    assert [m.params for m in report.rows] == [4 * 2 + 2 + 2 + 1, 4 * 6 + 6 + 6 + 1]
    for m in report.rows:
        assert m.ops_cse < m.ops_naive and m.ops_reverse < m.ops_naive
        assert m.error_symbolic < 1e-12 and m.error_autodiff < 1e-12
        assert m.eval_symbolic > 0 and m.eval_autodiff > 0 and m.derive_diff > 0
    # the naive (tree) size grows quadratically with the width, the reverse-mode DAG linearly
    assert large.ops_naive / small.ops_naive > 2 * large.ops_reverse / small.ops_reverse
    table = report.markdown().splitlines()
    assert len(table) == 4 and table[0].startswith("| width | params |")
    assert report._repr_markdown_().endswith(report.markdown())
    assert report._repr_latex_().startswith("$$\\begin{array}")
    fig = report.plot()
    assert isinstance(fig, Figure) and len(fig.axes) == 4


def test_cli_compare_writes_table_and_plot(tmp_path, capsys):
    assert cli(["compare", "perceptron", "--widths", "2,3", "--batch", "8", "--repeats", "1", "-o", str(tmp_path)]) == 0
    assert (tmp_path / "compare_perceptron.png").read_bytes()[:4] == b"\x89PNG"
    assert "| 2 | " in (tmp_path / "compare_perceptron.md").read_text()
    out, err = capsys.readouterr()
    progress = err.splitlines()  # progress goes to stderr, one line per width, the table to stdout
    assert progress[0] == "compare perceptron: measuring widths 2,3..."
    assert progress[1].startswith("compare perceptron: width 2 measured (1/2, ") and progress[1].endswith(" s)")
    assert progress[2].startswith("compare perceptron: width 3 measured (2/2, ")
    assert "measured (" not in out and "symbolic vs autodiff for the perceptron family" in out
    assert cli(["compare", "no-such-family"]) == 2
    assert "no model family named" in capsys.readouterr().err


def test_compare_reports_progress_and_checks_its_arguments_first():
    seen = []
    compare("seed", widths=[2], batch=4, repeats=1, progress=lambda *a: seen.append((a[0], a[1], a[2].width)))
    assert seen == [(1, 1, 2)]
    for kw in ({"widths": []}, {"widths": [2, 0]}, {"widths": [2.5]}, {"batch": 0}, {"repeats": True}):
        with pytest.raises(InvalidArgumentError, match="compare: .* must be positive integers"):
            compare("seed", **{"widths": [2], **kw})
