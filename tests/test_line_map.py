"""The renderers' line maps: every entry is the line that computes its name, inside its function,
and every line computing a value has an entry (the test reads the text; the map never does)."""

import re

import pytest
import sympy as sp

import symgrad
from symgrad import models
from symgrad.compiler import build_ir
from symgrad.derivation import derive
from symgrad.matrix.kernel import build_matrix_ir
from symgrad.targets.numpy.matrix import render_numpy_matrix, render_numpy_matrix_lines
from symgrad.targets.numpy.scalar import render_numpy, render_numpy_lines

_ASSIGN = re.compile(r"^ +([A-Za-z_]\w*) (\+)?= ")


def _check(rendered):
    text = rendered.text.split("\n")
    assert "\x00" not in rendered.text
    spans = rendered.lines.functions
    assert spans
    for function, (first, last) in spans.items():
        assert text[first - 1].startswith(f"def {function}("), function
        after = [line for line in text[last:] if line.strip()]
        assert not after or after[0].startswith("def "), (function, after[:1])
        entries = rendered.lines.lines.get(function, {})
        for name, number in entries.items():
            assert first < number <= last, (function, name, number)
            m = _ASSIGN.match(text[number - 1])
            assert m and m[1] == name, (function, name, text[number - 1])
        # every assignment of the function is mapped (a `+=` accumulates what its `= 0.0` starts)
        assigned = {m[1]: n for n in range(first, last + 1) if (m := _ASSIGN.match(text[n - 1]))}
        assert set(assigned) - {"n"} == set(entries), function
    return rendered


def _scalar(model):
    ir = build_ir(model)
    rendered = _check(render_numpy_lines(ir))
    assert rendered.text == render_numpy(ir)
    return ir, rendered


@pytest.mark.parametrize("name", ["seed", "perceptron"])
def test_scalar_line_map_points_at_the_lines_computing_each_name(name):
    ir, rendered = _scalar(models.BUNDLED[name]())
    vectorized = rendered.lines.lines["loss_and_grad_vectorized"]
    assert {st.target for st in ir.needed([ir.summand(name) for name in [ir.loss, *ir.grads]])} <= set(vectorized)
    assert {ir.loss, *ir.grads} <= set(vectorized)
    assert set(ir.predictions) <= set(rendered.lines.lines["predict"])


def test_matrix_line_map_points_at_the_lines_computing_each_name():
    model = models.BUNDLED["mlp_matrix"]()
    ir = build_matrix_ir(model.loss, list(model.params), list(model.data), list(model.outputs), model.name)
    rendered = _check(render_numpy_matrix_lines(ir))
    assert rendered.text == render_numpy_matrix(ir)
    grads = rendered.lines.lines["loss_and_grad"]
    assert set(ir.grads) <= set(grads) and ir.loss in grads


def test_marks_cannot_be_forged_by_names():
    """A NUL inside a user's name or the kernel's name never reaches the text as a mark."""
    a, x = sp.Symbol("a\x000\x00"), sp.Symbol("x\x001\x00y")
    ir = build_ir(symgrad.softplus(a * x) + a**2, [a], [x], outputs=[a * x], name="k\x002\x00")
    _check(render_numpy_lines(ir))


@pytest.mark.parametrize("name", ["seed", "perceptron", "mlp_matrix"])
def test_derivation_citations_are_the_lines_of_the_module(name):
    doc = derive(models.BUNDLED[name]())
    text = doc.codemap.source.split("\n")
    cited = [c for s in doc.sections for st in s.steps for c in st.code]
    assert cited
    for c in cited:
        assert text[c.number - 1].strip() == c.text and c.text.startswith(f"{c.name} = "), c
    assert [c.number for c in doc.codemap.function] == list(range(doc.codemap.function[0].number,
                                                                   doc.codemap.function[-1].number + 1))
