"""Writing an entrywise line into a dead buffer (`out=`) must not change a single bit of its value."""

import numpy as np
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from symgrad.targets.numpy.buffers import Line, _with_out
from symgrad.targets.python_printers import NumpyExprPrinter

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


@st.composite
def nested(draw, depth=3):
    """Sums, products, quotients and exp/tanh of nested operands: the forms whose first operand is
    written into the buffer before the rest are read."""
    if depth == 0 or draw(st.booleans()):
        return draw(ATOMS)
    kind = draw(st.sampled_from(["add", "mul", "div", "exp", "tanh"]))
    if kind in ("exp", "tanh"):
        return (sp.exp if kind == "exp" else sp.tanh)(draw(nested(depth - 1)) / 4)
    first, second = draw(nested(depth - 1)), draw(nested(depth - 1))
    return {"add": sp.Add, "mul": sp.Mul, "div": lambda p, q: p / q}[kind](first, second)


@settings(max_examples=150, deadline=None)
@given(nested(), st.sampled_from(["a", "b", "buf"]))
@example(sp.exp((a + b) * sp.exp(a) / 12), "a")  # a number times a sum: kept as printed, not distributed
def test_nested_out_form_rounds_as_the_printed_line_even_when_the_buffer_is_an_operand(expr, buffer):
    """The buffer may be an operand the line reads (a dying temporary): nested writes into it must
    happen only where nothing later in the line reads it."""
    printer = NumpyExprPrinter()
    rng = np.random.default_rng(1)
    arrays = {s.name: rng.uniform(0.5, 2.0, size=64) for s in (a, b, c)}
    plain = eval(printer.doprint(expr), {"np": np, **arrays})  # noqa: S307 - our own printed expression
    text = _with_out(Line("r", "", set(), expr=expr), buffer, printer, full_shape=lambda e: True)
    if text is None:
        return
    env = {"np": np, **{k: v.copy() for k, v in arrays.items()}, "buf": np.empty(64)}
    np.testing.assert_array_equal(eval(text, env), np.broadcast_to(plain, (64,)), err_msg=f"{expr}: {text}")  # noqa: S307
    for name in {"a", "b", "c"} - {buffer}:
        np.testing.assert_array_equal(env[name], arrays[name], err_msg=f"{text} wrote {name}")


def test_an_operand_of_the_buffers_shape_is_written_into_it_first():
    printer = NumpyExprPrinter()
    text = _with_out(Line("r", "", set(), expr=sp.tanh(a + b)), "a", printer, full_shape=lambda e: True)
    assert text == "np.tanh(np.add(a, b, out=a), out=a)"
    text = _with_out(Line("r", "", set(), expr=b * c * sp.exp(c)), "a", printer, full_shape=lambda e: True)
    assert text == "np.multiply(np.multiply(b, c, out=a), np.exp(c), out=a)"
    # the buffer is read by the other operand: that operand is not written into it, but the one
    # reading the buffer is, first (two operands commute exactly)
    text = _with_out(Line("r", "", set(), expr=(b + c) * (a + 1)), "b", printer, full_shape=lambda e: True)
    assert text == "np.multiply(np.add(b, c, out=b), a + 1, out=b)"
    # neither can go first (each reads the buffer): the line allocates both
    text = _with_out(Line("r", "", set(), expr=(b + c) * (b + 1)), "b", printer, full_shape=lambda e: True)
    assert text == "np.multiply(b + 1, b + c, out=b)"
    # an operand of another shape (a column meeting a matrix) is not written into the matrix's buffer
    for expr in (sp.exp(b + c) * sp.tanh(a), sp.tanh(a) * sp.exp(b + c)):
        text = _with_out(Line("r", "", set(), expr=expr), "buf", printer, full_shape=lambda e: a in e.free_symbols)
        assert text.count("out=buf") == 1 + ("np.multiply(np.tanh" in text), text


def test_a_ufunc_with_no_dead_buffer_runs_in_place_over_its_fresh_argument():
    from symgrad.targets.numpy.buffers import reuse_buffers

    printer = NumpyExprPrinter()
    expr = sp.exp(a - b)
    lines = [Line("t", printer.doprint(expr), {"a", "b"}, shape=(4, 4), expr=expr)]
    out = reuse_buffers(lines, {"a", "b", "t"}, printer, full_shape=lambda e, shape: True)
    assert out == ["t = a - b", "t = np.exp(t, out=t)"]
    env = {"np": np, "a": np.linspace(0, 1, 16).reshape(4, 4), "b": np.full((4, 4), 0.25)}
    exec("\n".join(out), env)  # noqa: S102 - our own generated lines
    np.testing.assert_array_equal(env["t"], np.exp(env["a"] - env["b"]))
    # an argument of another shape than the line's (a column broadcast) is not made fresh first
    out = reuse_buffers(lines, {"a", "b", "t"}, printer, full_shape=lambda e, shape: False)
    assert out == ["t = np.exp(a - b)"]
