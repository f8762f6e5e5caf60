"""Dask arrays into generated kernels: one call of the generated module per batch chunk, partial
sums combined by a tree reduction in a fixed order, the parameters sent once per call.

`symgrad.runtime.Kernel` (every level) routes a call here (through
`symgrad.dask_hook.accepts_dask`) only when `values` holds a dask collection, so `import symgrad` never imports dask.
Each chunk runs the kernel's own checked method on its numpy block inside a worker, which loads
the kernel from its text (`symgrad.remote`); nothing gathers the data on one machine.
"""

import math
import uuid

import numpy as np

from .dask_hook import install
from .errors import InvalidArgumentError, ShapeError, UnboundSymbolError, UnsupportedError
from .values import NONFINITE_POLICIES, _to_array

FAN_IN = 8  # partial results added per reduction task (left to right, in chunk order)


def run(kernel, method, values, nonfinite="raise"):
    """`kernel.<method>(values)` over dask data: sums come back as numbers, per-sample results
    (`predict`, `per_sample_grad`) as dask arrays chunked like the data."""
    kernel = getattr(kernel, "shipped_kernel", kernel)  # a kernel may send another in its place (lift.py)
    import dask

    plan = Plan(kernel, method, values, nonfinite)
    if method in ("loss", "loss_and_grad"):
        (total,) = dask.compute(plan.total())
        return plan.finish(total)
    return plan.per_sample()


class Plan:
    """One call over dask data: the checked chunks, the shipped kernel and parameters, the graph."""

    def __init__(self, kernel, method, values, nonfinite):
        if nonfinite not in NONFINITE_POLICIES:
            raise InvalidArgumentError(f"nonfinite must be one of {NONFINITE_POLICIES}, got {nonfinite!r}")
        self.kernel, self.method, self.nonfinite = kernel, method, nonfinite
        self.matrix = _is_matrix(kernel)
        self.mean = self.matrix and method in ("loss", "loss_and_grad") and batch_mean(kernel)
        get = lookup(values)
        self.symbols = self._needed_inputs()
        self.arrays = present(get, self.symbols)
        self.chunks = check_chunks(self.symbols, self.arrays, kernel.dtype, self.matrix)
        self.params = tuple(present(get, kernel.wrt))
        self.fill = {} if self.matrix else {s: 0.0 for s in kernel.inputs if s not in self.symbols}
        self.skip = tuple(s for s in kernel.inputs if s not in self.symbols) if self.matrix else ()

    def _needed_inputs(self):
        if self.method != "predict":
            return list(self.kernel.inputs)
        return [s for s in self.kernel.inputs if s in predict_reads(self.kernel)]

    def partials(self):
        """One delayed partial result per non-empty chunk, in batch order."""
        from dask import delayed

        spec, params = self._shipped()
        blocks = [_readers(a) for a in self.arrays]
        call = delayed(chunk_call)
        total = sum(self.chunks)
        return [
            call(spec, self.method, self.nonfinite, params, self.fill, self.skip, self.symbols,
                 size / total if self.mean else None, *(b[i] for b in blocks))
            for i, size in enumerate(self.chunks) if size
        ]

    def _shipped(self):
        """The kernel text and the parameters, each one object in the graph (broadcast to every
        worker once when a distributed client runs it), however many chunks read them."""
        from dask import delayed

        from .remote import KernelSpec

        spec = getattr(self.kernel, "_dask_spec", None)
        if spec is None:
            spec = self.kernel._dask_spec = KernelSpec.of(self.kernel)
        client = _client()
        if client is not None:
            return tuple(client.scatter([spec, self.params], broadcast=True, hash=False))
        token = uuid.uuid4().hex
        return (delayed(spec, name=f"symgrad-kernel-{token}", traverse=False),
                delayed(self.params, name=f"symgrad-params-{token}", traverse=False))

    def total(self):
        """The sum of the partials by a fixed tree: groups of FAN_IN, added left to right."""
        from dask import delayed

        level = self.partials()
        add = delayed(add_partials)
        while len(level) > 1:
            level = [add(*level[i : i + FAN_IN]) for i in range(0, len(level), FAN_IN)]
        return level[0]

    def finish(self, total):
        """The reduced sum as the numpy path returns it, checked for overflow in the sum itself."""
        if self.method == "loss":
            value, named = float(total), {"loss": total}
        else:
            value = (float(total[0]), [_as_result(g) for g in total[1]])
            named = {"loss": value[0], **{f"d/d{w}": g for w, g in zip(self.kernel.wrt, value[1], strict=True)}}
        finite = getattr(self.kernel, "_finite", None)
        if finite is not None:
            finite(self.nonfinite, **named)
        return value

    def per_sample(self):
        """`predict` (a list of dask arrays) or `per_sample_grad` (one n × len(wrt) dask array)."""
        import dask.array as da
        from dask import delayed

        sizes = [n for n in self.chunks if n]
        parts = self.partials()
        if self.method == "per_sample_grad":
            p = len(self.kernel.wrt)
            return da.concatenate([da.from_delayed(t, (n, p), self.kernel.dtype) for t, n in zip(parts, sizes)])
        widths = output_widths(self.kernel)
        item = delayed(_item)
        return [
            da.concatenate([da.from_delayed(item(t, j), (n, *w), self.kernel.dtype) for t, n in zip(parts, sizes)])
            for j, w in enumerate(widths)
        ]


def _readers(array):
    """Each block of `array` as what a chunk's call takes: the block's own read task where it reads
    without dependencies (a `from_npy` or `from_array` chunk: run inside the call, so a chunk is
    one scheduler task, not one per column plus the call), else the block as a delayed value."""
    try:
        from dask._task_spec import Task
    except ImportError:  # an older dask: one task per block
        return array.to_delayed().ravel()
    keys = list(array.__dask_keys__()) if array.ndim == 1 else [row[0] for row in array.__dask_keys__()]
    graph = dict(array.__dask_optimize__(array.__dask_graph__(), array.__dask_keys__()))
    tasks = [graph.get(k) for k in keys]
    if all(isinstance(t, Task) and not t.dependencies for t in tasks):
        return tasks
    return array.to_delayed().ravel()


def chunk_call(spec, method, nonfinite, params, fill, skip, symbols, share, *blocks):
    """Runs on a worker: the kernel's own checked method on one chunk's numpy blocks. `share`
    (a batch mean's n_chunk / N, else None) turns the chunk's own mean into its part of the whole
    batch's mean."""
    kernel = spec.kernel()
    values = {**dict(zip(spec.wrt, params)), **fill, **dict(zip(symbols, blocks))}
    if method == "predict" and spec.matrix:
        return [np.asarray(o) for o in kernel.module.predict(*kernel.arguments(values, nonfinite, skip))]
    result = getattr(kernel, method)(values, nonfinite)
    return result if share is None else _scaled(result, share)


def _scaled(result, share):
    if isinstance(result, (tuple, list)):
        return type(result)(_scaled(r, share) for r in result)
    return result * share


def add_partials(*parts):
    """Partial (loss) or (loss, grads) results added left to right."""
    total = parts[0]
    for part in parts[1:]:
        total = _add(total, part)
    return total


def _add(a, b):
    if isinstance(a, (tuple, list)):
        return type(a)(_add(x, y) for x, y in zip(a, b, strict=True))
    return a + b


def _item(result, j):
    return result[j]


def _as_result(g):
    return g if np.ndim(g) else float(g)


def data_chunks(kernel, data):
    """The batch chunk sizes of dask `data` for `kernel`, checked as every call checks them."""
    arrays = present(lookup(data), kernel.inputs)
    return check_chunks(kernel.inputs, arrays, kernel.dtype, _is_matrix(kernel))


def check_chunks(symbols, arrays, dtype, matrix):
    """The chunk sizes along the batch axis shared by every data array, or our error saying how
    to chunk (mixed numpy and dask data, unknown sizes, disagreeing chunks, a chunked feature axis)."""
    import dask.array as da
    from dask.base import is_dask_collection

    lazy = [(s, a) for s, a in zip(symbols, arrays) if is_dask_collection(a)]
    if not lazy:
        raise InvalidArgumentError("no data array is a dask array; pass dask arrays for the data (or call with numpy)")
    first, ref = lazy[0]
    for s, a in zip(symbols, arrays):
        if not is_dask_collection(a):
            if np.ndim(a) == 0 and not matrix:
                continue  # a constant broadcast over the batch
            kind = "numpy array" if isinstance(a, np.ndarray) else type(a).__name__
            raise InvalidArgumentError(
                f"{s} is a {kind} but {first} is a dask array; mixed numpy and dask data is refused: pass every "
                f"data array as dask, chunked alike, e.g. dask.array.from_array({s}, chunks={first}.chunks)"
            )
        if not isinstance(a, da.Array):
            raise InvalidArgumentError(
                f"{s} is a {type(a).__name__}; pass a dask.array.Array (a dataframe: .to_dask_array(lengths=True))"
            )
        _to_array(s, np.empty(0, a.dtype), dtype)  # complex, object, string data: the numpy path's error
        if any(math.isnan(c) for axis in a.chunks for c in axis):
            raise ShapeError(
                f"{s} has unknown chunk sizes {a.chunks}; call {s}.compute_chunk_sizes() first "
                "(or build it with known lengths, e.g. to_dask_array(lengths=True))"
            )
        want = 2 if matrix else 1
        if a.ndim != want:
            raise ShapeError(
                f"{s} has shape {a.shape}, but {'a matrix-level kernel takes N×k blocks' if matrix else 'data must be one value per sample (1-D)'}"
            )
        if a.ndim == 2 and len(a.chunks[1]) > 1:
            raise ShapeError(
                f"{s} is chunked across its feature axis (chunks {a.chunks[1]}); chunk along the batch axis "
                f"only: {s}.rechunk({{1: -1}})"
            )
        if a.shape[0] != ref.shape[0]:
            raise ShapeError(f"data arrays have mismatched batch lengths ({first}: {ref.shape[0]}, {s}: {a.shape[0]}); "
                             "give every input the same length")
        if a.chunks[0] != ref.chunks[0]:
            raise ShapeError(
                f"{s} and {first} are chunked differently along the batch axis ({a.chunks[0]} vs {ref.chunks[0]}); "
                f"rechunk one like the other: {s}.rechunk({{0: {first}.chunks[0]}})"
            )
    if ref.shape[0] == 0:
        raise ShapeError(f"empty batch (shape {ref.shape}); pass at least one sample")
    return ref.chunks[0]


def _client():
    """The dask.distributed Client that will run the graph, or None (threads, processes, sync)."""
    from dask.base import get_scheduler

    owner = getattr(get_scheduler(), "__self__", None)
    return owner if type(owner).__name__ == "Client" and hasattr(owner, "scatter") else None


MISSING = object()


def lookup(values):
    if not hasattr(values, "get"):
        raise InvalidArgumentError(f"values must be a mapping from symbols to numbers, got {type(values).__name__}")
    by_name = {k: v for k, v in values.items() if isinstance(k, str)}

    def get(symbol):
        if symbol in values:
            return values[symbol]
        return by_name.get(str(symbol), MISSING)

    return get


def present(get, symbols):
    """The values of `symbols`, or our error naming every one that has none."""
    found = [get(s) for s in symbols]
    missing = [str(s) for s, v in zip(symbols, found) if v is MISSING]
    if missing:
        raise UnboundSymbolError(f"no value given for {', '.join(sorted(missing))}; add it to the values mapping")
    return found


def _is_matrix(kernel):
    return kernel.level.matrix


def predict_reads(kernel):
    """The inputs the model outputs read (targets are not needed to predict)."""
    return kernel.predict_reads


def output_widths(kernel):
    """The shape of one sample's slice of each output: () at scalar level (outputs typed (N,)),
    (k,) for an N×k output."""
    return [tuple(int(d) for d in kernel.ir.types[name].shape[1:]) for name in kernel.ir.predictions]


def batch_mean(kernel):
    """Whether the loss reads the batch size N as a number; True when it is (1/N)·S with S a sum
    over samples that reads N only as a shape (a mean: each chunk's mean scaled by n_chunk / N
    adds up to the whole batch's, gradients included, as they are (1/N)·dS). Any other use of N
    (1/N², a mean inside a nonlinearity) is refused, since chunk results would not add up."""
    import sympy as sp

    from .matrix.runtime import _reads

    ir = kernel.ir
    batch = {ir.size_names[name] for name, (_, axis) in ir.sizes.items() if axis == 0}
    assigns = [a for st in ir.statements for a in getattr(st, "assigns", ())]
    readers = [st for st in ir.statements if batch & st.reads()]
    if not readers:
        return False
    inverses = {a.target for a in assigns if {str(x) for x in a.expr.free_symbols} & batch
                and len(a.expr.free_symbols) == 1 and a.expr == 1 / next(iter(a.expr.free_symbols))}
    plain = all(not (batch & st.reads()) or {a.target for a in getattr(st, "assigns", ())} <= inverses
                for st in readers)
    loss = next((a.expr for a in assigns if a.target == ir.loss), None)
    if plain and loss is not None:
        ts = [x for x in loss.free_symbols if str(x) in inverses]
        if len(ts) == 1:
            rest = sp.simplify(loss / ts[0])
            names = {str(x) for x in rest.free_symbols}
            if not rest.has(ts[0]) and not (_reads(ir, sorted(names)) & (inverses | batch)):
                return True
    size = ", ".join(sorted(batch))
    raise UnsupportedError(
        f"kernel {kernel.name!r} reads the batch size {size} as a number other than as one factor 1/{size} of the "
        f"loss, so the chunks' losses do not add up to the whole batch's; compile a loss that is a sum over "
        f"samples, or a sum times 1/{size} (a batch mean)"
    )


class NpyFile:
    """A `.npy` file (or one column of a 2-D one) read memory-mapped where a chunk is needed, on
    each worker; it pickles as its path, so a graph never carries the data."""

    def __init__(self, path, column=None):
        self.path, self.column = str(path), column
        header = np.load(self.path, mmap_mode="r")
        if column is not None and not (header.ndim == 2 and 0 <= column < header.shape[1]):
            raise ShapeError(f"{self.path} has shape {header.shape}; it has no column {column}")
        self.shape = header.shape if column is None else header.shape[:1]
        self.dtype, self.ndim = header.dtype, len(self.shape)

    def __repr__(self):
        return f"NpyFile({self.path!r}, column={self.column})"

    def __getitem__(self, key):
        mapped = np.load(self.path, mmap_mode="r")
        if self.column is not None:
            key = (*(key if isinstance(key, tuple) else (key,)), self.column)
        return np.array(mapped[key])  # a copy: the mapping closes when this returns

    def __dask_tokenize__(self):
        import os

        stat = os.stat(self.path)
        return (self.path, self.column, stat.st_size, stat.st_mtime_ns)


def from_npy(path, rows, columns=False):
    """A `.npy` file as a dask array chunked by `rows` samples along the batch axis (features
    whole), or with `columns=True` a list of 1-D arrays, one per column of a 2-D file (the data of
    a scalar-level kernel: each column's chunk is one read, not a read and a slice).

    Each chunk is read inside its own task (the file inlined as its path), so a distributed
    scheduler treats the reads as root tasks and does not run them ahead of the kernel calls."""
    import dask.array as da

    def lazy(source):
        return da.from_array(source, chunks=(rows, *source.shape[1:]), lock=False, inline_array=True,
                             meta=np.empty((0,) * source.ndim, source.dtype))

    whole = NpyFile(path)
    if not columns:
        return lazy(whole)
    if whole.ndim != 2:
        raise ShapeError(f"{path} has shape {whole.shape}; columns=True needs a 2-D file (samples × columns)")
    return [lazy(NpyFile(path, j)) for j in range(whole.shape[1])]


install(run)
