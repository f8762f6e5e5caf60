"""A matrix kernel's remembered layout (symgrad.matrix.prepared) answers exactly as `values.bind`.

After a call the checked path accepted without converting anything, a matrix kernel takes arrays
with the same keys, shapes and dtype as they are. Any sequence of mappings through one kernel must
give the results and errors of a kernel that binds every call afresh, and the generated gradients
must equal hand-written numpy backprop through both lanes.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symgrad
from symgrad import nn
from symgrad.errors import SymgradError

MODEL = nn.matrix_mlp([5, 4, 3], activation="sigmoid")


def _kernel(dtype="float64"):
    return symgrad.compile(MODEL, cache=False, dtype=dtype)


FAST, SLOW = _kernel(), _kernel()


def _outcome(kernel, values, nonfinite="raise", fresh=False):
    if fresh:
        kernel.__dict__.pop("_matrix_layout", None)
    try:
        return "ok", kernel.loss_and_grad(values, nonfinite=nonfinite)
    except SymgradError as exc:
        return type(exc).__name__, str(exc)


def _same(a, b):
    assert a[0] == b[0], (a, b)
    if a[0] != "ok":
        assert a[1] == b[1]
        return
    assert repr(a[1][0]) == repr(b[1][0])
    for g, h in zip(a[1][1], b[1][1], strict=True):
        np.testing.assert_array_equal(g, h)  # bit for bit, NaN in the same places


def _values(rng, n=32, dtype=np.float64):
    X = rng.normal(size=(n, 5)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, n)]
    params = [(rng.normal(size=s) * 0.5).astype(dtype) for s in ((5, 4), (1, 4), (4, 3), (1, 3))]
    return dict(zip(FAST.inputs + FAST.wrt, (X, Y, *params), strict=True))


def _backprop(values):
    X, Y, W1, b1, W2, b2 = values.values()
    h = 1 / (1 + np.exp(-(X @ W1 + b1)))
    z = h @ W2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    d2 = (p - Y) / len(X)
    d1 = (d2 @ W2.T) * h * (1 - h)
    loss = -(Y * np.log(p)).sum() / len(X)
    return loss, [X.T @ d1, d1.sum(axis=0, keepdims=True), h.T @ d2, d2.sum(axis=0, keepdims=True)]


def test_the_second_call_takes_the_arrays_as_passed_and_equals_backprop(rng):
    kernel = _kernel()
    values = _values(rng)
    first = kernel.loss_and_grad(values)
    layout = kernel._matrix_layout
    assert layout is not None and layout.arguments(values, "raise") is not None
    values[kernel.wrt[0]] -= 0.1 * first[1][0]  # an SGD step in place: the same layout, the new numbers
    got = kernel.loss_and_grad(values)
    assert kernel._matrix_layout is layout
    want_loss, want = _backprop(values)
    np.testing.assert_allclose(got[0], want_loss, rtol=1e-12)
    for g, w in zip(got[1], want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-14)
    _same(("ok", got), _outcome(SLOW, values, fresh=True))


def test_converted_values_leave_no_layout(rng):
    kernel = _kernel()
    values = _values(rng)
    values[kernel.inputs[0]] = np.asfortranarray(values[kernel.inputs[0]])  # copied to C order by bind
    kernel.loss_and_grad(values)
    assert kernel._matrix_layout is None
    kernel.loss_and_grad({str(k): v for k, v in _values(rng).items()})  # keyed by name
    assert kernel._matrix_layout is None


def _change(values, how, rng):
    values = dict(values)
    X = next(iter(values))
    if how == "nan":
        values[X] = values[X].copy()
        values[X][0, 0] = np.nan
    elif how == "inf param":
        W = list(values)[2]
        values[W] = values[W].copy()
        values[W][1, 1] = np.inf
    elif how == "huge":
        values[X] = np.full_like(values[X], 1e200)
    elif how == "batch":
        values = _values(rng, n=7)
    elif how == "float32":
        values = {k: v.astype(np.float32) for k, v in values.items()}
    elif how == "strided":
        values[X] = np.ascontiguousarray(np.repeat(values[X], 2, axis=1))[:, ::2]
    elif how == "wrong shape":
        values[X] = values[X][:, :4].copy()
    elif how == "list":
        values[X] = values[X].tolist()
    elif how == "missing":
        del values[list(values)[3]]
    elif how == "extra":
        values["unused"] = 1.0
    elif how == "reordered":
        values = dict(reversed(list(values.items())))
    elif how == "in place":
        values[X] *= 0.5
    return values


CHANGES = ["none", "nan", "inf param", "huge", "batch", "float32", "strided", "wrong shape", "list", "missing",
           "extra", "reordered", "in place"]


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(CHANGES), st.sampled_from(["raise", "propagate"])),
                      min_size=1, max_size=6), seed=st.integers(0, 2**16))
def test_any_sequence_of_mappings_answers_as_binding_afresh(steps, seed):
    rng = np.random.default_rng(seed)
    kernel, base = _kernel(), _values(rng)
    kernel.loss_and_grad(base)  # a layout to start from
    for how, nonfinite in steps:
        values = _change(base, how, rng)
        _same(_outcome(kernel, values, nonfinite), _outcome(SLOW, values, nonfinite, fresh=True))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_both_dtypes_take_the_lane(rng, dtype):
    kernel = _kernel(dtype)
    values = _values(rng, dtype=np.dtype(dtype))
    kernel.loss_and_grad(values)
    assert kernel._matrix_layout.arguments(values, "raise") is not None
    assert kernel._matrix_layout.arguments(values, "warn") is None
