"""One `check` and one binder serve both levels: the same model written with scalar symbols and
with MatrixSymbols gets the same verdicts and the same numbers, and the same bad values get the
same error class and a message naming the symbol.

The two levels used to be two checks (`check.py`, `matrix/check.py`) and two binders
(`values.py`, `matrix/values.py`) with copied logic, which could drift apart unseen.
"""

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad.check import FD_ENTRIES, finite_difference
from symgrad.matrix import Map, SumAll
from symgrad.primitives import RECORDS
from symgrad.values import bind

N_SAMPLES, IN, HIDDEN = 5, 2, 2
RNG = np.random.default_rng(11)
DATA_X = RNG.normal(size=(N_SAMPLES, IN))
DATA_Y = RNG.normal(size=(N_SAMPLES, 1))
W1_VALUE, B1_VALUE = RNG.normal(size=(IN, HIDDEN)), RNG.normal(size=(1, HIDDEN))
W2_VALUE, B2_VALUE = RNG.normal(size=(HIDDEN, 1)), RNG.normal(size=(1, 1))

# scalar level: one symbol per input, per target and per weight
xs = sp.symbols(f"x0:{IN}", real=True)
y = sp.Symbol("y", real=True)
w1 = [[sp.Symbol(f"W1_{i}_{j}", real=True) for j in range(HIDDEN)] for i in range(IN)]
b1 = [sp.Symbol(f"b1_0_{j}", real=True) for j in range(HIDDEN)]
w2 = [sp.Symbol(f"W2_{j}_0", real=True) for j in range(HIDDEN)]
b2 = sp.Symbol("b2_0_0", real=True)
SCALAR_PARAMS = [s for row in w1 for s in row] + b1 + w2 + [b2]

# matrix level: the batch is the symbolic row count N
N = sp.Symbol("N", integer=True, positive=True)
X, Y = sp.MatrixSymbol("X", N, IN), sp.MatrixSymbol("Y", N, 1)
W1, B1 = sp.MatrixSymbol("W1", IN, HIDDEN), sp.MatrixSymbol("b1", 1, HIDDEN)
W2, B2 = sp.MatrixSymbol("W2", HIDDEN, 1), sp.MatrixSymbol("b2", 1, 1)
MATRIX_PARAMS = [W1, B1, W2, B2]
U = sp.Symbol("_u", real=True)


def scalar_model(f=sp.tanh):
    hidden = [f(sum(xs[i] * w1[i][j] for i in range(IN)) + b1[j]) for j in range(HIDDEN)]
    return (sum(h * v for h, v in zip(hidden, w2)) + b2 - y) ** 2


def matrix_model(f=sp.tanh):
    ones = sp.OneMatrix(N, 1)
    hidden = Map(sp.Lambda(U, f(U)), X * W1 + ones * B1)
    return SumAll(sp.HadamardPower(hidden * W2 + ones * B2 - Y, 2))


def scalar_values(**changed):
    values = {xs[i]: DATA_X[:, i] for i in range(IN)} | {y: DATA_Y[:, 0]}
    values |= {w1[i][j]: W1_VALUE[i, j] for i in range(IN) for j in range(HIDDEN)}
    values |= {b1[j]: B1_VALUE[0, j] for j in range(HIDDEN)} | {w2[j]: W2_VALUE[j, 0] for j in range(HIDDEN)}
    return values | {b2: B2_VALUE[0, 0]} | changed


def matrix_values(**changed):
    return {X: DATA_X, Y: DATA_Y, W1: W1_VALUE, B1: B1_VALUE, W2: W2_VALUE, B2: B2_VALUE} | changed


def entries(report, column):
    """{entry name: value} of a report's column: a scalar row is one entry, a matrix row one per entry."""
    out = {}
    for row in report.rows:
        value = getattr(row, column)
        if np.ndim(value) == 0:
            out[row.name] = float(value)
        else:
            out |= {f"{row.name}_" + "_".join(map(str, idx)): float(v) for idx, v in np.ndenumerate(value)}
    return out


def test_the_same_model_at_both_levels_passes_with_the_same_numbers_on_every_path():
    scalar = symgrad.check(scalar_model(), SCALAR_PARAMS, scalar_values())
    matrix = symgrad.check(matrix_model(), MATRIX_PARAMS, matrix_values())
    assert scalar.ok and matrix.ok, (scalar, matrix)
    columns = ["symbolic", "autodiff", "fd"] + (["torch"] if scalar.torch_max_rel_error is not None else [])
    assert (scalar.torch_max_rel_error is None) == (matrix.torch_max_rel_error is None)
    for column in columns:
        by_scalar, by_matrix = entries(scalar, column), entries(matrix, column)
        assert by_scalar.keys() == by_matrix.keys()  # W1_0_1 is the scalar model's W1_0_1
        for name in by_scalar:
            assert by_scalar[name] == pytest.approx(by_matrix[name], rel=1e-7, abs=1e-9), (column, name)
    assert len(scalar.rows) == len(SCALAR_PARAMS) and len(matrix.rows) == len(MATRIX_PARAMS)
    assert scalar.fd_steps.keys() == {str(s) for s in SCALAR_PARAMS}
    assert matrix.fd_steps.keys() == {str(s) for s in MATRIX_PARAMS}


def test_the_loss_gradient_at_both_levels_matches_a_hand_written_backward_pass():
    """An oracle outside symgrad: the network's backward pass written out in numpy."""
    pre = DATA_X @ W1_VALUE + B1_VALUE
    h = np.tanh(pre)
    d_out = 2 * (h @ W2_VALUE + B2_VALUE - DATA_Y)
    d_pre = (d_out @ W2_VALUE.T) * (1 - h**2)
    want = {"W1": DATA_X.T @ d_pre, "b1": d_pre.sum(0, keepdims=True), "W2": h.T @ d_out, "b2": d_out.sum(0, keepdims=True)}
    matrix = symgrad.check(matrix_model(), MATRIX_PARAMS, matrix_values())
    scalar = entries(symgrad.check(scalar_model(), SCALAR_PARAMS, scalar_values()), "autodiff")
    for row in matrix.rows:
        np.testing.assert_allclose(row.autodiff, want[row.name], rtol=1e-10)
        for idx, v in np.ndenumerate(want[row.name]):
            assert scalar[f"{row.name}_" + "_".join(map(str, idx))] == pytest.approx(v, rel=1e-10)


@pytest.fixture
def wrong_vjp():
    """A user function whose numeric VJP disagrees with its partials (3x² against 2x²)."""

    class wrongcube(sp.Function):
        nargs = 1

    symgrad.register(wrongcube, partials=lambda node: [3 * node.args[0] ** 2],
                     vjp=lambda g, ans, x: [g * 2.0 * x * x], evaluate=lambda backend, x: x * x * x)
    yield wrongcube
    RECORDS.pop(wrongcube, None)


def test_a_wrong_rule_fails_at_both_levels_and_finite_differences_still_agree(wrong_vjp):
    scalar = symgrad.check(scalar_model(wrong_vjp), SCALAR_PARAMS, scalar_values())
    matrix = symgrad.check(matrix_model(wrong_vjp), MATRIX_PARAMS, matrix_values())
    assert not scalar.ok and not matrix.ok
    assert str(scalar).endswith("FAIL") and str(matrix).endswith("FAIL")
    assert scalar.max_rel_error > 1e-3 and matrix.max_rel_error > 1e-3
    by_scalar, by_matrix = entries(scalar, "fd"), entries(matrix, "fd")
    for name in by_scalar:
        assert by_scalar[name] == pytest.approx(by_matrix[name], rel=1e-6, abs=1e-8), name
    # the symbolic column (from the correct partials) agrees with the differences; autodiff does not
    assert entries(scalar, "symbolic")["W1_0_0"] == pytest.approx(by_scalar["W1_0_0"], rel=1e-5)
    assert entries(matrix, "autodiff")["W1_0_0"] != pytest.approx(by_matrix["W1_0_0"], rel=1e-3)


NAN = float("nan")
BAD_VALUES = {  # case -> (scalar values, matrix values, error class, the symbol the message names)
    "missing symbol": (lambda: _without(scalar_values(), b2), lambda: _without(matrix_values(), B2),
                       symgrad.UnboundSymbolError, "b2"),
    "NaN in a parameter": (lambda: scalar_values() | {b2: NAN}, lambda: matrix_values() | {B2: np.array([[NAN]])},
                           symgrad.NonFiniteError, "b2"),
    "NaN in the data": (lambda: scalar_values() | {y: np.r_[DATA_Y[:-1, 0], NAN]},
                        lambda: matrix_values() | {Y: np.r_[DATA_Y[:-1], [[NAN]]]}, symgrad.NonFiniteError, "Y|y"),
    "text for a parameter": (lambda: scalar_values() | {b2: "one"}, lambda: matrix_values() | {B2: np.array([["one"]])},
                             symgrad.DTypeError, "b2"),
    "complex parameter": (lambda: scalar_values() | {b2: 1 + 2j}, lambda: matrix_values() | {B2: np.array([[1 + 2j]])},
                          symgrad.DTypeError, "b2"),
    "wrong shape of a parameter": (lambda: scalar_values() | {b2: np.ones(3)}, lambda: matrix_values() | {B2: np.ones((1, 3))},
                                   symgrad.ShapeError, "b2"),
    "wrong shape of the data": (lambda: scalar_values() | {y: np.ones(N_SAMPLES + 1)},
                                lambda: matrix_values() | {Y: np.ones((N_SAMPLES + 1, 1))}, symgrad.ShapeError, "Y|y"),
}


def _without(values, symbol):
    return {k: v for k, v in values.items() if k != symbol}


ENTRY_POINTS = {
    "check": lambda expr, wrt, values: symgrad.check(expr, wrt, values),
    "autodiff": lambda expr, wrt, values: symgrad.autodiff.grad(expr, wrt, values),
    "finite differences": lambda expr, wrt, values: finite_difference(expr, wrt, values),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_values_get_the_same_error_naming_the_symbol_at_both_levels(case, entry):
    scalar_values_of, matrix_values_of, error, symbol = BAD_VALUES[case]
    run = ENTRY_POINTS[entry]
    with pytest.raises(error) as at_scalar:
        run(scalar_model(), SCALAR_PARAMS, scalar_values_of())
    with pytest.raises(error) as at_matrix:
        run(matrix_model(), MATRIX_PARAMS, matrix_values_of())
    for raised in (at_scalar, at_matrix):
        assert type(raised.value) is error  # not a subclass at one level only
        assert any(s in str(raised.value).replace("b2_0_0", "b2") for s in symbol.split("|")), str(raised.value)
        assert "Traceback" not in str(raised.value)


def test_the_binder_reads_the_sizes_off_matrices_and_the_batch_off_per_sample_arrays():
    bound, batch = bind([xs[0], b2], {xs[0]: DATA_X[:, 0], b2: 0.5})
    assert batch == (N_SAMPLES,) and bound[b2].shape == ()
    bound, sizes = bind([X, N, b2], {X: DATA_X, b2: 0.5})
    assert sizes == {N: N_SAMPLES} and float(bound[N]) == N_SAMPLES and bound[b2].shape == ()
    with pytest.raises(symgrad.ShapeError, match="parameter b2_0_0 must be a single number"):
        bind([X, b2], {X: DATA_X, b2: np.ones(3)})  # a matrix model has no batch of scalars
    _, sizes = bind([b2], {b2: 0.5}, sizes=True)  # a matrix model of explicit matrices fixes no size
    assert sizes == {}


def test_large_matrix_parameters_are_checked_along_directions_and_data_entries_one_by_one():
    """Above FD_ENTRIES entries a matrix parameter is compared along random directions (its fd
    column is empty); a per-sample data array is still differenced entry by entry (each moves one sample)."""
    n = FD_ENTRIES + 1
    A, v = sp.MatrixSymbol("A", n, 1), sp.MatrixSymbol("v", 1, 1)
    values = {A: np.linspace(-1, 1, n)[:, None], v: np.array([[0.7]])}
    report = symgrad.check(SumAll(Map(sp.Lambda(U, sp.sin(U)), A * v)), [A, v], values)
    assert report.ok and report.rows[0].fd is None and np.shape(report.rows[1].fd) == (1, 1), report
    t = sp.Symbol("t", real=True)
    data = np.linspace(-1, 1, n)
    report = symgrad.check(sp.sin(t * b2), [t, b2], {t: data, b2: 0.7})
    assert report.ok and np.shape(report.rows[0].fd) == (n,)
    np.testing.assert_allclose(report.rows[0].fd, 0.7 * np.cos(0.7 * data), rtol=1e-6)


def test_the_table_prints_one_line_per_symbol_and_per_entry_of_a_small_matrix():
    scalar = str(symgrad.check(scalar_model(), SCALAR_PARAMS, scalar_values())).splitlines()
    matrix = str(symgrad.check(matrix_model(), MATRIX_PARAMS, matrix_values())).splitlines()
    w1_01 = entries(symgrad.check(matrix_model(), MATRIX_PARAMS, matrix_values()), "autodiff")["W1_0_1"]
    by_scalar = [line for line in scalar if line.startswith("W1_0_1 ")]
    by_matrix = [line for line in matrix if line.startswith("W1[0,1] ")]
    assert len(by_scalar) == len(by_matrix) == 1
    for line in by_scalar + by_matrix:
        assert float(line.split()[2]) == pytest.approx(w1_01, rel=1e-8)  # the autodiff column
    assert sum(line.startswith(("W1[", "b1[", "W2[", "b2[")) for line in matrix) == IN * HIDDEN + 2 * HIDDEN + 1


def test_the_hessian_oracles_give_the_same_second_derivatives_at_both_levels():
    """`symgrad.hessian_check` at scalar level (one 0-d parameter) and at matrix level (a
    MatrixSymbol's entries): the diagonal of W2's Hessian is each scalar weight's own."""
    from symgrad.hessian_check import fd_hessian, torch_hessian

    by_matrix = fd_hessian(matrix_model(), W2, matrix_values())
    assert by_matrix.shape == (HIDDEN, HIDDEN)
    h = np.tanh(DATA_X @ W1_VALUE + B1_VALUE)
    np.testing.assert_allclose(by_matrix, 2 * h.T @ h, rtol=1e-6)  # the loss is quadratic in W2
    for j in range(HIDDEN):
        by_scalar = fd_hessian(scalar_model(), w2[j], scalar_values())
        assert by_scalar.shape == (1, 1) and by_scalar[0, 0] == pytest.approx(by_matrix[j, j], rel=1e-6)
    torch_matrix = torch_hessian(matrix_model(), W2, matrix_values())
    if torch_matrix is not None:
        np.testing.assert_allclose(torch_matrix, 2 * h.T @ h, rtol=1e-10)
        assert torch_hessian(scalar_model(), w2[0], scalar_values())[0, 0] == pytest.approx(torch_matrix[0, 0], rel=1e-10)
