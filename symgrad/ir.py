"""The one kernel IR of both levels and every target: typed values and ordered statements.

A kernel has data inputs, parameters and statements in dependency order; every value has a
`TensorType`. A scalar-level kernel is a kernel whose per-sample values have the batch shape
("N",) and whose parameters (and sums) are 0-d: its statements are per-sample `Assign`s and, for
the loss and gradients, `Reduce`s over the batch axis. A matrix-level kernel's values are whole
arrays: matrix products, fused entrywise blocks, reductions. Expressions inside statements are
sympy expressions over `sympy.Symbol`s named by the IR's own safe identifiers, never over user
symbols. The IR prints as a flat listing (`str(kernel)`), so tests can diff it.
"""

from dataclasses import dataclass, field
from enum import Enum

import sympy as sp


class Role(Enum):
    DATA = "data"
    PARAM = "param"


class Phase(Enum):
    FORWARD = "forward"
    BACKWARD = "backward"


@dataclass(frozen=True)
class TensorType:
    """Shape and dtype of an IR value: dims are ints or size names ("N"); () is a scalar."""

    shape: tuple
    dtype: str

    def __str__(self):
        return f"{self.dtype}[{', '.join(map(str, self.shape))}]"


@dataclass(frozen=True)
class ArrayVar:
    """A kernel argument: safe identifier, the user's symbol, role and type."""

    ident: str
    symbol: sp.Basic
    role: Role
    type: TensorType


@dataclass(frozen=True)
class Assign:
    """`target = expr` entry by entry; `expr` reads earlier values by identifier, broadcasting
    operands of shape (1, n), (m, 1) or () against `type.shape` like numpy (at scalar level: a
    per-sample value when `type` is ("N",), computed once when it is ())."""

    target: str
    expr: sp.Expr
    type: TensorType
    phase: Phase
    comment: str = ""

    @property
    def targets(self):
        return (self.target,)

    def reads(self):
        return {s.name for s in self.expr.free_symbols}


@dataclass(frozen=True)
class FusedElementwise:
    """A chain of entrywise assignments with no matmul or reduction between them: one loop
    (one CUDA kernel). `inputs` are read from outside, `outputs` are needed after the block;
    the other targets are block-local temporaries (registers on a GPU)."""

    assigns: tuple
    inputs: tuple
    outputs: tuple
    phase: Phase

    @property
    def targets(self):
        return tuple(a.target for a in self.assigns)

    def reads(self):
        return set(self.inputs)


@dataclass(frozen=True)
class MatMul:
    """`target = op(a) @ op(b)`, op = transpose where flagged (a BLAS gemm)."""

    target: str
    a: str
    b: str
    transpose_a: bool
    transpose_b: bool
    type: TensorType
    phase: Phase
    comment: str = ""

    @property
    def targets(self):
        return (self.target,)

    def reads(self):
        return {self.a, self.b}


class ReduceOp(Enum):
    SUM = "sum"
    MAX = "max"
    TRACE = "trace"


@dataclass(frozen=True)
class Reduce:
    """`target = op(source)` over `axis` (0: down columns → 1×n, 1: along rows → m×1, None: all → scalar).

    At scalar level the sums over the batch: axis 0 of a per-sample source, or n · source when
    the source is 0-d (the same for every sample)."""

    target: str
    source: str
    op: ReduceOp
    axis: int | None
    type: TensorType
    phase: Phase
    comment: str = ""

    @property
    def targets(self):
        return (self.target,)

    def reads(self):
        return {self.source}


@dataclass(frozen=True)
class Constant:
    """`target` = ones, the identity, or the unit matrix with a 1 at `index`."""

    target: str
    kind: str  # "ones" | "eye" | "unit"
    type: TensorType
    phase: Phase
    index: tuple = ()

    @property
    def targets(self):
        return (self.target,)

    def reads(self):
        return set()


@dataclass(frozen=True)
class Element:
    """`target = source[i, j]` (a scalar)."""

    target: str
    source: str
    index: tuple
    type: TensorType
    phase: Phase

    @property
    def targets(self):
        return (self.target,)

    def reads(self):
        return {self.source}


@dataclass(frozen=True)
class TransposeView:
    """`target = sourceᵀ` (numpy: a view; CUDA: a copy or swapped indexing)."""

    target: str
    source: str
    type: TensorType
    phase: Phase

    @property
    def targets(self):
        return (self.target,)

    def reads(self):
        return {self.source}


@dataclass(frozen=True)
class MatrixCall:
    """`target = f(source)` for a function of a whole matrix (an inverse, a determinant): `function`
    is the node's class, whose matrix record spells the call per target; `text` names the node."""

    target: str
    function: type
    source: str
    type: TensorType
    phase: Phase
    text: str = ""

    @property
    def targets(self):
        return (self.target,)

    def reads(self):
        return {self.source}


@dataclass
class KernelIR:
    """A kernel of either level: typed arguments, sizes read off them, statements, result names."""

    name: str
    data: list  # ArrayVar
    params: list  # ArrayVar
    statements: list
    loss: str  # the value names of the results
    grads: list  # `params` order
    predictions: list
    types: dict  # every value name -> TensorType
    source_hash: str
    dtype: str = "float64"
    sizes: dict = field(default_factory=dict)  # size name -> (argument ident, axis) it is read from
    size_names: dict = field(default_factory=dict)  # size name -> its identifier in generated code
    origins: dict = field(default_factory=dict)  # sympy node (before or after rewrites) -> the value name holding it
    extras: list = field(default_factory=list)  # further derived results (Hessians), by name

    @property
    def args(self):
        return self.data + self.params

    def needed(self, names):
        """The statements that `names` depend on, in order (fused blocks kept whole)."""
        want, out = set(names), []
        for st in reversed(self.statements):
            if want & set(st.targets):
                out.append(st)
                want |= st.reads()
        return out[::-1]

    def producer(self, name):
        """The statement computing `name` (the last one, if several do), from an index made once per
        statement list: renderers ask for every gradient's, so a scan per call would be quadratic."""
        index = self.__dict__.get("_producers")
        if index is None or index[0] is not self.statements or index[1] != len(self.statements):
            table = {target: st for st in self.statements for target in st.targets}
            index = self.__dict__["_producers"] = (self.statements, len(self.statements), table)
        return index[2][name]

    def summand(self, name):
        """What the sum over the batch `name` sums (the per-sample gradient of a scalar kernel's
        `grad_w`), or `name` itself when it is no such sum."""
        st = self.producer(name)
        return st.source if isinstance(st, Reduce) and st.op is ReduceOp.SUM and st.axis == 0 else name

    def __str__(self):
        lines = [f"kernel {self.name} ({self.dtype}, source {self.source_hash[:12]})"]
        lines += [f"  {v.role.value:<5} {v.ident}: {v.type}  <- {v.symbol}" for v in self.args]
        lines += [f"  size  {s} = {ident}.shape[{axis}]" for s, (ident, axis) in self.sizes.items()]
        for st in self.statements:
            lines += ["  " + line for line in statement_lines(st)]
        lines.append(f"  loss {self.loss}; grads {', '.join(self.grads)}; predict {', '.join(self.predictions)}")
        return "\n".join(lines)


def statement_lines(st):
    """A statement as listing lines (what `str(KernelIR)` prints)."""
    tag = f"[{st.phase.value[:3]}]"
    if isinstance(st, Assign):
        return [f"{tag} {st.target}: {st.type} = {st.expr}"]
    if isinstance(st, FusedElementwise):
        head = f"{tag} fused in({', '.join(st.inputs)}) out({', '.join(st.outputs)})"
        return [head] + [f"    {a.target}: {a.type} = {a.expr}" for a in st.assigns]
    if isinstance(st, MatMul):
        a = st.a + (".T" if st.transpose_a else "")
        b = st.b + (".T" if st.transpose_b else "")
        return [f"{tag} {st.target}: {st.type} = {a} @ {b}"]
    if isinstance(st, Reduce):
        return [f"{tag} {st.target}: {st.type} = {st.op.value}({st.source}, axis={st.axis})"]
    if isinstance(st, Constant):
        return [f"{tag} {st.target}: {st.type} = {st.kind}{st.index or ''}"]
    if isinstance(st, Element):
        return [f"{tag} {st.target}: {st.type} = {st.source}[{st.index[0]}, {st.index[1]}]"]
    if isinstance(st, MatrixCall):
        return [f"{tag} {st.target}: {st.type} = {st.function.__name__}({st.source})"]
    return [f"{tag} {st.target}: {st.type} = {st.source}.T"]


def live(statements, results):
    """The statements (fused blocks pruned to their needed assignments) that `results` need."""
    want, out = set(results), []
    for st in reversed(statements):
        if isinstance(st, FusedElementwise):
            kept = []
            for a in reversed(st.assigns):
                if a.target in want:
                    kept.append(a)
                    want |= a.reads()
            if kept:
                targets = {a.target for a in kept}
                out.append(FusedElementwise(tuple(kept[::-1]), st.inputs, tuple(t for t in st.outputs if t in targets), st.phase))
        elif want & set(st.targets):
            out.append(st)
            want |= st.reads()
    return out[::-1]
