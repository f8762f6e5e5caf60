"""The matrix-node records (`primitives.matrix_record.MatrixPrimitive`), one per node class.

Importing this package enters them into `primitives.RECORDS`; every matrix path (graph walk,
evaluation, symbolic and numeric reverse mode, forward mode, the Hessian reader, kernel lowering)
reads a node's record with `matrix_record`. One module per family of nodes.
"""

from . import constants, entrywise, linalg, products, reductions  # noqa: F401 - each enters its records
