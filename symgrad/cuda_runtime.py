"""`CudaKernel`: a CUDA-target `Kernel` (scalar or matrix level), cupy imported lazily.

Building and rendering never touch cupy; the launcher module is loaded (and the source compiled
through CuPy's RawModule) on the first call that computes something. `.on(backend)` runs the same
launcher and kernel text on another backend, e.g. `symgrad.cuda_emu.Backend()` on a CPU.
"""

import numpy as np

from .errors import UnsupportedError
from .runtime import SCALAR, Kernel, load_module


class _LauncherCalls:
    """The generated-module functions `Kernel` calls, answered by the CUDA launcher (numpy out)."""

    def __init__(self, kernel):
        self._kernel = kernel

    def _call(self, method, args, **options):
        kernel = self._kernel
        k = len(kernel.inputs)
        data, params = list(args[:k]), np.asarray(args[k:], dtype=kernel.dtype)
        if kernel.block is not None:
            options["block"] = kernel.block
        launcher = kernel.launcher
        return launcher.xp, getattr(launcher, method)(data, params, **options)

    def loss(self, *args):
        xp, value = self._call("loss", args, deterministic=self._kernel.deterministic)
        return xp.asnumpy(value)

    def loss_and_grad(self, *args):
        xp, (value, grads) = self._call("loss_and_grad", args, deterministic=self._kernel.deterministic)
        return xp.asnumpy(value), xp.asnumpy(grads).tolist()

    def per_sample_grad(self, *args):
        xp, out = self._call("per_sample_grad", args)
        return xp.asnumpy(out)

    def predict(self, *args):
        xp, out = self._call("predict", args)
        return tuple(xp.asnumpy(out))


def _load_launcher(kernel):
    """The launcher module of `kernel`, compiled on `kernel.backend` (cupy unless set)."""
    module = load_module(kernel.launcher_source, f"{kernel.ir.name}_cuda")
    try:
        return module.Launcher(kernel.source, kernel.backend)
    except ImportError as exc:
        raise UnsupportedError(
            f"running target='cuda' needs CuPy and an NVIDIA GPU ({exc}); install the extra: "
            "pip install 'symgrad[cuda]'. Without a GPU, kernel.on(symgrad.cuda_emu.Backend()) "
            "runs the same kernels on the CPU"
        ) from None


class CudaKernel(Kernel):
    """A `Kernel` computed by CUDA kernels: `.loss/.grad/.loss_and_grad/.predict` (and, at scalar
    level, `.per_sample_grad`) as for numpy, numpy out.

    Only the launch is CUDA's: `.module` answers through the launcher (`_LauncherCalls` for a
    scalar kernel, `_MatrixLauncherCalls` for a matrix one: products on cuBLAS, each fused
    entrywise block one generated kernel); binding and checks are `Kernel`'s, chosen by `level`.
    `.source` is the `.cu` text, `.launcher_source` the Python launcher module, `.launcher` the
    loaded launcher (CuPy arrays in and out, for keeping data on the device). A scalar kernel's
    gradients are reduced deterministically unless `.deterministic` is set to False (atomic adds);
    `.block` overrides the launcher's threads per block (a power of two up to its MAX_BLOCK).
    """

    def __init__(self, ir, sources, backend=None, level=SCALAR):
        calls = _LauncherCalls(self) if level is SCALAR else _MatrixLauncherCalls(self)
        super().__init__(ir, sources.kernel, calls, "cuda", level)
        self.sources, self.launcher_source, self.backend = sources, sources.launcher, backend
        self.deterministic = True
        self.block = None  # the launcher's BLOCK
        self._launcher = None

    def __repr__(self):
        where = "cupy" if self.backend is None else type(self.backend).__module__
        return f"<symgrad CudaKernel {self.name!r} {self.level.name} params={len(self.wrt)} inputs={len(self.inputs)} {self.dtype} on {where}>"

    def on(self, backend):
        """The same kernel run through `backend` (a cupy-like module) instead of cupy."""
        return CudaKernel(self.ir, self.sources, backend, self.level)

    @property
    def launcher(self):
        if self._launcher is None:
            self._launcher = _load_launcher(self)
        return self._launcher


class _MatrixLauncherCalls:
    """The generated-module functions a matrix-level `Kernel` calls, answered by the CUDA launcher."""

    def __init__(self, kernel):
        self._kernel = kernel

    def loss(self, *args):
        launcher = self._kernel.launcher
        return launcher.xp.asnumpy(launcher.loss(*args))

    def loss_and_grad(self, *args):
        launcher = self._kernel.launcher
        value, grads = launcher.loss_and_grad(*args)
        return launcher.xp.asnumpy(value), [launcher.xp.asnumpy(g) for g in grads]

    def predict(self, *args):
        launcher = self._kernel.launcher
        return tuple(launcher.xp.asnumpy(o) for o in launcher.predict(*args))
