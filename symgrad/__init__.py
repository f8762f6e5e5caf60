"""symgrad: sympy models → symbolic and autodiff gradients, verified → generated kernels."""

from . import autodiff, nn
from .check import check
from .compiler import compile
from .errors import (
    CacheError,
    DTypeError,
    InvalidArgumentError,
    NonFiniteError,
    ShapeError,
    SizeLimitError,
    SymgradError,
    UnboundSymbolError,
    UnsupportedError,
)
from .functions import logsigmoid, logsumexp, relu, sigmoid, softplus, tanh
from .gradient import grad
from .second_order import compile_hessian, hessian, hvp
from .version import __version__

__all__ = [
    "__version__", "autodiff", "nn", "check", "compile", "grad",
    "sigmoid", "relu", "softplus", "logsigmoid", "logsumexp", "tanh",
    "SymgradError", "InvalidArgumentError", "UnboundSymbolError", "ShapeError", "NonFiniteError",
    "DTypeError", "UnsupportedError", "SizeLimitError", "CacheError",
    "hessian", "hvp", "compile_hessian",
]
