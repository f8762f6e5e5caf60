"""The one way a generated numpy module becomes a loaded `Kernel`: through `cache.load_or_build`.

Every compile (scalar, matrix, a lifted kernel's halves, both levels' Hessians) calls
`cached_kernel`, so a key, its authentication, the "hit"/"miss"/"rebuilt"/"off" statuses and
the rebuild of a planted entry mean the same for all of them.
"""

from .cache import load_or_build
from .runtime import SCALAR, Kernel, load_module


def cached_kernel(store, key, build, render, name, wrt, inputs, dtype, level=SCALAR, target="numpy"):
    """The `Kernel` keyed `key` in `store` (None: cache off): the verified entry's text (its IR
    rebuilt by `build()` only if asked), else `render(build())` stored. `inputs` are the data the
    kernel's calls bind (a Hessian's direction arguments are not among them)."""
    def built():
        ir = build()
        return ir, render(ir)

    source, ir, status = load_or_build(store, key, built)
    if ir is None:
        kernel = Kernel.from_cache(source, load_module(source, name), name, wrt, inputs, dtype, target, build, status, level)
    else:
        kernel = Kernel(ir, source, load_module(source, ir.name), target, level)
        kernel.cache_status = status
        if kernel.inputs != list(inputs):
            kernel.inputs = list(inputs)
            kernel._prepared = level.prepared(kernel)
    kernel.cache_key = key
    return kernel
