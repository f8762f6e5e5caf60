"""Out of core: training on memory-mapped `.npy` files holds a few chunks in memory, not the data.

Peak memory is traced with tracemalloc (numpy reports its buffers to it) and compared with one
chunk's call on the numpy path; the data files are several times larger than the bound. Each
measured run follows an untraced one, so imports and one-time caches are not counted.
"""

import tracemalloc

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dask[array] is not installed (pip install 'symgrad[distributed]')")
import dask  # noqa: E402

import symgrad  # noqa: E402
from symgrad import models, nn  # noqa: E402
from symgrad.distributed import from_npy  # noqa: E402
from symgrad.optim import SGD, Adam  # noqa: E402
from symgrad.train import fit  # noqa: E402

THREADS = 2


def _peak(fn):
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _one_chunk_peak(kernel, params, read):
    """Peak memory of reading one chunk from its file and calling the kernel on it (numpy path)."""
    return _peak(lambda: kernel.loss_and_grad({**read(), **params}))[1]


def test_seed_mlp_trains_from_a_memory_mapped_file_holding_a_few_chunks(tmp_path):
    model = models.seed()
    kernel = symgrad.compile(model)
    n, rows = 400_000, 5_000
    rng = np.random.default_rng(0)
    table = np.column_stack([rng.normal(size=(n, 4)), rng.uniform(size=n)])
    np.save(tmp_path / "seed.npy", table)
    whole = models.data_values(model, table[:, :4], table[:, 4:])
    want = kernel.loss_and_grad({**whole, **model.initial_values()})
    data_bytes = table.nbytes
    del table, whole
    columns = dict(zip([*model.inputs, *model.targets], from_npy(tmp_path / "seed.npy", rows, columns=True), strict=True))

    def read_first():
        first = np.array(np.load(tmp_path / "seed.npy", mmap_mode="r")[:rows])
        return models.data_values(model, first[:, :4], first[:, 4:])

    bound = (THREADS + 2) * _one_chunk_peak(kernel, model.initial_values(), read_first)
    with dask.config.set(scheduler="threads", num_workers=THREADS):
        kernel.loss_and_grad({**columns, **model.initial_values()})  # warm-up
        got, peak_grad = _peak(lambda: kernel.loss_and_grad({**columns, **model.initial_values()}))
        part = {s: a[: 20 * rows] for s, a in columns.items()}  # 20 steps: tracing makes each one slow
        (_, losses), peak_fit = _peak(lambda: fit(kernel, model.initial_values(), part, Adam(0.01), epochs=1,
                                                  minibatch=True))
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    assert len(losses) == 20
    assert peak_grad < bound < data_bytes / 2, (peak_grad, bound, data_bytes)  # the numpy path: ~7x the data
    assert peak_fit < bound, (peak_fit, bound)


def test_npy_columns_read_one_column_per_task_and_pickle_as_paths(tmp_path):
    import pickle

    table = np.arange(60.0).reshape(12, 5)
    np.save(tmp_path / "t.npy", table)
    cols = from_npy(tmp_path / "t.npy", 5, columns=True)
    assert [c.chunks for c in cols] == [((5, 5, 2),)] * 5
    np.testing.assert_array_equal(np.column_stack(dask.compute(*cols)), table)
    graph = dict(cols[3].__dask_graph__())
    assert len(graph) == 3 and len(pickle.dumps(graph)) < 2_000  # one read per chunk; the path, not the data
    with pytest.raises(symgrad.ShapeError, match="columns=True needs a 2-D file"):
        np.save(tmp_path / "v.npy", np.arange(4.0))
        from_npy(tmp_path / "v.npy", 2, columns=True)


def test_784_feature_matrix_model_trains_from_memory_mapped_files(tmp_path):
    model = nn.matrix_mlp([784, 16, 10], mean=False, name="mnist_like")
    kernel = symgrad.compile(model)
    n, rows = 4_000, 250
    rng = np.random.default_rng(1)
    np.save(tmp_path / "X.npy", rng.uniform(size=(n, 784)))
    np.save(tmp_path / "Y.npy", np.eye(10)[rng.integers(0, 10, n)])
    X, Y = model.inputs[0], model.targets[0]
    lazy = {X: from_npy(tmp_path / "X.npy", rows), Y: from_npy(tmp_path / "Y.npy", rows)}
    data_bytes = n * 794 * 8

    def read_first():
        return {s: np.array(np.load(tmp_path / f"{s}.npy", mmap_mode="r")[:rows]) for s in (X, Y)}

    bound = (THREADS + 2) * _one_chunk_peak(kernel, model.initial_values(), read_first)
    start = model.initial_values()
    with dask.config.set(scheduler="threads", num_workers=THREADS):
        fit(kernel, start, {s: a[: 2 * rows] for s, a in lazy.items()}, SGD(1e-3), epochs=1, minibatch=True)  # warm-up
        (params, losses), peak = _peak(lambda: fit(kernel, start, lazy, SGD(1e-3), epochs=1, minibatch=True))
        full_before = kernel.loss({**lazy, **start})
        full_after = kernel.loss({**lazy, **params})
    assert len(losses) == n // rows
    assert full_after < full_before
    assert peak < bound < data_bytes / 3, (peak, bound, data_bytes)


def test_a_chunk_is_one_task_that_reads_its_columns_and_calls_the_kernel(tmp_path):
    from symgrad.distributed import FAN_IN, Plan

    model = models.seed()
    kernel = symgrad.compile(model)
    table = np.random.default_rng(2).normal(size=(1_000, 5))
    np.save(tmp_path / "s.npy", table)
    columns = dict(zip([*model.inputs, *model.targets], from_npy(tmp_path / "s.npy", 100, columns=True), strict=True))
    total = Plan(kernel, "loss_and_grad", {**columns, **model.initial_values()}, "raise").total()
    adds = -(-10 // FAN_IN) + 1  # two groups, then their sum
    assert len(dict(total.__dask_graph__())) == 10 + adds + 2  # the calls, the tree, the kernel and the parameters
    whole = models.data_values(model, table[:, :4], table[:, 4:])
    want = kernel.loss_and_grad({**whole, **model.initial_values()})
    np.testing.assert_allclose(dask.compute(total)[0][1], want[1], rtol=1e-12)
