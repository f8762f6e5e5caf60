"""A kernel as it travels to Dask workers: its generated text and cache key, never a pickled function.

A worker rebuilds the module from the text once per process, as the one `runtime.Kernel`. With a
cache key it takes the path `symgrad.compile` takes locally (`cache.load_or_build`, the same keys,
HMAC and statuses): a valid entry in the worker's own kernel cache is used, a missing one is
stored, a tampered one (or one whose text is not the text sent) is replaced by the text that was
sent (whose sha256 travels with it, so an altered copy is never executed).
"""

import hashlib
from dataclasses import dataclass

from .errors import CacheError, WorkerError
from .runtime import SCALAR

_LOADED = {}  # this process's kernels: (cache key or text sha256) -> kernel


@dataclass(frozen=True)
class KernelSpec:
    """What a worker needs to rebuild a kernel: plain text and symbols (pickled by value)."""

    name: str
    source: str
    sha256: str
    key: str | None  # the kernel cache key; None when the kernel was compiled with cache=False
    wrt: tuple
    inputs: tuple
    dtype: str
    target: str = "numpy"
    level: object = SCALAR  # the kernel's level (runtime.SCALAR, matrix.runtime.MATRIX), pickled by name

    @property
    def matrix(self):
        return self.level.matrix

    @classmethod
    def of(cls, kernel):
        kernel = getattr(kernel, "shipped_kernel", kernel)  # a kernel may send another in its place
        return cls(kernel.name, kernel.source, digest(kernel.source),
                   getattr(kernel, "cache_key", None), tuple(kernel.wrt), tuple(kernel.inputs), str(kernel.dtype),
                   getattr(kernel, "target", "numpy"), kernel.level)

    def kernel(self):
        """The kernel in this process, loaded on first use (and its cache_status on this worker)."""
        ident = self.key or self.sha256
        if ident not in _LOADED:
            _LOADED[ident] = self._load()
        return _LOADED[ident]

    def _load(self):
        from .cache import KernelCache, load_or_build
        from .runtime import Kernel, load_module

        if digest(self.source) != self.sha256:
            raise WorkerError(f"the text of kernel {self.name!r} arrived altered (sha256 mismatch); resend it")
        store = KernelCache() if self.key is not None else None
        source, _, status = load_or_build(store, self.key, lambda: (None, self.source),
                                          accept=lambda text: digest(text) == self.sha256)
        try:
            module = load_module(source, self.name)
        except Exception as exc:  # noqa: BLE001 - whatever stops the text from loading is this worker's setup
            raise WorkerError(
                f"a Dask worker could not load kernel {self.name!r} from its source: {type(exc).__name__}: {exc}; "
                "install numpy (and symgrad) in the workers' environment"
            ) from None
        return Kernel.from_cache(source, module, self.name, self.wrt, self.inputs, self.dtype, self.target,
                                 _no_ir(self.name), status, self.level)


def digest(source):
    return hashlib.sha256(source.encode()).hexdigest()


def _no_ir(name):
    def build():
        raise CacheError(f"kernel {name!r} on a worker has its text only, not its IR; ask the client's kernel")

    return build


def loaded_status():
    """{kernel name: cache_status} of the kernels loaded in this process (what a worker reports)."""
    return {k.name: k.cache_status for k in _LOADED.values()}


def forget():
    """Drop this process's loaded kernels (the next call reloads them through the worker cache)."""
    _LOADED.clear()
