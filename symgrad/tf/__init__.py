"""`symgrad.tf`: TensorFlow-1's graph API (and TF2's GradientTape, a small Keras) on sympy and
generated kernels. Code written for TensorFlow runs after changing one import:

    import symgrad.tf as tf

Every op builds a graph node; `Session.run` traces the fetched subgraph into sympy expressions,
differentiates them symbolically where gradients are asked for, and compiles them once into a
generated kernel (`symgrad.compile`) that later runs reuse.
"""

from ..errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    ShapeError,
    SymgradError,
    UnboundSymbolError,
    UnsupportedError,
)
from ..version import __version__ as _symgrad_version
from . import data, keras, layers, math, nn, ops, random, train
from .gradients import GradientTape, gradients
from .graph import (
    Graph,
    Operation,
    Tensor,
    Variable,
    bool_,
    disable_eager_execution,
    enable_eager_execution,
    executing_eagerly,
    float32,
    float64,
    get_default_graph,
    get_default_session,
    int8,
    int16,
    int32,
    int64,
    reset_default_graph,
    uint8,
)
from .keras import initializers
from .math import (
    argmax,
    argmin,
    equal,
    greater,
    greater_equal,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    not_equal,
    reciprocal,
    rsqrt,
    squared_difference,
)
from .nn import softmax
from .ops import (
    add,
    assign,
    cast,
    clip_by_value,
    constant,
    convert_to_tensor,
    divide,
    identity,
    matmul,
    maximum,
    minimum,
    multiply,
    negative,
    one_hot,
    ones,
    placeholder,
    pow,
    reduce_mean,
    reduce_sum,
    reshape,
    sqrt,
    square,
    subtract,
    transpose,
    zeros,
)
from .random import random_normal, random_uniform, set_seed, truncated_normal
from .session import Session
from .variables import global_variables_initializer, group, variables_initializer

# The TensorFlow API level symgrad.tf follows (programs test `tf.__version__`), and symgrad's own version.
__version__ = f"2.0.0+symgrad.{_symgrad_version}"

__all__ = [
    "Graph", "Tensor", "Operation", "Variable", "Session", "GradientTape",
    "float32", "float64", "placeholder", "constant", "convert_to_tensor", "zeros", "ones",
    "add", "subtract", "multiply", "divide", "maximum", "minimum", "pow", "negative", "square", "sqrt",
    "identity", "matmul", "reduce_sum", "reduce_mean", "transpose", "reshape",
    "assign", "group", "gradients", "global_variables_initializer", "variables_initializer",
    "get_default_graph", "reset_default_graph", "get_default_session",
    "executing_eagerly", "enable_eager_execution", "disable_eager_execution",
    "nn", "train", "keras", "layers", "initializers", "__version__",
    "math", "random", "data", "optimizers",
    "int8", "int16", "int32", "int64", "uint8", "bool",
    "argmax", "argmin", "equal", "not_equal", "greater", "greater_equal", "less", "less_equal", "logical_and",
    "logical_or", "logical_not", "cast", "one_hot", "clip_by_value", "softmax",
    "rsqrt", "reciprocal", "squared_difference", "random_normal", "random_uniform", "truncated_normal",
    "set_random_seed",
    "SymgradError", "InvalidArgumentError", "UnboundSymbolError", "ShapeError", "UnsupportedError",
    "FailedPreconditionError",
]
__all__ += ops.entrywise_names()


def __getattr__(name):  # the records' entrywise functions (exp, sigmoid, erf, ...), registered ones too
    found = ops.entrywise_op(name)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return found


def __dir__():
    return sorted({*globals(), *ops.entrywise_names()})

bool = bool_  # noqa: A001 - TensorFlow's name
optimizers = keras.optimizers  # TF2's `tf.optimizers.*` are Keras's
set_random_seed = set_seed  # TF1's name of `tf.random.set_seed`
