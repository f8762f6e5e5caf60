"""The CUDA target's side of `runtime.Kernel` (scalar or matrix level), cupy imported lazily.

A CUDA kernel is the one `Kernel` whose `module` is a `LauncherCalls`: the generated-module
functions `Kernel` calls, answered by the launcher (numpy out), which also holds what the CUDA
target adds (`.sources`, `.launcher_source`, `.launcher`, `.backend`, `.block`, `.deterministic`;
`Kernel` exposes them). Building and rendering never touch cupy; the launcher module is loaded
(and the source compiled through CuPy's RawModule) on the first call that computes something.
`kernel.on(backend)` runs the same launcher and kernel text on another backend, e.g.
`symgrad.cuda_emu.Backend()` on a CPU.
"""

import numpy as np

from .errors import UnsupportedError
from .runtime import SCALAR, Kernel, load_module


def cuda_kernel(ir, sources, backend=None, level=SCALAR):
    """The `Kernel` computed by the CUDA `sources` (kernel text and launcher) of `ir` at `level`."""
    calls = (LauncherCalls if level is SCALAR else MatrixLauncherCalls)(ir, sources, backend)
    return Kernel(ir, sources.kernel, calls, "cuda", level)


class LauncherCalls:
    """A scalar CUDA kernel's module functions, answered by the launcher: data arrays and the
    parameter vector in, numpy out. Gradients are reduced deterministically unless `deterministic`
    is False (atomic adds); `block` overrides the launcher's threads per block (a power of two up to
    its MAX_BLOCK)."""

    def __init__(self, ir, sources, backend):
        self._inputs, self._dtype, self._ir = len(ir.data), np.dtype(ir.dtype), ir
        self.sources, self.launcher_source, self.backend = sources, sources.launcher, backend
        self.deterministic = True
        self.block = None  # the launcher's BLOCK
        self._launcher = None

    def on(self, kernel, backend):
        """`kernel` run through `backend` (a cupy-like module) instead of cupy."""
        return cuda_kernel(kernel.ir, self.sources, backend, kernel.level)

    def where(self):
        return "cupy" if self.backend is None else type(self.backend).__module__

    @property
    def launcher(self):
        """The launcher module of this kernel, compiled on `backend` (cupy unless set)."""
        if self._launcher is None:
            module = load_module(self.launcher_source, f"{self._ir.name}_cuda")
            try:
                self._launcher = module.Launcher(self.sources.kernel, self.backend)
            except ImportError as exc:
                raise UnsupportedError(
                    f"running target='cuda' needs CuPy and an NVIDIA GPU ({exc}); install the extra: "
                    "pip install 'symgrad[cuda]'. Without a GPU, kernel.on(symgrad.cuda_emu.Backend()) "
                    "runs the same kernels on the CPU"
                ) from None
        return self._launcher

    def _call(self, method, args, **options):
        k = self._inputs
        data, params = list(args[:k]), np.asarray(args[k:], dtype=self._dtype)
        if self.block is not None:
            options["block"] = self.block
        launcher = self.launcher
        return launcher.xp, getattr(launcher, method)(data, params, **options)

    def loss(self, *args):
        xp, value = self._call("loss", args, deterministic=self.deterministic)
        return xp.asnumpy(value)

    def loss_and_grad(self, *args):
        xp, (value, grads) = self._call("loss_and_grad", args, deterministic=self.deterministic)
        return xp.asnumpy(value), xp.asnumpy(grads).tolist()

    def per_sample_grad(self, *args):
        xp, out = self._call("per_sample_grad", args)
        return xp.asnumpy(out)

    def predict(self, *args):
        xp, out = self._call("predict", args)
        return tuple(xp.asnumpy(out))


class MatrixLauncherCalls(LauncherCalls):
    """A matrix-level CUDA kernel's module functions: arrays in positionally (products on cuBLAS,
    each fused entrywise block one generated kernel), numpy out."""

    def loss(self, *args):
        launcher = self.launcher
        return launcher.xp.asnumpy(launcher.loss(*args))

    def loss_and_grad(self, *args):
        launcher = self.launcher
        value, grads = launcher.loss_and_grad(*args)
        return launcher.xp.asnumpy(value), [launcher.xp.asnumpy(g) for g in grads]

    def predict(self, *args):
        launcher = self.launcher
        return tuple(launcher.xp.asnumpy(o) for o in launcher.predict(*args))
