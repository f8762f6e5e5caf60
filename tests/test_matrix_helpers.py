"""The matrix target's numpy helpers compute what they stand for: `row_max` the exact row maxima
(NaN and ±Inf included, on both sides of its column-loop threshold), `row_sums`/`column_sums` the
sums to rounding, and its in-place `sigmoid` the shared helper's numbers bit for bit, whatever
buffer it writes into."""

import numpy as np
import pytest

from symgrad.primitives.activations import SIGMOID
from symgrad.targets.numpy.matrix_helpers import MATRIX_HELPERS


def _helpers():
    namespace = {"np": np}
    for text in MATRIX_HELPERS.values():
        exec(text, namespace)  # noqa: S102 - our own helper text
    return namespace


def _with_extremes(a, rng):
    flat = a.reshape(-1)
    picks = rng.choice(flat.size, size=min(flat.size, 6), replace=False)
    flat[picks] = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, np.finfo(a.dtype).max], dtype=a.dtype)[: len(picks)]
    return a


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rows", [1, 7, 256, 1500])
@pytest.mark.parametrize("cols", [1, 2, 10, 11, 16, 17, 40, 64, 65, 130])
def test_reductions_equal_numpys(dtype, rows, cols):
    h = _helpers()
    rng = np.random.default_rng(rows * 100 + cols)
    a = (rng.normal(size=(rows, cols)) * 10).astype(dtype)
    eps = np.finfo(dtype).eps
    for axis, helper in ((1, "row_sums"), (0, "column_sums")):  # both roundings within n·eps·Σ|a| of the truth
        truth = a.astype(np.float64).sum(axis=axis, keepdims=True)
        bound = a.shape[axis] * eps * np.abs(a).astype(np.float64).sum(axis=axis, keepdims=True)
        assert np.all(np.abs(h[helper](a) - truth) <= bound), helper
    assert h["row_sums"](a).dtype == h["column_sums"](a).dtype == dtype
    b = _with_extremes(a.copy(), rng)
    with np.errstate(invalid="ignore"):
        got, want = h["row_max"](b), b.max(axis=1, keepdims=True)
    assert got.shape == want.shape == (rows, 1) and got.dtype == dtype
    np.testing.assert_array_equal(got, want)


def test_row_max_of_no_columns_raises_as_numpy_does():
    with pytest.raises(ValueError):
        _helpers()["row_max"](np.empty((3, 0)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_in_place_sigmoid_equals_the_shared_helper_bit_for_bit(dtype):
    shared = {"np": np}
    exec(SIGMOID.numpy, shared)  # noqa: S102 - our own helper text
    sigmoid = _helpers()["sigmoid"]
    info = np.finfo(dtype)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, info.max, -info.max, info.tiny, -info.tiny, 1e-45, 750.0, -750.0]
    xs = np.concatenate([np.array(special), np.random.default_rng(0).normal(size=3988) * 30]).astype(dtype).reshape(80, 50)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        want = shared["sigmoid"](xs)
        fresh = sigmoid(xs)
        into_other = sigmoid(xs, out=np.empty_like(xs))
        x_copy = xs.copy()
        into_itself = sigmoid(x_copy, out=x_copy)
    for got in (fresh, into_other, into_itself):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)
    assert into_itself is x_copy
    for x in (2.5, -800.0, np.float32(-3.0)):
        assert sigmoid(x) == shared["sigmoid"](x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_above_the_overflow_limit_is_accurate_in_both_helpers(dtype):
    """An array with no entry below the overflow limit of e^-x (-708 in float64, -87 in float32)
    takes the short form 1/(1 + e^-x): within 4 ulps of the truth down to that limit, the two
    helpers bit for bit alike, and one entry below the limit (or a NaN) takes the e^-|x| form."""
    import mpmath

    shared = {"np": np}
    exec(SIGMOID.numpy, shared)  # noqa: S102 - our own helper text
    sigmoid = _helpers()["sigmoid"]
    limit = -87.0 if dtype == np.float32 else -708.0
    edges = [limit, limit / 2, -40.0, -20.0, -1.0, -1e-5, -0.0, 0.0, 1e-30, 1e-5, 1.0, 20.0, 40.0, 88.0, 750.0, np.inf]
    xs = np.concatenate([edges, np.random.default_rng(1).normal(size=384) * 20]).astype(dtype)
    with mpmath.workdps(60):
        truth = np.array([float(1 / (1 + mpmath.exp(-mpmath.mpf(float(v))))) for v in xs])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        want = shared["sigmoid"](xs)
        into_itself = xs.copy()
        got = sigmoid(into_itself, out=into_itself)
    np.testing.assert_array_equal(got, want)

    def ulps(values):
        return np.abs(values.astype(np.float64) - truth) / np.spacing(np.abs(truth.astype(dtype))).astype(np.float64)

    assert ulps(got).max() <= 4, f"{ulps(got).max():.1f} ulps off at x={xs[np.argmax(ulps(got))]!r}"
    for odd in (np.nextafter(dtype(limit), dtype(-np.inf)), np.nan):  # just below the limit; a NaN
        ys = np.append(xs, odd).astype(dtype)
        with np.errstate(over="raise", invalid="ignore", under="ignore"):
            other = sigmoid(ys.copy(), out=None)
            np.testing.assert_array_equal(other, shared["sigmoid"](ys))
        assert ulps(other[:-1]).max() <= 4
