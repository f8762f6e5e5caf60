"""The primitives: one record per operation (see `record.Primitive`), and `register` for a user's own.

Importing this package enters symgrad's own records; every path looks a node up with `record_for`.
"""

from . import activations, arithmetic, elementary, special  # noqa: F401 - each enters its records
from .backends import NumpyBackend, TorchBackend
from .record import PATHS, PRINTER, Helper, Primitive
from .registry import RECORDS, activation, by_tf_name, kernel_record, record_for, register, rule, tf_record
from .registry import activations as activation_functions

__all__ = ["PATHS", "PRINTER", "RECORDS", "Helper", "NumpyBackend", "Primitive", "TorchBackend",
           "activation", "activation_functions", "by_tf_name", "kernel_record", "record_for", "register", "rule",
           "tf_record"]
