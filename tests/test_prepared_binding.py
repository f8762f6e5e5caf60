"""The prepared binding (symgrad.prepared) answers exactly as the checked `values.bind` path.

Every scalar kernel call first tries the prepared fast lane; whatever it cannot vouch for goes to
`bind`. These tests draw `values` mappings of every kind (valid, wrong types, NaN, wrong shapes,
names instead of symbols, missing keys) and require the same arguments, results and error
messages with the fast lane on and off.
"""

import copy
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symgrad
from symgrad.errors import SymgradError

x, y, w, b = sp.symbols("x y w b", real=True)
LOSS = (symgrad.sigmoid(w * x + b) - y) ** 2 + w**2
KERNEL = symgrad.compile(LOSS, wrt=[w, b], inputs=[x, y], cache=False)

PARAM_VALUES = [0.4, -1.5, np.float64(0.25), 2, True, float("nan"), float("inf"), np.float64("-inf"), "0.5",
                1 + 2j, Fraction(1, 2), np.array(0.3), np.array([0.3]), [0.1, 0.2], np.float32(0.5), 1e200, None]
DATA_VALUES = [
    np.linspace(-1.0, 1.0, 5), np.linspace(0.0, 1.0, 5), np.arange(10.0)[::2], np.ones((5, 2))[:, 0],
    np.linspace(0.0, 1.0, 5).astype(np.float32), np.arange(5), [0.1, 0.2, 0.3, 0.4, 0.5], 0.7,
    np.array([0.0, np.nan, 1.0, 2.0, 3.0]), np.array([np.inf, 0.0, 1.0, 2.0, 3.0]), np.ones(4), np.ones(0),
    np.ones((5, 1)), np.array(0.5), np.full(5, 1e200), np.array([1 + 1j] * 5), np.array(["a"] * 5),
]


def _outcome(kernel, method, values, nonfinite):
    try:
        return "ok", getattr(kernel, method)(values, nonfinite=nonfinite)
    except SymgradError as exc:
        return type(exc).__name__, str(exc)


def _slow(kernel):
    slow = copy.copy(kernel)
    slow._prepared = None
    return slow


def _same(a, b):
    assert a[0] == b[0], (a, b)
    if a[0] != "ok":
        assert a[1] == b[1]
        return
    assert repr(a[1]) == repr(b[1])  # the same floats bit for bit (NaN included), the same structure


@st.composite
def values_mappings(draw):
    values = {}
    for symbol, pool in ((w, PARAM_VALUES), (b, PARAM_VALUES), (x, DATA_VALUES), (y, DATA_VALUES)):
        how = draw(st.sampled_from(["symbol", "symbol", "name", "missing"]))
        if how != "missing":
            values[symbol if how == "symbol" else str(symbol)] = draw(st.sampled_from(pool))
    if draw(st.booleans()):
        values["unused"] = 1.0
    order = draw(st.permutations(list(values)))
    return {key: values[key] for key in order}


@settings(max_examples=300, deadline=None)
@given(values=values_mappings(), method=st.sampled_from(["loss", "grad", "loss_and_grad"]),
       nonfinite=st.sampled_from(["raise", "propagate"]))
def test_fast_lane_gives_the_checked_paths_results_and_errors(values, method, nonfinite):
    with np.errstate(all="ignore"):
        _same(_outcome(KERNEL, method, values, nonfinite), _outcome(_slow(KERNEL), method, values, nonfinite))


@settings(max_examples=100, deadline=None)
@given(values=values_mappings())
def test_fast_lane_arguments_equal_bind_arguments_when_it_answers(values):
    fast = KERNEL._prepared.arguments(values, "raise")
    if fast is None:
        return
    slow = _slow(KERNEL).arguments(values)
    assert len(fast) == len(slow)
    for got, want in zip(fast, slow, strict=True):
        assert type(got) is type(want)
        np.testing.assert_array_equal(got, want)


def test_plain_training_values_take_the_fast_lane_and_reuse_its_layout(rng):
    values = {w: 0.4, b: -0.2, x: rng.normal(size=8), y: rng.uniform(size=8)}
    assert KERNEL._prepared.arguments(values, "raise") is not None
    layout = KERNEL._prepared._keys, KERNEL._prepared._data, KERNEL._prepared._params
    assert KERNEL._prepared.arguments({**values, w: 0.5}, "raise")[2] == 0.5
    # same keys in the same order: nothing recomputed
    assert (KERNEL._prepared._keys, KERNEL._prepared._data, KERNEL._prepared._params) == layout
    reordered = {y: values[y], x: values[x], "b": 0.1, w: 0.3}
    assert KERNEL._prepared.arguments(reordered, "raise")[2:] == (0.3, 0.1)


def test_nonfinite_value_is_named_by_the_checked_path(rng):
    values = {w: float("nan"), b: -0.2, x: rng.normal(size=8), y: rng.uniform(size=8)}
    with pytest.raises(symgrad.errors.NonFiniteError, match="value of w contains NaN"):
        KERNEL.grad(values)


def test_overflowing_finite_values_still_pass(rng):
    """The one-sum finiteness test can overflow on huge finite numbers; the checked path then passes them."""
    values = {w: 1e308, b: 1e308, x: np.full(4, 1e200), y: rng.uniform(size=4)}
    assert KERNEL._prepared.arguments(values, "propagate") is not None
    assert KERNEL._prepared.arguments(values, "raise") is None
    assert len(KERNEL.arguments(values)) == 4


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_kernel_results_do_not_depend_on_the_lane(rng, dtype):
    kernel = symgrad.compile(LOSS, wrt=[w, b], inputs=[x, y], dtype=dtype, cache=False)
    for n in (1, 16, 17, 300):
        values = {w: 0.4, b: -0.2, x: rng.normal(size=n), y: rng.uniform(size=n)}
        assert kernel.loss_and_grad(values) == _slow(kernel).loss_and_grad(values)
