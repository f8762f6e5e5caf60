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
    layout = KERNEL._prepared._layout
    assert KERNEL._prepared.arguments({**values, w: 0.5}, "raise")[2] == 0.5
    assert KERNEL._prepared._layout is layout  # same keys in the same order: nothing recomputed
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
    for n in (1, 16, 17, 32, 33, 300):  # the loop, the vectorized form on lists-tested and on vdot-tested data
        values = {w: 0.4, b: -0.2, x: rng.normal(size=n), y: rng.uniform(size=n)}
        got = kernel.loss_and_grad(values)
        assert repr(got) == repr(_slow(kernel).loss_and_grad(values))
        assert {type(got[0]), *map(type, got[1])} == {float}, n


def test_results_are_floats_where_a_gradient_is_an_integer_constant(rng):
    """d/dc of 3*c is the integer 3 per sample: the loop's sum must still be a float (the fast lane
    hands the loop's results on unconverted when their sum is a float)."""
    c = sp.Symbol("c", real=True)
    kernel = symgrad.compile((w * x - y) ** 2 + 3 * c, wrt=[w, c], inputs=[x, y], cache=False)
    for n in (1, 5, 40):
        values = {w: 0.4, c: 2.0, x: rng.normal(size=n), y: rng.uniform(size=n)}
        got = kernel.loss_and_grad(values)
        assert repr(got) == repr(_slow(kernel).loss_and_grad(values))
        assert {type(got[0]), *map(type, got[1])} == {float} and got[1][1] == 3.0 * n


@pytest.mark.parametrize("n", [1, 3, 16, 17, 40, 300])
def test_lifted_kernel_answers_as_its_checked_path(rng, n):
    """The seed network compiles to a lifted kernel: small batches run the scalar module's loop on
    lists, longer ones the matrix kernel; both through the fast lane equal the checked path."""
    from symgrad import models

    model = models.seed()
    kernel = symgrad.compile(model, cache=False)
    X, Y = rng.normal(size=(n, 4)), rng.uniform(size=(n, 1))
    values = {**model.initial_values(), **models.data_values(model, X, Y)}
    got = kernel.loss_and_grad(values)
    assert kernel._prepared._layout.keys is not None  # the fast lane answered
    assert repr(got) == repr(_slow(kernel).loss_and_grad(values))
    assert {type(got[0]), *map(type, got[1])} == {float}
    values[next(iter(model.data))][0] = np.nan
    assert _outcome(kernel, "grad", values, "raise") == _outcome(_slow(kernel), "grad", values, "raise")


def test_huge_finite_data_in_a_long_batch_still_passes(rng):
    """Long data are tested finite by square sums, which overflow for huge finite entries: those
    calls go to the checked path, which passes them."""
    values = {w: 1e-300, b: 0.0, x: np.full(300, 1e200), y: rng.uniform(size=300)}
    assert KERNEL._prepared.arguments(values, "raise") is None
    assert _outcome(KERNEL, "loss_and_grad", values, "raise") == _outcome(_slow(KERNEL), "loss_and_grad", values, "raise")


# A remembered layout must never answer for a mapping it was not made for: the same dict object
# changed between calls, another dict with the same keys, another batch size, another dtype.

def _fresh_kernel(dtype="float64"):
    return symgrad.compile(LOSS, wrt=[w, b], inputs=[x, y], dtype=dtype, outputs=[symgrad.sigmoid(w * x + b)], cache=False)


def _both_lanes(kernel, values, method="loss_and_grad", nonfinite="raise"):
    """The kernel's answer (fast lane tried first) after checking it equals the checked path's."""
    with np.errstate(all="ignore"):
        got = _outcome(kernel, method, values, nonfinite)
        _same(got, _outcome(_slow(kernel), method, values, nonfinite))
    return got


def _mutations(rng):
    """(description, change to the values dict) pairs, applied one after another to one dict."""
    def setter(key, value):
        return lambda v: v.__setitem__(key, value)

    def nan_in_place(key):
        return lambda v: v[key].__setitem__(1, np.nan)

    def reshape_in_place(key):
        def change(v):
            v[key].shape = (v[key].shape[0], 1)
        return change

    def retype_in_place(key):
        def change(v):
            v[key].dtype = np.int64  # the same buffer read as integers: same object, another dtype
        return change

    def rename(symbol):
        return lambda v: v.__setitem__(str(symbol), v.pop(symbol))

    ok, nonfinite, shape, unbound = "ok", "NonFiniteError", "ShapeError", "UnboundSymbolError"
    return [
        ("new parameter value", setter(w, 0.9), ok),
        ("parameter NaN", setter(b, float("nan")), nonfinite),
        ("parameter back", setter(b, 0.1), ok),
        ("parameter as int", setter(w, 2), ok),
        ("parameter as float32", setter(w, np.float32(0.5)), ok),
        ("parameter as numpy float64", setter(w, np.float64(0.5)), ok),
        ("larger batch", lambda v: v.update({x: rng.normal(size=9), y: rng.uniform(size=9)}), ok),
        ("one input shorter", setter(x, rng.normal(size=8)), shape),
        ("lengths agree again", setter(x, rng.normal(size=9)), ok),
        ("data NaN in place", nan_in_place(x), nonfinite),
        ("clean data", setter(x, rng.normal(size=9)), ok),
        ("data float32", setter(y, rng.uniform(size=9).astype(np.float32)), ok),
        ("data float64 again", setter(y, rng.uniform(size=9)), ok),
        ("data reshaped in place", reshape_in_place(y), shape),
        ("data 1-D again", setter(y, rng.uniform(size=9)), ok),
        ("data dtype changed in place", retype_in_place(x), ok),
        ("data float64 again", setter(x, rng.normal(size=9)), ok),
        ("key by name", rename(w), ok),
        ("key missing", lambda v: v.pop("w"), unbound),
        ("key back", setter(w, 0.3), ok),
        ("extra unused key", setter("unused", "not a number"), ok),
        ("batch of one", lambda v: v.update({x: rng.normal(size=1), y: rng.uniform(size=1)}), ok),
        ("large batch", lambda v: v.update({x: rng.normal(size=300), y: rng.uniform(size=300)}), ok),
        ("large batch with Inf", lambda v: v[y].__setitem__(299, np.inf), nonfinite),
    ]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_same_dict_changed_between_calls_is_rebound(rng, dtype):
    kernel = _fresh_kernel(dtype)
    values = {w: 0.4, b: -0.2, x: rng.normal(size=5), y: rng.uniform(size=5)}
    _both_lanes(kernel, values)
    for what, change, expected in _mutations(rng):
        change(values)
        for method in ("loss_and_grad", "loss", "predict"):
            assert _both_lanes(kernel, values, method)[0] == expected, (what, method)


def test_another_dict_with_the_same_keys_is_read_afresh(rng):
    kernel = _fresh_kernel()
    first = {w: 0.4, b: -0.2, x: rng.normal(size=5), y: rng.uniform(size=5)}
    second = {w: -1.1, b: 0.7, x: rng.normal(size=7), y: rng.uniform(size=7)}
    a, c = kernel.loss_and_grad(first), kernel.loss_and_grad(second)
    assert kernel._prepared.arguments(second, "raise")[:2][0] is second[x]
    assert a == _slow(kernel).loss_and_grad(first) and c == _slow(kernel).loss_and_grad(second)
    assert kernel.loss_and_grad(first) == a  # and back: nothing of `second` is left behind


def test_fast_lane_answers_nothing_for_another_dtype(rng):
    kernel = _fresh_kernel()
    values = {w: 0.4, b: -0.2, x: rng.normal(size=5), y: rng.uniform(size=5)}
    assert kernel._prepared.arguments(values, "raise") is not None
    for other in (np.float32, np.int64, np.float16):
        assert kernel._prepared.arguments({**values, x: values[x].astype(other)}, "raise") is None
    big_endian = values[x].astype(">f8")
    assert kernel._prepared.arguments({**values, x: big_endian}, "raise") is None
    assert kernel.loss_and_grad({**values, x: big_endian}) == kernel.loss_and_grad(values)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(values_mappings(), min_size=2, max_size=6), data=st.data())
def test_any_sequence_of_mappings_through_one_kernel_answers_as_the_checked_path(steps, data):
    """One kernel, one dict object updated in place from mapping to mapping (and sometimes a new
    dict): whatever the fast lane remembered from the call before must not change an answer."""
    kernel, values = _fresh_kernel(), {}
    for step in steps:
        if data.draw(st.booleans()):
            values = {}
        values.clear()
        values.update(step)
        method = data.draw(st.sampled_from(["loss", "grad", "loss_and_grad", "predict"]))
        _both_lanes(kernel, values, method, data.draw(st.sampled_from(["raise", "propagate"])))



class _CallsBack:
    """A key equal to every other _CallsBack; comparing a fresh one runs `action` first, once (so
    another call lands in the middle of the layout test, as a second thread may)."""

    def __init__(self, action=None):
        self.action = action

    def __hash__(self):
        return 1

    def __eq__(self, other):
        action, self.action = self.action, None
        if action is not None:
            action()
        return isinstance(other, _CallsBack)


def test_a_call_in_the_middle_of_the_layout_test_does_not_lend_its_layout(rng):
    """The remembered layout is replaced whole: a call (another thread's, say) that prepares another
    layout while this one compares keys never hands this call its gathers."""
    kernel = _fresh_kernel()
    data = {x: rng.normal(size=5), y: rng.uniform(size=5)}
    swapped = {b: 0.4, w: -0.2, **data, _CallsBack(): 0.0}  # the same value types: only the places differ
    kernel.loss_and_grad({w: 0.4, b: -0.2, **data, _CallsBack(): 0.0})
    values = {w: 0.4, b: -0.2, **data, _CallsBack(lambda: kernel.loss_and_grad(swapped)): 0.0}
    assert kernel.loss_and_grad(values) == _slow(kernel).loss_and_grad(values)
