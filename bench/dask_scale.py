"""One gradient over data on disk: numpy in one process vs Dask with 1 and 2 worker processes.

    python bench/dask_scale.py [--scalar-n 10000000] [--matrix-n 1000000] [--repeats 3] [--dir DIR]
    python bench/dask_scale.py --train [--train-steps 20] [--train-epochs 2] [--memory-limit 1GiB]

Seed MLP (scalar level, float64) over N samples of 4 features, and a 784-256-10 tanh MLP
(matrix level, summed softmax cross-entropy, float32 so the numpy baseline fits in memory) over
N×784. The data are memory-mapped `.npy` files; numpy reads them whole, the Dask workers one
chunk at a time (`symgrad.distributed.from_npy`). Every library runs single-threaded (BLAS
threads 1, one thread per worker); the three configurations are timed interleaved, medians of
`--repeats`, after checking that their results agree. Prints time, speed-up, parallel efficiency
(T1 / (2 T2)), peak RSS per worker (and what a worker holds at rest), and the overhead per chunk:
(Dask with 1 worker − the same chunks called in a loop in this process) / chunks.

`--train` instead trains out of core on 2 workers (`symgrad.train.fit`): minibatch Adam, one
step per chunk over the first `--train-steps` chunks, then `--train-epochs` full-batch SGD
steps over all N; it prints seconds per step, the loss before and after, and each worker's peak
RSS against the data's size on disk and the memory limit. The first minibatch loss is checked
against the numpy call on that chunk before anything is timed.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy; worker processes inherit it

import argparse  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import symgrad  # noqa: E402
from symgrad import models, nn  # noqa: E402
from symgrad.distributed import from_npy  # noqa: E402


def write_scalar(path, n, block=1_000_000):
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, 5))
    rng = np.random.default_rng(0)
    for i in range(0, n, block):
        m = min(block, n - i)
        out[i : i + m, :4] = rng.normal(size=(m, 4))
        out[i : i + m, 4] = rng.uniform(size=m)
    out.flush()


def write_matrix(directory, n, block=50_000):
    X = np.lib.format.open_memmap(directory / "X.npy", mode="w+", dtype=np.float32, shape=(n, 784))
    Y = np.lib.format.open_memmap(directory / "Y.npy", mode="w+", dtype=np.float32, shape=(n, 10))
    rng = np.random.default_rng(1)
    for i in range(0, n, block):
        m = min(block, n - i)
        X[i : i + m] = rng.uniform(size=(m, 784))
        Y[i : i + m] = np.eye(10, dtype=np.float32)[rng.integers(0, 10, m)]
    X.flush()
    Y.flush()


def scalar_case(directory, n, rows):
    path = directory / "seed.npy"
    if not path.exists():
        write_scalar(path, n)
    model = models.seed()
    kernel = symgrad.compile(model)
    symbols = [*model.inputs, *model.targets]
    table = np.load(path, mmap_mode="r")
    lazy = from_npy(path, rows, columns=True)

    def numpy_values():
        whole = np.asarray(table)
        return {**{s: whole[:, j] for j, s in enumerate(symbols)}, **model.initial_values()}

    def chunk_values(i):
        block = np.array(table[i * rows : (i + 1) * rows])
        return {**{s: block[:, j] for j, s in enumerate(symbols)}, **model.initial_values()}

    dask_values = {**dict(zip(symbols, lazy, strict=True)), **model.initial_values()}
    return "seed 4-3-1 MLP, scalar, float64", kernel, numpy_values, chunk_values, dask_values, len(lazy[0].chunks[0]), 1e-12


def matrix_case(directory, n, rows):
    if not (directory / "X.npy").exists():
        write_matrix(directory, n)
    model = nn.matrix_mlp([784, 256, 10], mean=False, name="mnist_sum")
    kernel = symgrad.compile(model, dtype="float32")
    X, Y = model.inputs[0], model.targets[0]
    files = {X: np.load(directory / "X.npy", mmap_mode="r"), Y: np.load(directory / "Y.npy", mmap_mode="r")}
    params = {s: v.astype(np.float32) for s, v in model.initial_values().items()}
    lazy = {X: from_npy(directory / "X.npy", rows), Y: from_npy(directory / "Y.npy", rows)}

    def numpy_values():
        return {X: np.asarray(files[X]), Y: np.asarray(files[Y]), **params}

    def chunk_values(i):
        return {s: np.array(f[i * rows : (i + 1) * rows]) for s, f in files.items()} | params

    return ("784-256-10 MLP, matrix, float32", kernel, numpy_values, chunk_values, {**lazy, **params},
            len(lazy[X].chunks[0]), 1e-4)


def _difference(got, ref):
    """max over the loss and each gradient array of max|got − ref| / max|ref| (float32 sums of
    different lengths differ in the last digits of entries near zero)."""
    pairs = [(got[0], ref[0]), *zip(got[1], ref[1], strict=True)]
    return max(float(np.max(np.abs(np.subtract(a, b, dtype=np.float64))) / max(float(np.max(np.abs(b))), 1e-300))
               for a, b in pairs)


def _peak_rss_mb():
    """This process's peak RSS since `_reset_peak` (VmHWM). Not ru_maxrss: a spawned worker's
    ru_maxrss starts at the peak of the process it was forked from before exec (here the one that
    wrote the data files), and clear_refs does not reset it."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_case(case, clients, repeats):
    title, kernel, numpy_values, chunk_values, dask_values, chunks, rtol = case
    n = dask_values[kernel.inputs[0]].shape[0]
    print(f"\n{title}: N = {n:,} samples in {chunks} chunks of {dask_values[kernel.inputs[0]].chunks[0][0]:,}")
    configs = {"numpy, one process": lambda: kernel.loss_and_grad(numpy_values()),
               "chunks in a loop, one process": lambda: _loop(kernel, chunk_values, chunks)}
    for name, client in clients.items():
        configs[name] = _on(client, lambda: kernel.loss_and_grad(dask_values))
    for client in clients.values():
        client.run(_reset_peak)
    results = {name: fn() for name, fn in configs.items()}  # warm-up, and the check
    ref = results["numpy, one process"]
    errors = {name: _difference(got, ref) for name, got in results.items()}
    for name, err in errors.items():
        assert err < rtol, f"{name} disagrees with numpy: {err:.2e}"
    times = {name: [] for name in configs}
    for _ in range(repeats):
        for name, fn in configs.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    med = {name: float(np.median(ts)) for name, ts in times.items()}
    base, one, two = med["numpy, one process"], med["dask, 1 worker"], med["dask, 2 workers"]
    print(f"{'configuration':<32}{'time (s)':>10}{'vs numpy':>10}   peak RSS per worker (MB)")
    for name, sec in med.items():
        mem = ""
        if name in clients:
            peaks = clients[name].run(_peak_rss_mb)
            mem = ", ".join(f"{v:.0f}" for v in peaks.values())
        print(f"{name:<32}{sec:>10.3f}{base / sec:>9.2f}x   {mem}")
    print(f"speed-up 2 workers over 1: {one / two:.2f}x; parallel efficiency {one / (2 * two):.0%}; "
          f"overhead per chunk {(one - med['chunks in a loop, one process']) / chunks * 1e3:.1f} ms; "
          f"largest difference from numpy {max(errors.values()):.1e} (relative, per gradient array)")
    rest = clients["dask, 2 workers"].run(_rss_mb)
    print(f"worker RSS at rest after the runs: {', '.join(f'{v:.0f}' for v in rest.values())} MB; "
          f"this process's peak RSS (holds the numpy baseline): {_peak_rss_mb():.0f} MB")


def train_case(case, client, steps, epochs, memory_limit):
    """Out-of-core training on the 2-worker cluster; peak RSS per worker measured from a reset."""
    from symgrad.optim import SGD, Adam
    from symgrad.train import fit

    title, kernel, _, chunk_values, dask_values, chunks, rtol = case
    params = {s: dask_values[s] for s in kernel.wrt}
    data = {s: dask_values[s] for s in kernel.inputs}
    first_axis = data[kernel.inputs[0]]
    rows, n = first_axis.chunks[0][0], first_axis.shape[0]
    steps = min(steps, chunks)
    on_disk = _bytes(data)
    print(f"\n{title}, training out of core: N = {n:,} ({on_disk / 2**20:,.0f} MB on disk), chunks of {rows:,}, "
          f"2 workers of {memory_limit}")
    part = {s: a[: steps * rows] for s, a in data.items()}
    first = int(np.random.default_rng(0).permutation(steps)[0])
    want = kernel.loss(chunk_values(first))
    rest = client.run(_rss_mb)
    client.run(_reset_peak)
    with client.as_current():
        t = time.perf_counter()
        trained, losses = fit(kernel, params, part, Adam(1e-3), epochs=1, minibatch=True, seed=0)
        minibatch = (time.perf_counter() - t) / steps
        peak_mb = client.run(_peak_rss_mb)
        assert abs(losses[0] - want) <= rtol * abs(want), f"first minibatch loss {losses[0]} vs numpy {want}"
        client.run(_reset_peak)
        t = time.perf_counter()
        _, full = fit(kernel, trained, data, SGD(0.05 / n), epochs=epochs)  # a summed loss: lr / N
        full_step = (time.perf_counter() - t) / max(epochs, 1)
        peak_full = client.run(_peak_rss_mb)
    print(f"minibatch Adam: {steps} steps, {minibatch:.3f} s/step, loss {losses[0]:.4g} -> {losses[-1]:.4g}; "
          f"peak RSS per worker {', '.join(f'{v:.0f}' for v in peak_mb.values())} MB")
    print(f"full-batch SGD: {epochs} steps over all {n:,}, {full_step:.3f} s/step, loss {full[0]:.4g} -> "
          f"{full[-1]:.4g}; peak RSS per worker {', '.join(f'{v:.0f}' for v in peak_full.values())} MB "
          f"(at rest before training {', '.join(f'{v:.0f}' for v in rest.values())} MB; one chunk's data "
          f"{on_disk / chunks / 2**20:.1f} MB)")


def _bytes(data):
    return sum(a.nbytes for a in data.values())


def _loop(kernel, chunk_values, chunks):
    total = None
    for i in range(chunks):
        part = kernel.loss_and_grad(chunk_values(i))
        total = part if total is None else (total[0] + part[0], [a + b for a, b in zip(total[1], part[1])])
    return total


def _on(client, fn):
    def call():
        with client.as_current():
            return fn()

    return call


def _reset_peak():
    """Peak RSS since this point (Linux: writing 5 to clear_refs resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scalar-n", type=int, default=10_000_000)
    ap.add_argument("--scalar-rows", type=int, default=250_000)
    ap.add_argument("--matrix-n", type=int, default=1_000_000)
    ap.add_argument("--matrix-rows", type=int, default=25_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--memory-limit", default="1GiB", help="each worker's memory limit")
    ap.add_argument("--dir", type=Path, default=None, help="where the data files go (default: a temporary folder)")
    ap.add_argument("--only", choices=["scalar", "matrix"], default=None)
    ap.add_argument("--train", action="store_true", help="train out of core on 2 workers instead of timing one gradient")
    ap.add_argument("--train-steps", type=int, default=20, help="minibatch steps (chunks) with --train")
    ap.add_argument("--train-epochs", type=int, default=2, help="full-batch steps with --train")
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        directory = args.dir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        cases = []
        if args.only in (None, "scalar"):
            cases.append(lambda: scalar_case(directory, args.scalar_n, args.scalar_rows))
        if args.only in (None, "matrix"):
            cases.append(lambda: matrix_case(directory, args.matrix_n, args.matrix_rows))
        for make in cases:
            case = make()
            workers = (2,) if args.train else (1, 2)
            clusters = {f"dask, {k} worker{'s' if k > 1 else ''}": LocalCluster(
                n_workers=k, threads_per_worker=1, processes=True, memory_limit=args.memory_limit,
                silence_logs=logging.ERROR,
                dashboard_address=":0") for k in workers}
            clients = {name: Client(c) for name, c in clusters.items()}
            try:
                if args.train:
                    train_case(case, clients["dask, 2 workers"], args.train_steps, args.train_epochs,
                               args.memory_limit)
                else:
                    run_case(case, clients, args.repeats)
            finally:
                for name in clients:
                    clients[name].close()
                    clusters[name].close()


if __name__ == "__main__":
    main()
