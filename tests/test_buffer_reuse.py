"""Writing an entrywise line into a dead buffer (`out=`) must not change a single bit of its value."""

import numpy as np
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symgrad.render.buffers import Line, _with_out
from symgrad.render.printers import NumpyExprPrinter

a, b, c = sp.symbols("a b c", real=True)
ATOMS = st.sampled_from([a, b, c, sp.Integer(2), sp.Rational(1, 3), sp.exp(a), b**2])


@st.composite
def entrywise(draw):
    """Sums, products and quotients of two or three operands (the forms `_with_out` meets)."""
    terms = draw(st.lists(ATOMS, min_size=2, max_size=3))
    if draw(st.booleans()):
        terms[-1] = 1 / terms[-1]
    return (sp.Add if draw(st.booleans()) else sp.Mul)(*terms)


@settings(max_examples=80, deadline=None)
@given(entrywise())
def test_out_form_rounds_as_the_printed_line(expr):
    printer = NumpyExprPrinter()
    rng = np.random.default_rng(0)
    env = {"np": np, **{s.name: rng.uniform(0.5, 2.0, size=64) for s in (a, b, c)}}
    plain = eval(printer.doprint(expr), env)  # noqa: S307 - our own printed expression
    text = _with_out(Line("r", "", set(), expr=expr), "buf", printer)
    if text is None:  # this form allocates instead: nothing to compare
        return
    env["buf"] = np.empty(64)
    np.testing.assert_array_equal(eval(text, env), np.broadcast_to(plain, (64,)), err_msg=f"{expr}: {text}")
