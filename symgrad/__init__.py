"""symgrad: sympy models → symbolic and autodiff gradients, verified → generated kernels.

The front-ends `symgrad.train`, `models`, `derivation`, `comparison`, `tf` and `cuda_emu` are
imported on first use (module `__getattr__`), so `import symgrad` does not pay for them.
"""

from . import autodiff, distributed, nn  # distributed: installs the dask door (dask itself loads lazily)
from .check import check
from .compiler import compile
from .errors import (
    CacheError,
    ConstantLossWarning,
    DTypeError,
    InvalidArgumentError,
    NonFiniteError,
    ShapeError,
    SizeLimitError,
    SymgradError,
    SymgradWarning,
    UnboundSymbolError,
    UnsupportedError,
    WorkerError,
)
from .functions import elu, gelu, leaky_relu, logsigmoid, logsumexp, mish, relu, sigmoid, silu, softplus, softsign, tanh
from .gradient import grad
from .primitives import register
from .second_order import compile_hessian, hessian, hvp
from .version import __version__

__all__ = [
    "__version__", "autodiff", "distributed", "nn", "check", "compile", "grad", "register",
    "sigmoid", "relu", "softplus", "logsigmoid", "logsumexp", "tanh", "gelu", "silu", "elu", "leaky_relu", "softsign",
    "mish",
    "SymgradError", "InvalidArgumentError", "UnboundSymbolError", "ShapeError", "NonFiniteError",
    "DTypeError", "UnsupportedError", "SizeLimitError", "CacheError", "WorkerError", "SymgradWarning", "ConstantLossWarning",
    "hessian", "hvp", "compile_hessian",
]

LAZY_SUBMODULES = ("train", "models", "derivation", "comparison", "tf", "cuda_emu")


def __getattr__(name):
    if name in LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")  # also binds it here: later lookups are direct
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *LAZY_SUBMODULES})
