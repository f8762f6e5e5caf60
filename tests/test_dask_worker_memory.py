"""Out of core on worker processes: training from a `.npy` file larger than each worker's memory
limit raises each worker's resident memory by a few chunks, not by the data.

Peak RSS is each worker's VmHWM after resetting it (Linux `clear_refs`), compared with the RSS it
had at rest, so imports and the process's start do not count; the bound is a multiple of one
chunk's data and a fraction of the file.
"""

import logging
import sys
import tracemalloc

import numpy as np
import pytest

pytest.importorskip("dask.array", reason="dask[array] is not installed (pip install 'symgrad[distributed]')")
distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
import cloudpickle  # noqa: E402  (dask.distributed depends on it)

import symgrad  # noqa: E402
from symgrad import models  # noqa: E402
from symgrad.distributed import from_npy  # noqa: E402
from symgrad.optim import SGD, Adam  # noqa: E402
from symgrad.train import fit  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test file


def _warm():
    import symgrad.distributed  # noqa: F401  (what a chunk call imports: counted in the RSS at rest)


def _reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _status_mb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024


def _can_reset_peak():
    try:
        _reset_peak()
        return _status_mb("VmHWM") > 0
    except (OSError, StopIteration):
        return False


@pytest.mark.skipif(not _can_reset_peak(), reason="needs Linux /proc/self/clear_refs and VmHWM to measure peak RSS")
def test_seed_mlp_trains_on_two_workers_from_a_file_larger_than_their_memory_limit(tmp_path):
    model = models.seed()
    kernel = symgrad.compile(model)
    n, rows, limit_mb = 7_000_000, 250_000, 256
    path = tmp_path / "seed.npy"
    table = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, 5))
    rng = np.random.default_rng(0)
    for i in range(0, n, 1_000_000):
        table[i : i + 1_000_000, :4] = rng.normal(size=(1_000_000, 4))
        table[i : i + 1_000_000, 4] = rng.uniform(size=1_000_000)
    table.flush()
    first = models.data_values(model, np.array(table[:rows, :4]), np.array(table[:rows, 4:]))
    del table
    start = model.initial_values()
    kernel.loss_and_grad({**first, **start})
    tracemalloc.start()
    kernel.loss_and_grad({**first, **start})
    call_mb = tracemalloc.get_traced_memory()[1] / 2**20  # one chunk's call, its data aside
    tracemalloc.stop()
    file_mb, chunk_mb = path.stat().st_size / 2**20, rows * 5 * 8 / 2**20
    data = dict(zip([*model.inputs, *model.targets], from_npy(path, rows, columns=True), strict=True))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=f"{limit_mb}MiB",
                                  silence_logs=logging.ERROR, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        client.run(_warm)
        rest = client.run(_status_mb, "VmRSS")
        client.run(_reset_peak)
        params, losses = fit(kernel, start, data, Adam(0.05), epochs=1, minibatch=True, seed=0)
        _, full = fit(kernel, params, data, SGD(0.01 / n), epochs=1)  # one full-batch step over every chunk
        peak = client.run(_status_mb, "VmHWM")
    assert file_mb > limit_mb  # the data do not fit in one worker's memory limit
    assert len(losses) == n // rows and np.mean(losses[-5:]) < 0.95 * np.mean(losses[:5])
    assert np.isfinite(full).all()
    grown = {w: peak[w] - rest[w] for w in peak}
    for mb in grown.values():
        assert mb < min(4 * (call_mb + chunk_mb), file_mb / 2), (grown, call_mb, chunk_mb, file_mb)
