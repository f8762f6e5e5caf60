"""symgrad: sympy models → symbolic and autodiff gradients, verified → generated kernels."""

__version__ = "0.1.0"

from . import autodiff, nn  # noqa: E402
from .check import check  # noqa: E402
from .compiler import compile  # noqa: E402
from .errors import (  # noqa: E402
    CacheError,
    DTypeError,
    InvalidArgumentError,
    NonFiniteError,
    ShapeError,
    SizeLimitError,
    SymgradError,
    UnboundSymbolError,
    UnsupportedError,
    WorkerError,
)
from .functions import logsigmoid, logsumexp, relu, sigmoid, softplus, tanh  # noqa: E402
from .second_order import compile_hessian, hessian, hvp  # noqa: E402
from .symbolic import grad  # noqa: E402

__all__ = [
    "__version__", "autodiff", "nn", "check", "compile", "grad",
    "sigmoid", "relu", "softplus", "logsigmoid", "logsumexp", "tanh",
    "SymgradError", "InvalidArgumentError", "UnboundSymbolError", "ShapeError", "NonFiniteError",
    "DTypeError", "UnsupportedError", "SizeLimitError", "CacheError", "WorkerError",
    "hessian", "hvp", "compile_hessian",
]
