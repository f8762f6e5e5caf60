"""The matrix-node record: everything symgrad knows about one matrix operation, in one place.

A `MatrixPrimitive` is a `Primitive` (same registry, `record_for`) whose rules work on whole
matrices. Every matrix path reads the record of a node's class, nearest base class first
(`matrix_record`): the walk its `operands`, symbolic reverse mode its `adjoint`, numeric reverse
mode its `array_vjp` (written apart from `adjoint`, so `check` compares two derivations),
evaluation its `forward` (numpy and torch), forward mode its `tangent`, the Hessian reader its
`linear`, kernel lowering its `lower`, the numpy kernel its `numpy_call` spelling. Scalar functions
reach matrices by being lifted entrywise from their own scalar records, never by a second table.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from .record import PRINTER, Helper, Primitive
from .registry import RECORDS

MATRIX_PATHS = ("adjoint", "array_vjp", "forward", "tangent", "linear", "lower", "numpy_call", "cuda")


@dataclass(frozen=True)
class MatrixPrimitive(Primitive):
    """One matrix node class and its rule on every matrix path; None where it has none.

    operands(node) -> the arguments that carry values (None: every argument but Lambdas and tuples);
    adjoint(node, G) -> one symbolic adjoint contribution per operand (matrix expressions);
    array_vjp(env, node, g, ans, *xs) -> one numeric contribution per operand (numpy arrays);
    forward(env, node, *xs) -> the value, `env.ops` being numpy or torch operations;
    tangent(node, tangents) -> the node's tangent from its operands' (None: no dependence);
    linear(node, ks) -> the matrix K of the node from its operands' K (`matrix.linear`);
    lower(lowering, node) -> emits the node's kernel statements (methods of `lowering.matrix`'s lowering);
    numpy_call -> the numpy kernel's spelling of a whole-matrix function (`lowering.matrix`'s `call`): a
    numpy function name or a `Helper`; the CUDA target has none (its gap, "cuda", says why);
    gaps -> path -> why that path has no rule (see MATRIX_PATHS).
    """

    operands: Callable | None = None
    adjoint: Callable | None = None
    array_vjp: Callable | None = None
    forward: Callable | None = None
    tangent: Callable | None = None
    linear: Callable | None = None
    lower: Callable | None = None
    numpy_call: str | Helper | None = None
    gaps: dict = field(default_factory=dict)

    def spelling(self, target):
        """Scalar printers never meet a matrix node as a function call; it is sympy's to print."""
        return PRINTER


def matrix_record(node):
    """The matrix record of `node`'s class (or of a class), nearest base class first; None if none.

    Scalar records along the way are passed over (sympy's MatMul is also a Mul)."""
    cls = node if isinstance(node, type) else type(node)
    for base in cls.__mro__:
        found = RECORDS.get(base)
        if isinstance(found, MatrixPrimitive):
            return found
    return None


def matrix_rule(node, path):
    """The rule `path` of `node`'s matrix record, or None."""
    found = matrix_record(node)
    return None if found is None else getattr(found, path)


def gap(node, path):
    """Why `node`'s matrix record has no rule for `path` (its declared gap), or None."""
    found = matrix_record(node)
    return None if found is None else found.gaps.get(path)
