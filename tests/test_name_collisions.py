"""Symbols that want the same identifier: the naming pass always ends, with distinct safe names.

Two sympy symbols can share a spelling (`Symbol("d")` and `Symbol("d", positive=True)`), and a
spelling can collide with the generated code's own names (`d_x`, `sg_*`, `scalar_*`, `t0`) once a
suffix is added. Each case here once made `compile` loop forever; an alarm turns a hang into a FAIL.
"""

import contextlib
import keyword
import signal

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symgrad
from symgrad import autodiff
from symgrad.matrix import SumAll
from symgrad.names import _INTERNAL, C_KEYWORDS, CUDA_NAMES, RESERVED, Namer

# pieces whose joins hit every internal pattern, keywords, reserved names and sanitising collisions
PIECES = ["d", "sg", "scalar", "t", "0", "1", "_", "v", "x", "np", "lambda", "n", "α", "-", " ", "__"]
names = st.lists(st.sampled_from(PIECES), min_size=0, max_size=4).map("".join)


@contextlib.contextmanager
def deadline(seconds):
    """Fail instead of hanging (the bug this file guards against was an endless loop)."""

    def fail(*_):
        raise AssertionError(f"did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _is_safe(ident):
    return (ident.isidentifier() and ident.isascii() and not keyword.iskeyword(ident) and ident not in C_KEYWORDS
            and ident not in CUDA_NAMES and ident not in RESERVED and not _INTERNAL.match(ident)
            and not ident.endswith("_"))


@settings(max_examples=300, deadline=None)
@given(st.lists(names, min_size=1, max_size=12))
def test_namer_always_ends_with_distinct_safe_identifiers(spellings):
    namer = Namer()
    with deadline(5):
        idents = [namer.user(s) for s in spellings]  # repeats allowed: different symbols, same spelling
    assert len(set(idents)) == len(idents)
    assert all(_is_safe(i) for i in idents), idents


@pytest.mark.parametrize("name", ["d", "sg", "scalar", "t", "d_1", "v_d_1"])
def test_scalar_kernel_with_two_symbols_of_one_spelling_compiles_and_is_correct(name):
    a, b, c = sp.Symbol(name), sp.Symbol(name, positive=True), sp.Symbol(name, negative=True)
    loss = a * b + a**2 * c
    wrt, inputs = [a], [b, c]
    with deadline(30):
        kernel = symgrad.compile(loss, wrt=wrt, inputs=inputs, cache=False)
    assert len({v.ident for v in kernel.ir.args}) == 3
    values = {a: 0.7, b: np.array([1.0, 2.0, 3.0]), c: np.array([-0.5, -1.0, -2.0])}
    expected = autodiff.backward(loss, wrt, values)
    value, grads = kernel.loss_and_grad(values)
    assert value == pytest.approx(float(np.sum(expected.value)), rel=1e-12)
    np.testing.assert_allclose(grads, expected.grads, rtol=1e-12)


@pytest.mark.parametrize("name", ["d", "sg", "scalar"])
def test_matrix_kernel_with_names_that_collide_after_suffixing_compiles_and_is_correct(name):
    w, x = sp.MatrixSymbol(name, 2, 1), sp.MatrixSymbol(f"{name}_1", 3, 2)
    scale = sp.Symbol(name, positive=True)  # the scalar parameter spelled like the matrix one
    loss = SumAll((x * w).applyfunc(lambda t: t**2)) * scale
    with deadline(60):
        kernel = symgrad.compile(loss, wrt=[w, scale], inputs=[x], cache=False)
    idents = [v.ident for v in kernel.ir.args]
    assert len(set(idents)) == 3 and all(_is_safe(i) for i in idents), idents
    rng = np.random.default_rng(0)
    xv, wv, s = rng.normal(size=(3, 2)), rng.normal(size=(2, 1)), 1.5
    value, (gw, gs) = kernel.loss_and_grad({x: xv, w: wv, scale: s})
    z = xv @ wv
    assert value == pytest.approx(s * float(np.sum(z**2)), rel=1e-12)
    np.testing.assert_allclose(gw, s * 2 * xv.T @ z, rtol=1e-12)
    assert gs == pytest.approx(float(np.sum(z**2)), rel=1e-12)


def test_fresh_resumes_where_its_base_left_off(monkeypatch):
    """Naming n values after one base (`sum_1`, `sum_2`, ...) must not rescan every earlier candidate:
    a deep chain made lowering quadratic (10,000 operations took 7.8 s to name)."""
    from symgrad.names import Namer

    namer = Namer()
    names = [namer.fresh("sum", numbered=True) for _ in range(2000)]
    assert names == [f"sum_{k}" for k in range(1, 2001)]
    tried = []
    monkeypatch.setattr(Namer, "_ok_value", staticmethod(lambda ident: tried.append(ident) or True))
    assert namer.fresh("sum", numbered=True) == "sum_2001"
    assert tried == ["sum_2001"]
    tried.clear()
    assert namer.fresh("sum") == "sum"  # the unnumbered spelling is still free
    assert namer.fresh("sum") == "sum_2002"  # and then taken: resume where the numbers left off
    namer.used.add("prod_1")
    assert namer.fresh("prod", numbered=True) == "prod_2"  # a name taken some other way is still skipped
