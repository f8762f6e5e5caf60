"""Launching generated CUDA kernels through CuPy: the code every generated launcher module shares.

A generated launcher module (`symgrad generate --target cuda`, `Kernel.launcher_source` of a target="cuda" kernel) only
says what its kernels are: it subclasses `SampleLauncher` (scalar-level models, one thread per
sample) or `MatrixLauncher` (matrix-level models, whose generated methods chain cuBLAS products,
CuPy reductions and the fused entrywise kernels) and sets the class attributes below. Only numpy
is imported here, so a generated module needs no more than symgrad and CuPy (or a stand-in
backend such as `symgrad.cuda_emu.Backend()`).
"""

import numpy as np


class _Compiled:
    """The kernel source compiled once through `backend.RawModule`; arrays checked against DTYPE.

    A generated subclass sets DATA and PARAMS (argument names, in order), DTYPE, BLOCK (threads
    per block by default) and KERNELS (the `extern "C"` kernel names in the source).
    """

    def __init__(self, source, backend=None):
        if backend is None:
            import cupy as backend
        self.xp = backend
        module = backend.RawModule(code=source)
        self.kernels = {name: module.get_function(name) for name in self.KERNELS}

    def _array(self, what, value, shape):
        """`value` as a contiguous device array of DTYPE and `shape` (no copy when it is one)."""
        array = value if isinstance(value, self.xp.ndarray) else self.xp.asarray(value)
        if array.dtype != self.DTYPE:
            raise TypeError(f"{what} has dtype {array.dtype}; this kernel was generated for {self.DTYPE.name}")
        if array.shape != shape:
            raise ValueError(f"{what} has shape {array.shape}, expected {shape}")
        return array if array.flags.c_contiguous else self.xp.ascontiguousarray(array)


def grid_size(n, block, max_blocks):
    """Blocks to launch for n samples: one sample per thread, at most `max_blocks` blocks."""
    return min((n + block - 1) // block, max_blocks)


class SampleLauncher(_Compiled):
    """The kernels of a scalar-level model: loss, loss and gradient, per-sample gradients, outputs.

    Data arrays go in DATA order (one value per sample), parameters as one array in PARAMS order;
    results are device arrays. The subclass also sets OUTPUTS (model outputs returned by predict),
    MAX_BLOCK (the kernels' shared-memory scratch size) and MAX_BLOCKS (larger batches loop over
    samples, grid-stride, in this many blocks).
    """

    def _arguments(self, data, params):
        """Checked device arrays: data (each of length n), parameters; and n."""
        if len(data) != len(self.DATA):
            raise TypeError(f"expected {len(self.DATA)} data arrays ({', '.join(self.DATA)}), got {len(data)}")
        n = int(np.shape(data[0])[0]) if data and np.ndim(data[0]) == 1 else 1
        if n == 0:
            raise ValueError("empty batch: pass at least one sample")
        arrays = [self._array(f"data {name}", a, (n,)) for name, a in zip(self.DATA, data)]
        return arrays, self._array("params", params, (len(self.PARAMS),)), n

    def _check_block(self, block):
        if not (1 <= block <= self.MAX_BLOCK and block & (block - 1) == 0):
            raise ValueError(f"block must be a power of two between 1 and {self.MAX_BLOCK}, got {block}")

    def _sum(self, kernel, outputs, data, params, deterministic, block):
        block = self.BLOCK if block is None else block
        self._check_block(block)
        arrays, params, n = self._arguments(data, params)
        grid = grid_size(n, block, self.MAX_BLOCKS)
        if not deterministic:
            out = self.xp.zeros(outputs, dtype=self.DTYPE)
            self.kernels[kernel]((grid,), (block,), (*arrays, params, np.int64(n), out, np.int32(1)))
            return out
        partials = self.xp.empty(grid * outputs, dtype=self.DTYPE)
        self.kernels[kernel]((grid,), (block,), (*arrays, params, np.int64(n), partials, np.int32(0)))
        out = self.xp.empty(outputs, dtype=self.DTYPE)
        self.kernels["sg_reduce"]((outputs,), (block,), (partials, np.int32(grid), np.int32(outputs), out))
        return out

    def loss(self, data, params, deterministic=True, block=None):
        """The loss summed over the batch, a 0-d array."""
        return self._sum("sg_loss", 1, data, params, deterministic, block)[0]

    def loss_and_grad(self, data, params, deterministic=True, block=None):
        """(loss, gradient): the batch sums, a 0-d array and an array in PARAMS order.

        deterministic=True reduces the per-block partial sums in a fixed order (same bits on every
        run); False adds them atomically (one fewer launch, order varies between runs).
        """
        out = self._sum("sg_loss_grad", 1 + len(self.PARAMS), data, params, deterministic, block)
        return out[0], out[1:]

    def _per_sample(self, kernel, rows, data, params, block):
        block = self.BLOCK if block is None else block
        self._check_block(block)
        arrays, params, n = self._arguments(data, params)
        out = self.xp.empty((rows, n), dtype=self.DTYPE)
        self.kernels[kernel]((grid_size(n, block, self.MAX_BLOCKS),), (block,), (*arrays, params, np.int64(n), out))
        return out

    def per_sample_grad(self, data, params, block=None):
        """The n × len(PARAMS) per-sample gradients (a transposed view: parameter-major storage)."""
        return self._per_sample("sg_per_sample_grad", len(self.PARAMS), data, params, block).T

    def predict(self, data, params, block=None):
        """The model outputs, an OUTPUTS × n array."""
        return self._per_sample("sg_predict", self.OUTPUTS, data, params, block)


class MatrixLauncher(_Compiled):
    """What the generated methods of a matrix-level launcher (`predict`, `loss`, `loss_and_grad`)
    call: argument checks and one fused entrywise kernel at a time."""

    MAX_BLOCKS = 1 << 20  # beyond BLOCK · MAX_BLOCKS entries a thread loops (grid-stride)

    def _array(self, what, value, shape):
        """`value` as a device array of DTYPE and `shape` (no copy when it is one)."""
        array = value if isinstance(value, self.xp.ndarray) else self.xp.asarray(value)
        if array.dtype != self.DTYPE:
            raise TypeError(f"{what} has dtype {array.dtype}; this kernel was generated for {self.DTYPE.name}")
        if array.shape != shape:
            raise ValueError(f"{what} has shape {array.shape}, expected {shape}")
        return array

    def _fused(self, name, domain, shapes, arrays, scalars):
        """Run one fused entrywise kernel over the rows × cols `domain`; returns its results.

        `scalars` (sizes such as the batch N, and values the launcher computed on the host) are
        passed by value."""
        rows, cols = domain
        outputs = [self.xp.empty(shape, dtype=self.DTYPE) for shape in shapes]
        inputs = [self.xp.ascontiguousarray(a) for a in arrays]
        grid = max(1, min((rows * cols + self.BLOCK - 1) // self.BLOCK, self.MAX_BLOCKS))
        values = [self.DTYPE.type(s) for s in scalars] + [np.int64(rows), np.int64(cols)]
        self.kernels[name]((grid,), (self.BLOCK,), (*outputs, *inputs, *values))
        return outputs
