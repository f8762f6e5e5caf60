"""The door from a kernel method to Dask: given dask data, a decorated method hands the call to the
runner that `symgrad.distributed` installs when it is imported (`import symgrad` does), so the
runtime layer never imports dask or the distributed layer above it."""

import functools
import sys

from .errors import UnsupportedError

_RUNNER = []  # the installed runner: run(kernel, method_name, values, nonfinite)


def install(run):
    """Make `run` the function every dask call of a kernel method goes to."""
    _RUNNER[:] = [run]


def holds_dask(values):
    """True when `values` maps some symbol to a dask collection (False without importing dask)."""
    if "dask" not in sys.modules or not hasattr(values, "values"):
        return False
    return any(hasattr(t, "__dask_graph__") for t in set(map(type, values.values())))  # by type: a few lookups


def accepts_dask(method=None, *, name=None):
    """Decorate a kernel method `(self, values, nonfinite)` so dask data runs chunk by chunk.

    `@accepts_dask(name="loss_and_grad")` decorates the checked half of a public method whose fast
    lane has already ruled dask out: the runner is told the public name."""
    if method is None:
        return lambda method: accepts_dask(method, name=name)
    name = name or method.__name__

    @functools.wraps(method)
    def call(self, values, nonfinite="raise"):
        if "dask" in sys.modules and holds_dask(values):  # the first test inline: this wraps every training call
            if not _RUNNER:
                raise UnsupportedError("dask data needs symgrad.distributed: `import symgrad.distributed` first")
            return _RUNNER[0](self, name, values, nonfinite)
        return method(self, values, nonfinite)

    return call
