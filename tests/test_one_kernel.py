"""Every kind of kernel is the one class and takes every option the same way (issue 11, part 5).

Kinds: a scalar expression, a matrix expression, a lifted `nn.mlp` (40 rows: its matrix half), CUDA
kernels of both levels run through the host emulation, a kernel rebuilt on a Dask worker from the
text it was sent (`symgrad.remote`), and the Hessian kernels of both levels. Gradient kinds are
`runtime.Kernel`, Hessian kinds `runtime.HessianKernel`. Each option test is parametrized over the
kinds; numbers are compared with numeric autodiff (`symgrad.autodiff`, which walks the expression,
not the generated code) or, for the Hessians, with their own float64 kernels.
"""

import json
from dataclasses import dataclass

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import nn, remote
from symgrad.cache import ENV_VAR, KernelCache
from symgrad.errors import InvalidArgumentError, NonFiniteError, SizeLimitError
from symgrad.matrix import Map, SumAll
from symgrad.runtime import HessianKernel, Kernel

N = sp.Symbol("N", integer=True, positive=True)
x, y, w, b = sp.symbols("x y w b")
X, Y, W = sp.MatrixSymbol("X", N, 2), sp.MatrixSymbol("Y", N, 1), sp.MatrixSymbol("W", 2, 1)
z, t = sp.symbols("z t")
SCALAR_LOSS = (sp.exp(w * x) - y) ** 2 + b**2 * x**2  # exp overflows at large w·x: a non-finite loss from finite data
MATRIX_LOSS = SumAll(Map(sp.Lambda((z, t), (sp.exp(z) - t) ** 2), X * W, Y))
MLP = nn.mlp([2, 3, 1], seed=0)
ROWS = 40  # above the per-sample loop's limit: the lifted kernel answers through its matrix half


def scalar_values(rng, scale=1.0):
    return {x: rng.normal(size=ROWS), y: rng.normal(size=ROWS), w: 0.3 * scale, b: -0.2}


def matrix_values(rng, scale=1.0):
    return {X: rng.normal(size=(ROWS, 2)), Y: rng.normal(size=(ROWS, 1)), W: np.array([[0.3], [-0.2]]) * scale}


def mlp_values(rng, scale=1.0):
    data = {s: rng.normal(size=ROWS) for s in MLP.inputs}  # sigmoid layers saturate: the targets overflow the square
    return {**MLP.initial_values(), **data, **{s: rng.uniform(size=ROWS) * scale**52 for s in MLP.targets}}


@dataclass
class Kind:
    name: str
    build: object  # **options -> kernel
    values: object  # (rng, scale) -> values; scale 1e3 overflows
    loss: object  # the expression autodiff reads (None: a Hessian kind)
    wrt: list
    cached: bool = True  # False: CuPy keeps its own cache (CUDA kernels are built, status "off")

    def call(self, kernel, values, nonfinite="raise"):
        """The kind's numbers: (loss, gradients) or the Hessian, flattened."""
        if isinstance(kernel, HessianKernel):
            return np.ravel(kernel.hessian(values, nonfinite))
        value, grads = kernel.loss_and_grad(values, nonfinite)
        return np.concatenate([[value], *[np.ravel(np.asarray(g, dtype=np.float64)) for g in grads]])

    def reference(self, values):
        result = symgrad.autodiff.backward(self.loss, self.wrt, values)
        return np.concatenate([[np.sum(result.value)], *[np.ravel(np.asarray(g, dtype=np.float64)) for g in result.grads]])


def _cuda(loss, wrt, inputs):
    def build(**options):
        from symgrad.cuda_emu import Backend

        return symgrad.compile(loss, wrt=wrt, inputs=inputs, target="cuda", **options).on(Backend())

    return build


def _remote(**options):
    """The scalar kernel as a Dask worker rebuilds it (this process stands in for the worker)."""
    remote.forget()
    return remote.KernelSpec.of(symgrad.compile(SCALAR_LOSS, wrt=[w, b], inputs=[x, y], **options)).kernel()


KINDS = [
    Kind("scalar", lambda **o: symgrad.compile(SCALAR_LOSS, wrt=[w, b], inputs=[x, y], **o), scalar_values,
         SCALAR_LOSS, [w, b]),
    Kind("matrix", lambda **o: symgrad.compile(MATRIX_LOSS, wrt=[W], inputs=[X, Y], **o), matrix_values,
         MATRIX_LOSS, [W]),
    Kind("lifted", lambda **o: symgrad.compile(MLP, **o), mlp_values, MLP.loss, list(MLP.params)),
    Kind("cuda scalar", _cuda(SCALAR_LOSS, [w, b], [x, y]), scalar_values, SCALAR_LOSS, [w, b], cached=False),
    Kind("cuda matrix", _cuda(MATRIX_LOSS, [W], [X, Y]), matrix_values, MATRIX_LOSS, [W], cached=False),
    Kind("remote", _remote, scalar_values, SCALAR_LOSS, [w, b]),
    Kind("hessian scalar", lambda **o: symgrad.compile_hessian(SCALAR_LOSS, wrt=[w, b], inputs=[x, y], **o),
         scalar_values, None, [w, b]),
    Kind("hessian matrix", lambda **o: symgrad.compile_hessian(MATRIX_LOSS, [W], [X, Y], **o), matrix_values,
         None, [W]),
]
CACHED = [k for k in KINDS if k.cached]


@pytest.fixture(params=KINDS, ids=lambda k: k.name)
def kind(request):
    return request.param


@pytest.fixture(params=CACHED, ids=lambda k: k.name)
def cached(request, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "worker"))  # the "worker's" own cache directory
    return request.param


def _entries(tmp_path):
    return KernelCache(tmp_path / "client").entries() + KernelCache(tmp_path / "worker").entries()


def test_every_kind_is_the_one_class_and_computes_the_reference(kind):
    kernel = kind.build(cache=False)
    assert type(kernel) is (HessianKernel if kind.loss is None else Kernel)
    values = kind.values(np.random.default_rng(0))
    got = kind.call(kernel, values)
    if kind.loss is not None:
        np.testing.assert_allclose(got, kind.reference(values), rtol=1e-9)
    elif kind.name == "hessian scalar":  # numeric autodiff's forward-over-reverse on dual numbers
        np.testing.assert_allclose(got, np.ravel(symgrad.autodiff.hessian(SCALAR_LOSS, [w, b], values)), rtol=1e-9)
    else:  # central differences of numeric autodiff's matrix gradient
        columns = []
        for j in range(2):
            step = np.zeros((2, 1))
            step[j] = 1e-5
            up, down = ({**values, W: values[W] + s} for s in (step, -step))
            grad = [np.ravel(symgrad.autodiff.backward(MATRIX_LOSS, [W], v).grads[0]) for v in (up, down)]
            columns.append((grad[0] - grad[1]) / 2e-5)
        np.testing.assert_allclose(got, np.ravel(np.stack(columns, axis=1)), rtol=1e-6)


def test_cache_statuses_mean_the_same_at_every_kind(cached, tmp_path):
    client = tmp_path / "client"
    first = cached.build(cache=client)
    second = cached.build(cache=client)
    assert (first.cache_status, second.cache_status) == ("miss", "hit")
    assert cached.build(cache=False).cache_status == "off"
    values = cached.values(np.random.default_rng(1))
    np.testing.assert_array_equal(cached.call(first, values), cached.call(second, values))


def test_cuda_kernels_are_built_outside_the_numpy_cache(tmp_path):
    for kind in (k for k in KINDS if not k.cached):
        assert kind.build(cache=tmp_path).cache_status == "off"
    assert KernelCache(tmp_path).entries() == []


def test_options_that_change_the_code_are_separate_entries_at_every_kind(cached, tmp_path):
    client = tmp_path / "client"
    cached.build(cache=client)
    count = len(_entries(tmp_path))
    for options in ({"rewrites": ()}, {"dtype": "float32"}):
        assert cached.build(cache=client, **options).cache_status == "miss"
        assert cached.build(cache=client, **options).cache_status == "hit"
    assert len(_entries(tmp_path)) == 3 * count


def test_a_planted_entry_is_rebuilt_not_run_at_every_kind(cached, tmp_path):
    client = tmp_path / "client"
    values = cached.values(np.random.default_rng(2))
    want = cached.call(cached.build(cache=client), values)  # a lifted kernel builds its matrix half here
    planted = "raise SystemExit('planted code ran')\n"
    entries = _entries(tmp_path)
    assert entries
    for entry in entries:
        data = json.loads(entry.read_text())
        data["source"] = planted
        entry.write_text(json.dumps(data))
    again = cached.build(cache=client)
    assert again.cache_status == "rebuilt"
    np.testing.assert_array_equal(cached.call(again, values), want)
    assert cached.build(cache=client).cache_status == "hit"
    assert all(planted not in e.read_text() for e in _entries(tmp_path))


def test_float32_means_the_same_at_every_kind(kind):
    single, double = kind.build(dtype="float32", cache=False), kind.build(cache=False)
    assert single.dtype == np.float32 and double.dtype == np.float64
    values = kind.values(np.random.default_rng(3))
    np.testing.assert_allclose(kind.call(single, values), kind.call(double, values), rtol=2e-4, atol=1e-4)


def test_nonfinite_results_are_our_error_unless_propagated_at_every_kind(kind):
    values = kind.values(np.random.default_rng(4), scale=1e3)  # finite data, overflowing results
    with pytest.raises(NonFiniteError, match="NaN or Inf"):
        kind.call(kind.build(cache=False), values)
    with np.errstate(all="ignore"):
        assert not np.isfinite(kind.call(kind.build(cache=False), values, nonfinite="propagate")).all()


def test_an_unknown_rewrite_is_the_same_error_at_every_kind(kind):
    with pytest.raises(InvalidArgumentError, match="no_such_rule"):
        kind.build(rewrites=("no_such_rule",), cache=False)


def test_max_ops_is_the_same_limit_at_every_kind(kind):
    with pytest.raises(SizeLimitError):
        kind.build(max_ops=3, cache=False)
    kind.build(max_ops=100_000, cache=False)


def test_an_unknown_dtype_is_the_same_error_at_every_kind(kind):
    with pytest.raises(InvalidArgumentError, match=r"dtype must be one of \('float64', 'float32'\), got 'float16'"):
        kind.build(dtype="float16", cache=False)


def test_cuda_settings_belong_to_cuda_kernels_only():
    kernel = KINDS[0].build(cache=False)
    with pytest.raises(InvalidArgumentError, match="target='numpy'.*target='cuda' kernels"):
        kernel.on(object())
    cuda = KINDS[3].build(cache=False)
    cuda.block = 64
    assert cuda.block == 64 and cuda.calls.block == 64 and "cuda_emu" in repr(cuda)
