"""The kernel IR shared by every target: typed variables and ordered statements.

A kernel has data inputs (one value per sample, a batch axis), parameters (one value), and
statements in dependency order. Expressions inside statements are sympy expressions over
`sympy.Symbol`s named by the IR's own safe identifiers, never over user symbols. The IR prints as a
flat listing (`str(kernel)`), so tests can diff it.
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
class Var:
    """A kernel argument: safe identifier, the user's symbol, and its role."""

    ident: str
    symbol: sp.Basic
    role: Role


@dataclass(frozen=True)
class Elementwise:
    """`target = expr`, evaluated per sample when `batched`, once otherwise."""

    target: str
    expr: sp.Expr
    batched: bool
    phase: Phase
    comment: str = ""

    def reads(self):
        return {s.name for s in self.expr.free_symbols}


@dataclass(frozen=True)
class BatchSum:
    """`target = Σ_batch source` (or n · source when the source is the same for every sample)."""

    target: str
    source: str
    batched: bool
    comment: str = ""


@dataclass
class KernelIR:
    """Everything a renderer needs: arguments, statements, and which names are the results."""

    name: str
    data: list
    params: list
    statements: list
    loss: BatchSum
    grads: list  # BatchSum per parameter, in `wrt` order
    per_sample_grads: list  # the per-sample source name of each gradient
    predictions: list  # statement targets of the model outputs
    source_hash: str
    dtype: str = "float64"
    extra: dict = field(default_factory=dict)
    origins: dict = field(default_factory=dict)  # sympy node (user symbols, before or after rewrites) -> temporary

    @property
    def args(self):
        return self.data + self.params

    def needed(self, names):
        """The statements that `names` depend on, in order."""
        want, out = set(names), []
        for st in reversed(self.statements):
            if st.target in want:
                out.append(st)
                want |= st.reads()
        return out[::-1]

    def __str__(self):
        lines = [f"kernel {self.name} ({self.dtype}, source {self.source_hash[:12]})"]
        lines += [f"  data  {v.ident}  <- {v.symbol}" for v in self.data]
        lines += [f"  param {v.ident}  <- {v.symbol}" for v in self.params]
        for st in self.statements:
            tag = "batch" if st.batched else "once "
            lines.append(f"  [{st.phase.value[:3]} {tag}] {st.target} = {st.expr}")
        for out in [self.loss, *self.grads]:
            lines.append(f"  [sum] {out.target} = sum({out.source})")
        lines.append(f"  predict {', '.join(self.predictions)}")
        return "\n".join(lines)
