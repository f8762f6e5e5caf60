"""The primitives: one record per operation (see `record.Primitive`), and `register` for a user's own.

Importing this package enters symgrad's own scalar records (the matrix-node records, `MatrixPrimitive`,
are entered by `symgrad.matrix.records`); every path looks a node up with `record_for`.
"""

from . import activations, arithmetic, elementary, error_function, special  # noqa: F401 - each enters its records
from .backends import NumpyBackend, TorchBackend
from .matrix_record import MATRIX_PATHS, MatrixPrimitive, matrix_record, matrix_rule
from .record import PATHS, PRINTER, Helper, Primitive
from .registry import RECORDS, activation, by_tf_name, kernel_record, record_for, register, rule, tf_record
from .registry import activations as activation_functions

__all__ = ["MATRIX_PATHS", "PATHS", "PRINTER", "RECORDS", "Helper", "MatrixPrimitive", "NumpyBackend", "Primitive",
           "TorchBackend", "matrix_record", "matrix_rule", "activation", "activation_functions", "by_tf_name",
           "kernel_record", "record_for", "register", "rule", "tf_record"]
