"""Dask arrays into kernels: the same numbers as numpy, from chunk calls and a fixed tree reduction."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dask[array] is not installed (pip install 'symgrad[distributed]')")
import dask  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import symgrad  # noqa: E402
from symgrad import distributed, models, nn, remote  # noqa: E402
from symgrad.errors import NonFiniteError, ShapeError, UnsupportedError, WorkerError  # noqa: E402


@pytest.fixture(scope="module")
def seed():
    model = models.seed()
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(1000, 4)), rng.uniform(size=(1000, 1))
    return model, symgrad.compile(model), models.data_values(model, X, Y), model.initial_values()


@pytest.fixture(scope="module")
def matrix():
    model = nn.matrix_mlp([4, 8, 3], mean=False, name="mlp_sum")
    X, Y = models.mlp_matrix_data(n_per_class=40)
    return model, symgrad.compile(model), {model.inputs[0]: X, model.targets[0]: Y}, model.initial_values()


def _lazy(data, chunks):
    return {s: da.from_array(v, chunks=(chunks, -1) if np.ndim(v) == 2 else (chunks,)) for s, v in data.items()}


def _close(got, want, rtol=1e-12):
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=rtol, atol=0)


def _chunkings(n):
    """Random chunk sizes along the batch axis (empty chunks included) that add up to n."""
    cuts = st.lists(st.integers(0, n), min_size=0, max_size=12).map(sorted)
    return cuts.map(lambda c: tuple(b - a for a, b in zip([0, *c], [*c, n])))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_scalar_kernel_on_any_chunking_equals_numpy(seed, data):
    model, kernel, columns, params = seed
    chunks = data.draw(_chunkings(1000))
    lazy = _lazy(columns, chunks)
    loss, grads = kernel.loss_and_grad({**columns, **params})
    got_loss, got_grads = kernel.loss_and_grad({**lazy, **params})
    _close(got_loss, loss)
    _close(got_grads, grads)
    _close(kernel.loss({**lazy, **params}), loss)
    _close(kernel.grad({**lazy, **params}), grads)


def test_scalar_per_sample_results_stay_chunked(seed):
    model, kernel, columns, params = seed
    lazy = _lazy(columns, 96)
    per_sample = kernel.per_sample_grad({**lazy, **params})
    assert isinstance(per_sample, da.Array) and per_sample.chunks[0] == lazy[model.inputs[0]].chunks[0]
    _close(per_sample.compute(), kernel.per_sample_grad({**columns, **params}))
    features = {s: lazy[s] for s in model.inputs}  # predict needs no targets
    (out,) = kernel.predict({**features, **params})
    _close(out.compute(), kernel.predict({**columns, **params})[0])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_matrix_kernel_on_any_chunking_equals_numpy(matrix, data):
    model, kernel, blocks, params = matrix
    lazy = _lazy(blocks, data.draw(_chunkings(120)))
    loss, grads = kernel.loss_and_grad({**blocks, **params})
    got_loss, got_grads = kernel.loss_and_grad({**lazy, **params})
    _close(got_loss, loss)
    for g, w in zip(got_grads, grads, strict=True):
        assert np.shape(g) == np.shape(w)
        _close(g, w, rtol=1e-11)  # entries near zero: cancellation between chunks
    (out,) = kernel.predict({model.inputs[0]: lazy[model.inputs[0]], **params})
    _close(out.compute(), kernel.predict({**blocks, **params})[0])


def test_reduction_order_is_fixed_bit_for_bit(seed):
    """Same chunks, same answer to the last bit, whichever scheduler runs the graph."""
    model, kernel, columns, params = seed
    lazy = _lazy(columns, 37)
    results = []
    for scheduler in ("threads", "sync", "threads"):
        with dask.config.set(scheduler=scheduler):
            results.append(kernel.loss_and_grad({**lazy, **params}))
    assert results[0] == results[1] == results[2]


def test_parameters_and_kernel_text_are_one_graph_node_each(seed):
    model, kernel, columns, params = seed
    plan = distributed.Plan(kernel, "loss_and_grad", {**_lazy(columns, 50), **params}, "raise")
    graph = dict(plan.total().__dask_graph__())
    shipped = [k for k in graph if str(k).startswith(("symgrad-params", "symgrad-kernel"))]
    assert sorted(str(k).split("-")[1] for k in shipped) == ["kernel", "params"]
    calls = [k for k in graph if str(k).startswith("chunk_call")]
    assert len(calls) == 20
    for key in calls:
        deps = {str(d) for d in dask.core.get_dependencies(graph, key)}
        assert {str(k) for k in shipped} <= deps


def test_nonfinite_data_in_one_chunk_is_named(seed):
    model, kernel, columns, params = seed
    bad = dict(columns)
    x = model.inputs[2]
    bad[x] = bad[x].copy()
    bad[x][777] = np.nan
    with pytest.raises(NonFiniteError, match=str(x)):
        kernel.loss_and_grad({**_lazy(bad, 100), **params})
    loss = kernel.loss({**_lazy(bad, 100), **params}, nonfinite="propagate")
    assert np.isnan(loss)


def test_mismatched_chunks_are_refused_with_how_to_rechunk(seed):
    model, kernel, columns, params = seed
    lazy = _lazy(columns, 100)
    y = model.targets[0]
    lazy[y] = lazy[y].rechunk(250)
    with pytest.raises(ShapeError, match=rf"chunked differently.*{y}\.rechunk"):
        kernel.loss({**lazy, **params})


def test_mismatched_lengths_are_refused(seed):
    model, kernel, columns, params = seed
    lazy = _lazy(columns, 100)
    y = model.targets[0]
    lazy[y] = lazy[y][:900]
    with pytest.raises(ShapeError, match="mismatched batch lengths"):
        kernel.loss({**lazy, **params})


def test_unknown_chunk_sizes_are_refused(seed):
    model, kernel, columns, params = seed
    lazy = _lazy(columns, 100)
    keep = lazy[model.inputs[0]] > -10  # boolean indexing: dask no longer knows the lengths
    lazy = {s: a[keep] for s, a in lazy.items()}
    with pytest.raises(ShapeError, match="unknown chunk sizes.*compute_chunk_sizes"):
        kernel.loss({**lazy, **params})


def test_mixed_numpy_and_dask_data_is_refused(seed):
    model, kernel, columns, params = seed
    lazy = _lazy(columns, 100)
    lazy[model.targets[0]] = columns[model.targets[0]]
    with pytest.raises(symgrad.InvalidArgumentError, match=r"numpy.*dask.*from_array"):
        kernel.loss({**lazy, **params})


def test_feature_axis_chunking_is_refused_with_how_to_chunk(matrix):
    model, kernel, blocks, params = matrix
    X = model.inputs[0]
    lazy = _lazy(blocks, 40)
    lazy[X] = da.from_array(blocks[X], chunks=(40, 2))
    with pytest.raises(ShapeError, match=r"feature axis.*rechunk\(\{1: -1\}\)"):
        kernel.loss({**lazy, **params})


def test_complex_dask_data_gets_the_numpy_error(seed):
    model, kernel, columns, params = seed
    lazy = _lazy(columns, 100)
    lazy[model.inputs[0]] = lazy[model.inputs[0]] * 1j
    with pytest.raises(symgrad.DTypeError, match="complex"):
        kernel.loss({**lazy, **params})


def test_missing_data_is_named(seed):
    model, kernel, columns, params = seed
    lazy = _lazy(columns, 100)
    del lazy[model.targets[0]]
    with pytest.raises(symgrad.UnboundSymbolError, match=str(model.targets[0])):
        kernel.loss({**lazy, **params})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=_chunkings(24))
def test_mean_over_the_batch_divides_by_the_whole_batch_not_each_chunk(chunks):
    """1/N inside the loss (the bundled mlp_matrix): each chunk's mean is scaled by its share of N."""
    model, kernel, (X, Y) = _MEAN
    lazy = {model.inputs[0]: da.from_array(X, chunks=(chunks, -1)), model.targets[0]: da.from_array(Y, chunks=(chunks, -1))}
    want = kernel.loss_and_grad({model.inputs[0]: X, model.targets[0]: Y, **model.initial_values()})
    got = kernel.loss_and_grad({**lazy, **model.initial_values()})
    _close(got[0], want[0])
    for g, w in zip(got[1], want[1], strict=True):
        _close(g, w)
    _close(kernel.loss({**lazy, **model.initial_values()}), want[0])


_MEAN = (models.mlp_matrix(), symgrad.compile(models.mlp_matrix()), models.mlp_matrix_data())


def test_batch_size_read_other_than_as_one_factor_is_refused_not_miscombined():
    """(mean)²: the chunks' results cannot be scaled into the whole batch's, so it is refused."""
    from symgrad.model import Model

    model, _, (X, Y) = _MEAN
    squared = Model("mean_squared", model.loss**2, model.params, model.inputs, model.targets, model.outputs, model.init)
    kernel = symgrad.compile(squared, cache=False)
    lazy = _lazy({model.inputs[0]: X, model.targets[0]: Y}, 8)
    with pytest.raises(UnsupportedError, match=r"batch size N as a number other than as one factor 1/N"):
        kernel.loss_and_grad({**lazy, **model.initial_values()})


def test_import_symgrad_does_not_import_dask():
    code = "import sys, symgrad; symgrad.compile(symgrad.nn.mlp([2, 1]), cache=False); print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- the kernel travels as text ---------------------------------------------------------------


def test_spec_pickles_as_text_and_rebuilds_the_module_from_it(seed, tmp_path, monkeypatch):
    model, kernel, columns, params = seed
    spec = remote.KernelSpec.of(kernel)
    raw = pickle.dumps(spec)
    assert kernel.source.encode() in raw and b"symgrad_kernel_" not in raw  # text, not a module or function
    code = (
        "import pickle, sys, numpy as np\n"
        "spec = pickle.loads(sys.stdin.buffer.read())\n"
        "k = spec.kernel()\n"
        "print(k.cache_status, k.loss({s: np.ones(3) for s in spec.inputs} | {p: 0.1 for p in spec.wrt}))\n"
    )
    env = {"SYMGRAD_CACHE_DIR": str(tmp_path), "PYTHONPATH": ":".join(sys.path)}
    first = subprocess.run([sys.executable, "-c", code], input=raw, capture_output=True, check=True, env=env)
    second = subprocess.run([sys.executable, "-c", code], input=raw, capture_output=True, check=True, env=env)
    want = kernel.loss({**{s: np.ones(3) for s in kernel.inputs}, **dict.fromkeys(kernel.wrt, 0.1)})
    assert first.stdout.split() == [b"miss", repr(want).encode()]
    assert second.stdout.split() == [b"hit", repr(want).encode()]  # the worker's own cache entry


def test_worker_cache_hit_miss_and_tampered_entry(seed, tmp_path, monkeypatch):
    model, kernel, columns, params = seed
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path))
    spec = remote.KernelSpec.of(kernel)
    assert spec.key == kernel.cache_key is not None
    statuses = []
    for tamper in (False, False, True, False):
        remote.forget()
        if tamper:
            entry = symgrad.cache.KernelCache(tmp_path).path(spec.key)
            entry.write_text(entry.read_text().replace("loss", "lozz"))
        loaded = spec.kernel()
        statuses.append(loaded.cache_status)
        assert loaded.loss({**columns, **params}) == kernel.loss({**columns, **params})
    remote.forget()
    assert statuses == ["miss", "hit", "rebuilt", "hit"]


def test_altered_text_is_never_executed(seed):
    model, kernel, columns, params = seed
    spec = remote.KernelSpec.of(kernel)
    bad = remote.KernelSpec(**{**spec.__dict__, "source": spec.source + "\nraise SystemExit\n", "key": None})
    with pytest.raises(WorkerError, match="arrived altered"):
        bad.kernel()


def test_worker_that_cannot_load_the_text_gives_our_error(seed):
    """A worker without numpy (simulated by a module it cannot import) reports it as a WorkerError."""
    model, kernel, columns, params = seed
    source = kernel.source.replace("import numpy as np", "import numpy_not_installed_here as np")
    spec = remote.KernelSpec("broken", source, remote.digest(source), None, tuple(kernel.wrt),
                             tuple(kernel.inputs), "float64")
    with pytest.raises(WorkerError, match=r"could not load kernel 'broken'.*numpy_not_installed_here.*install numpy"):
        spec.kernel()
    shipped = getattr(kernel, "shipped_kernel", kernel)  # the kernel whose text travels
    with pytest.raises(WorkerError, match="numpy_not_installed_here"):  # and through a dask graph
        object.__setattr__(shipped, "_dask_spec", spec)
        try:
            kernel.loss({**_lazy(columns, 500), **params})
        finally:
            del shipped._dask_spec


def test_distributed_client_runs_the_same_numbers_and_workers_load_the_text(seed, tmp_path, monkeypatch):
    dd = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    model, kernel, columns, params = seed
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path))  # the in-process workers' own cache
    remote.forget()
    lazy = _lazy(columns, 125)
    from symgrad.optim import Adam
    from symgrad.train import fit

    want = kernel.loss_and_grad({**lazy, **params})  # local threads
    want_fit = fit(kernel, params, lazy, Adam(0.01), epochs=1, minibatch=True, seed=3)
    with dd.Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0") as client:
        assert distributed._client() is client  # parameters and kernel text are scattered to every worker
        got = kernel.loss_and_grad({**lazy, **params})
        got_fit = fit(kernel, params, lazy, Adam(0.01), epochs=1, minibatch=True, seed=3)
        statuses = client.run(remote.loaded_status)
    remote.forget()
    assert got == want
    assert got_fit[0] == want_fit[0] and got_fit[1].tolist() == want_fit[1].tolist()
    assert list(statuses.values()) == [{kernel.name: "miss"}] * 2  # loaded from the text, stored in the cache
