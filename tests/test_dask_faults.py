"""Faults: a worker process killed in the middle of a gradient, a training process killed between
checkpoints. Dask recomputes what the lost worker held; resuming redoes the steps after the last
checkpoint; both end exactly where an undisturbed run ends."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dask[array] is not installed (pip install 'symgrad[distributed]')")
distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
import cloudpickle  # noqa: E402  (dask.distributed depends on it)

import symgrad  # noqa: E402
import symgrad.checkpoint  # noqa: E402
from symgrad import models  # noqa: E402
from symgrad.train import fit  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test file


def _slow_copy(block):
    """A chunk that takes a while to load, so the kill lands while the gradient is being computed."""
    time.sleep(0.05)
    return block.copy()


def _seed_data(n=40_000, chunks=1_000):
    model = models.seed()
    rng = np.random.default_rng(21)
    X, Y = rng.normal(size=(n, 4)), rng.uniform(size=(n, 1))
    columns = models.data_values(model, X, Y)
    return model, columns, {s: da.from_array(v, chunks=chunks) for s, v in columns.items()}


def _chunk_keys(dask_worker):
    return sum(1 for k in dask_worker.data if str(k).startswith("chunk_call"))


def test_killing_a_worker_mid_gradient_still_gives_the_exact_gradient():
    model, columns, lazy = _seed_data()
    kernel = symgrad.compile(model)
    values = {**{s: a.map_blocks(_slow_copy) for s, a in lazy.items()}, **model.initial_values()}
    undisturbed = kernel.loss_and_grad(values)  # local threads, same chunks: the same tree, the same bits
    numpy_result = kernel.loss_and_grad({**columns, **model.initial_values()})
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        pids = client.run(os.getpid)
        victim = sorted(pids)[0]
        events = {}

        def kill_when_victim_holds_partials():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and "result" not in events:
                try:
                    held = client.run(_chunk_keys, workers=[victim])[victim]
                except Exception:  # noqa: BLE001 - the worker may be busy starting up
                    held = 0
                if held >= 2:
                    events["held"] = held
                    os.kill(pids[victim], signal.SIGKILL)
                    events["killed"] = time.monotonic()
                    return
                time.sleep(0.02)

        killer = threading.Thread(target=kill_when_victim_holds_partials)
        killer.start()
        result = kernel.loss_and_grad(values)
        events["result"] = time.monotonic()
        killer.join()
        assert "killed" in events and events["killed"] < events["result"], "the kill did not land mid-gradient"
        client.wait_for_workers(2, timeout=60)
        assert pids[victim] not in client.run(os.getpid).values()  # it really died and was replaced
    assert result == undisturbed  # exactly: lost chunks recomputed, the same fixed reduction
    np.testing.assert_allclose(result[1], numpy_result[1], rtol=1e-12)
    np.testing.assert_allclose(result[0], numpy_result[0], rtol=1e-12)


TRAIN = """
import os, signal, sys
import numpy as np, dask.array as da
import symgrad
from symgrad import models
from symgrad.optim import Adam
from symgrad.train import fit

model = models.seed()
rng = np.random.default_rng(8)
X, Y = rng.normal(size=(300, 4)), rng.uniform(size=(300, 1))
lazy = {s: da.from_array(v, chunks=25) for s, v in models.data_values(model, X, Y).items()}

def die(step, params):
    if step == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no finally: the process is gone

fit(symgrad.compile(model), model.initial_values(), lazy, Adam(0.03), epochs=4, minibatch=True, seed=4,
    checkpoint=sys.argv[1], every=10, callback=die)
"""


def test_killing_the_training_process_between_checkpoints_then_resuming_ends_the_same(tmp_path):
    ckpt = tmp_path / "run"
    child = subprocess.run([sys.executable, "-c", TRAIN, str(ckpt), "27"], capture_output=True, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr
    saved = symgrad.checkpoint.load(ckpt)[1]
    assert saved["step"] == 20  # the last checkpoint before the kill at step 27
    from symgrad.optim import Adam

    model = models.seed()
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(300, 4)), rng.uniform(size=(300, 1))
    lazy = {s: da.from_array(v, chunks=25) for s, v in models.data_values(model, X, Y).items()}
    kernel = symgrad.compile(model)
    kwargs = dict(epochs=4, minibatch=True, seed=4)
    want, want_losses = fit(kernel, model.initial_values(), lazy, Adam(0.03), **kwargs)
    got, losses = fit(kernel, model.initial_values(), lazy, Adam(0.03), resume=ckpt, **kwargs)
    assert [got[s] for s in kernel.wrt] == [want[s] for s in kernel.wrt]  # bit for bit
    assert losses.tolist() == want_losses.tolist()
