"""Every option of `symgrad.compile` means the same at every level.

Each test runs one option on four kinds of model: a scalar expression, a matrix-level expression
(an entrywise `Map`), a matrix-level `Model` (`nn.matrix_mlp`) and a scalar dense `Model`
(`nn.mlp`, answered through its matrix form by a lifted `Kernel` (level `lift.Lifted`), at a batch size that takes the
matrix half and one that takes the per-sample loop). Numbers are compared with numeric autodiff
(`symgrad.autodiff`, which walks the expression, not the generated code)."""

import json
from dataclasses import dataclass

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import nn
from symgrad.cache import KernelCache
from symgrad.errors import InvalidArgumentError, NonFiniteError, SizeLimitError, UnsupportedError
from symgrad.lift import Lifted
from symgrad.matrix import Map, SumAll


@dataclass
class Case:
    kind: str
    model: object  # the first argument of symgrad.compile
    wrt: list
    inputs: list
    options: dict  # wrt= / inputs= when `model` is an expression
    values: object  # rows -> a values mapping
    loss: object  # the loss expression autodiff reads

    def compile(self, **options):
        return symgrad.compile(self.model, **self.options, **options)

    def reference(self, values):
        result = symgrad.autodiff.backward(self.loss, self.wrt, values)
        return float(np.sum(result.value)), flat(result.grads)


def flat(grads):
    return np.concatenate([np.ravel(np.asarray(g, dtype=np.float64)) for g in grads])


def _logistic(z, t):
    """The logistic loss as a reader writes it: log(1 + e^z) − t·z (e^z overflows for large z)."""
    return sp.log(1 + sp.exp(z)) - t * z


def scalar_case():
    x, y, w, b = sp.symbols("x y w b")
    loss = _logistic(w * x + b, y)

    def values(rows, rng):
        return {x: rng.normal(size=rows), y: rng.integers(0, 2, rows).astype(float), w: 0.3, b: -0.2}

    return Case("scalar expression", loss, [w, b], [x, y], {"wrt": [w, b], "inputs": [x, y]}, values, loss)


def matrix_case():
    N = sp.Symbol("N", integer=True, positive=True)
    X, Y, W = sp.MatrixSymbol("X", N, 2), sp.MatrixSymbol("Y", N, 1), sp.MatrixSymbol("W", 2, 1)
    z, t = sp.symbols("z t")
    loss = SumAll(Map(sp.Lambda((z, t), _logistic(z, t)), X * W, Y))

    def values(rows, rng):
        return {X: rng.normal(size=(rows, 2)), Y: rng.integers(0, 2, (rows, 1)).astype(float),
                W: np.array([[0.3], [-0.2]])}

    return Case("matrix expression", loss, [W], [X, Y], {"wrt": [W], "inputs": [X, Y]}, values, loss)


def model_case():
    model = nn.matrix_mlp([3, 4, 2], activation="tanh")
    X, Y = model.inputs[0], model.targets[0]

    def values(rows, rng):
        return {**model.initial_values(), X: rng.normal(size=(rows, 3)), Y: np.eye(2)[rng.integers(0, 2, rows)]}

    return Case("matrix Model", model, list(model.params), list(model.data), {}, values, model.loss)


def lifted_case():
    model = nn.mlp([2, 3, 1], seed=0)

    def values(rows, rng):
        data = {s: rng.normal(size=rows) for s in model.inputs}
        return {**model.initial_values(), **data, **{s: rng.uniform(size=rows) for s in model.targets}}

    return Case("lifted nn.mlp", model, list(model.params), list(model.data), {}, values, model.loss)


CASES = [scalar_case, matrix_case, model_case, lifted_case]
ROWS = [5, 40]  # the lifted kernel answers 5 rows by its per-sample loop, 40 by its matrix half


@pytest.fixture(params=CASES, ids=lambda f: f.__name__[:-5])
def case(request):
    return request.param()


def assert_matches(kernel, case, values, rtol=1e-10):
    loss, grads = kernel.loss_and_grad(values)
    want_loss, want_grads = case.reference(values)
    np.testing.assert_allclose(loss, want_loss, rtol=rtol)
    np.testing.assert_allclose(flat(grads), want_grads, rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(kernel.loss(values), want_loss, rtol=rtol)


# --- method -------------------------------------------------------------------------------------

def test_reverse_method_is_the_default_everywhere(case):
    rng = np.random.default_rng(0)
    kernel = case.compile(method="reverse", cache=False)
    for rows in ROWS:
        assert_matches(kernel, case, case.values(rows, rng))


def test_method_diff_gives_the_same_numbers_or_is_refused_by_name(case):
    rng = np.random.default_rng(1)
    if case.kind.startswith("matrix"):
        with pytest.raises(UnsupportedError, match=r"method='diff' does not apply to a matrix-level model"):
            case.compile(method="diff", cache=False)
        return
    kernel = case.compile(method="diff", cache=False)
    assert not isinstance(kernel.level, Lifted)  # the matrix form has reverse mode only: the scalar kernel answers
    for rows in ROWS:
        assert_matches(kernel, case, case.values(rows, rng))


def test_an_unknown_method_is_the_same_error_everywhere(case):
    with pytest.raises(InvalidArgumentError, match=r"method must be one of \('reverse', 'diff'\), got 'forward'"):
        case.compile(method="forward", cache=False)


# --- rewrites -----------------------------------------------------------------------------------

def test_rewrites_on_and_off_give_the_same_numbers_where_both_are_finite(case):
    rng = np.random.default_rng(2)
    on, off = case.compile(cache=False), case.compile(rewrites=(), cache=False)
    for rows in ROWS:
        values = case.values(rows, rng)
        assert_matches(on, case, values)
        assert_matches(off, case, values)


@pytest.mark.parametrize("make", [scalar_case, matrix_case], ids=["scalar", "matrix"])
def test_the_stable_rewrites_reach_both_levels(make):
    """log(1 + e^z) becomes softplus: finite where e^z overflows; rewrites=() keeps the text as written."""
    case = make()
    data = case.values(4, np.random.default_rng(3))
    big = {s: np.full_like(v, 1e4) if s in case.inputs else v for s, v in data.items()}  # e^z overflows
    on, off = case.compile(cache=False), case.compile(rewrites=(), cache=False)
    assert "softplus" in on.source and "softplus" not in off.source
    assert np.isfinite(on.loss(big))
    with pytest.raises(NonFiniteError, match="loss"):
        off.loss(big)
    with pytest.raises(NonFiniteError):
        off.loss_and_grad(big)
    assert not np.isfinite(off.loss(big, nonfinite="propagate"))
    only = case.compile(rewrites=["log_of_sum"], cache=False)  # a named subset applies at either level
    assert "softplus" in only.source


def test_rewrites_reach_both_halves_of_a_lifted_kernel():
    """nn.mlp's σ' = σ(1 − σ) is rewritten to σ(z)σ(−z) in the scalar half only when rewrites are on."""
    case = lifted_case()
    on, off = case.compile(cache=False), case.compile(rewrites=(), cache=False)
    assert isinstance(on.level, Lifted) and isinstance(off.level, Lifted)
    assert on.level.scalar_half.source != off.level.scalar_half.source
    rng = np.random.default_rng(4)
    for rows in ROWS:
        values = case.values(rows, rng)
        np.testing.assert_allclose(flat(on.grad(values)), flat(off.grad(values)), rtol=1e-10)


def test_an_unknown_rewrite_is_the_same_error_everywhere(case, tmp_path):
    for cache in (False, tmp_path):
        with pytest.raises(InvalidArgumentError, match=r"unknown rewrite rule\(s\) \['nope'\]"):
            case.compile(rewrites=["nope"], cache=cache)
        case.compile(cache=tmp_path)  # a cached entry must not let an unknown name through


# --- max_ops ------------------------------------------------------------------------------------

def _limit_of(error):
    return int(str(error.value).split(" has ")[1].split(" operations")[0])


def test_max_ops_refuses_the_loss_and_then_the_gradient(case):
    with pytest.raises(SizeLimitError, match=r"the loss has \d+ operations, over the limit max_ops=1;") as error:
        case.compile(max_ops=1, cache=False)
    loss_ops = _limit_of(error)
    with pytest.raises(SizeLimitError, match=r"the loss with its gradient has \d+ operations") as error:
        case.compile(max_ops=loss_ops, cache=False)
    assert _limit_of(error) > loss_ops
    kernel = case.compile(max_ops=_limit_of(error), cache=False)
    assert_matches(kernel, case, case.values(ROWS[-1], np.random.default_rng(5)))


def test_max_ops_refuses_even_when_the_kernel_is_cached(case, tmp_path):
    case.compile(cache=tmp_path)
    with pytest.raises(SizeLimitError, match="max_ops=1;"):
        case.compile(max_ops=1, cache=tmp_path)


# --- nonfinite ----------------------------------------------------------------------------------

def test_nan_in_the_data_is_named_unless_propagated(case):
    for rows in ROWS:
        values = case.values(rows, np.random.default_rng(6))
        data = case.inputs[0]
        values[data] = values[data].copy()
        values[data].flat[0] = np.nan
        kernel = case.compile(cache=False)
        for call in (kernel.loss, kernel.loss_and_grad, kernel.grad):
            with pytest.raises(NonFiniteError, match=rf"value of {data} contains NaN or Inf"):
                call(values)
        assert np.isnan(kernel.loss(values, nonfinite="propagate"))


def _overflowing(case, rows):
    """Finite values whose products overflow to ±inf and meet: the results are NaN."""
    values = case.values(rows, np.random.default_rng(7))
    out = {}
    for s, v in values.items():
        sign = np.where(np.arange(np.size(v)) % 2, -1.0, 1.0).reshape(np.shape(v))
        out[s] = 1e200 * sign if s in case.wrt else np.full_like(np.asarray(v, dtype=float), 1e200)
    return {s: float(v) if np.ndim(v) == 0 else v for s, v in out.items()}


def test_nonfinite_results_from_finite_data_are_named_unless_propagated(case):
    kernel = case.compile(cache=False)
    for rows in ROWS:
        values = _overflowing(case, rows)
        with pytest.raises(NonFiniteError, match=r"computed NaN or Inf for loss"):
            kernel.loss(values)
        with pytest.raises(NonFiniteError, match=r"computed NaN or Inf for .*loss"):
            kernel.loss_and_grad(values)
        loss, grads = kernel.loss_and_grad(values, nonfinite="propagate")
        assert not np.isfinite(loss) or not np.isfinite(flat(grads)).all()


def test_an_unknown_nonfinite_policy_is_the_same_error_everywhere(case):
    kernel = case.compile(cache=False)
    with pytest.raises(InvalidArgumentError, match=r"nonfinite must be one of .*got 'ignore'"):
        kernel.loss_and_grad(case.values(ROWS[-1], np.random.default_rng(8)), nonfinite="ignore")


# --- dtype --------------------------------------------------------------------------------------

def test_float32_kernels_compute_in_float32_close_to_float64(case):
    rng = np.random.default_rng(9)
    single = case.compile(dtype="float32", cache=False)
    assert single.dtype == np.float32
    for rows in ROWS:
        values = case.values(rows, rng)
        loss, grads = single.loss_and_grad(values)
        want_loss, want_grads = case.reference(values)
        np.testing.assert_allclose(loss, want_loss, rtol=1e-4)
        np.testing.assert_allclose(flat(grads), want_grads, rtol=1e-3, atol=1e-4)


def test_an_unknown_dtype_is_the_same_error_everywhere(case):
    with pytest.raises(InvalidArgumentError, match=r"dtype must be one of \('float64', 'float32'\), got 'float16'"):
        case.compile(dtype="float16", cache=False)


# --- cache --------------------------------------------------------------------------------------

def test_the_cache_misses_then_hits_with_equal_results(case, tmp_path):
    first, second = case.compile(cache=tmp_path), case.compile(cache=tmp_path)
    assert (first.cache_status, second.cache_status) == ("miss", "hit")
    assert case.compile(cache=False).cache_status == "off"
    values = case.values(ROWS[-1], np.random.default_rng(10))
    assert_matches(second, case, values)
    np.testing.assert_array_equal(flat(first.grad(values)), flat(second.grad(values)))


def test_options_that_change_the_code_are_separate_cache_entries(case, tmp_path):
    case.compile(cache=tmp_path)
    count = len(KernelCache(tmp_path).entries())
    for options in ({"rewrites": ()}, {"dtype": "float32"}):
        assert case.compile(cache=tmp_path, **options).cache_status == "miss"
        assert case.compile(cache=tmp_path, **options).cache_status == "hit"
    assert len(KernelCache(tmp_path).entries()) == 3 * count


def test_a_planted_cache_entry_is_rebuilt_not_run(case, tmp_path):
    """Whoever can write the cache directory writes code under the right key; without the HMAC it
    is never executed, at any level (the rebuilt kernel computes the right numbers)."""
    values = case.values(ROWS[-1], np.random.default_rng(11))
    case.compile(cache=tmp_path).loss_and_grad(values)  # a lifted kernel builds its matrix half here
    entries = KernelCache(tmp_path).entries()
    assert len(entries) == (2 if case.kind == "lifted nn.mlp" else 1)
    planted = "raise SystemExit('planted code ran')\n"
    for entry in entries:
        data = json.loads(entry.read_text())
        data["source"] = planted
        entry.write_text(json.dumps(data))
    again = case.compile(cache=tmp_path)
    assert again.cache_status == "rebuilt"
    assert_matches(again, case, values)
    if isinstance(again.level, Lifted):
        assert again.level.matrix_half.cache_status == "rebuilt"
    assert case.compile(cache=tmp_path).cache_status == "hit"
    assert all(planted not in e.read_text() for e in KernelCache(tmp_path).entries())


# --- one Kernel class ---------------------------------------------------------------------------

def test_every_level_compiles_to_the_one_kernel_class(case):
    """Scalar and matrix kernels are one class whose level is data; the lifted kernel is a Kernel too."""
    from symgrad.runtime import Kernel

    kernel = case.compile(cache=False)
    assert type(kernel) is Kernel
    if not isinstance(kernel.level, Lifted):
        assert kernel.level.matrix == case.kind.startswith("matrix")
    for attribute in ("name", "wrt", "inputs", "dtype", "target", "source", "module", "ir", "cache_status", "cache_key"):
        getattr(kernel, attribute)
    values = case.values(ROWS[-1], np.random.default_rng(12))
    assert_matches(kernel, case, values)
    np.testing.assert_allclose(flat(kernel.grad(values)), case.reference(values)[1], rtol=1e-10)
    if case.kind.startswith("matrix"):
        with pytest.raises(UnsupportedError, match="is matrix-level"):
            kernel.per_sample_grad(values)
    else:
        np.testing.assert_allclose(kernel.per_sample_grad(values).sum(0), case.reference(values)[1], rtol=1e-10)


@pytest.mark.parametrize("make", [scalar_case, matrix_case], ids=["scalar", "matrix"])
def test_cuda_kernels_of_both_levels_are_one_class_with_the_numpy_answers(make):
    from symgrad.cuda_emu import Backend
    from symgrad.runtime import Kernel

    case = make()
    kernel = case.compile(target="cuda").on(Backend())
    assert type(kernel) is Kernel and kernel.target == "cuda"
    assert kernel.level is case.compile(cache=False).level
    values = case.values(ROWS[0], np.random.default_rng(13))
    assert_matches(kernel, case, values, rtol=1e-9)


def test_a_level_travels_to_dask_workers_as_itself():
    """A kernel shipped to a worker is rebuilt with its level; unpickling must not make a second one."""
    import pickle

    from symgrad.matrix.runtime import MATRIX
    from symgrad.remote import KernelSpec
    from symgrad.runtime import SCALAR

    for make, level in ((scalar_case, SCALAR), (matrix_case, MATRIX)):
        spec = KernelSpec.of(make().compile(cache=False))
        assert pickle.loads(pickle.dumps(spec)).level is level
        rebuilt = pickle.loads(pickle.dumps(spec)).kernel()
        assert rebuilt.level is level and rebuilt.cache_status == "off"
