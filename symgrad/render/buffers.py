"""Reusing dead arrays as output buffers in generated numpy code.

A value whose last reader has run is dead; the next array of the same shape and dtype is written
into its memory with the ufunc's `out=` argument (`h1 = np.tanh(b1 + z1, out=z1)`), instead of
allocating a fresh array. Safe by construction: arguments, returned results, arrays that others
view (`.T`, `np.broadcast_to`) or alias (`a = b`) are never reused, and a matrix product never
writes into one of its own operands.
"""

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..primitives import RECORDS


def out_ufunc(expr):
    """The numpy ufunc (taking `out=`) that `expr`'s primitive record spells it as, or None."""
    record = RECORDS.get(type(expr))
    name = record.numpy if record is not None else None
    return name if isinstance(name, str) and isinstance(getattr(np, name, None), np.ufunc) and len(expr.args) == 1 else None


@dataclass
class Line:
    """One assignment of a function body, with what the reuse pass needs to know about it."""

    target: str
    text: str  # the right-hand side as printed
    reads: set
    shape: tuple | None = None  # array shape when the line makes a fresh array; None otherwise
    expr: sp.Expr | None = None  # entrywise expression, when the line is one
    matmul: tuple | None = None  # (a, b) operand texts, when the line is a product
    pins: set = field(default_factory=set)  # names this line views or aliases (never reused)
    comment: str = ""

    def render(self, text=None):
        return f"{self.target} = {text or self.text}" + (f"  # {self.comment}" if self.comment else "")


def _with_out(line, buffer, printer):
    """The line's right-hand side written into `buffer`, or None when its form cannot take out=."""
    if line.matmul:
        return f"np.matmul({line.matmul[0]}, {line.matmul[1]}, out={buffer})"
    expr = line.expr
    if expr is None:
        return None
    if (ufunc := out_ufunc(expr)) is not None:
        return f"np.{ufunc}({printer.doprint(expr.args[0])}, out={buffer})"
    if isinstance(expr, (sp.Add, sp.Mul)) and len(expr.args) >= 2:
        # the printed line evaluates left to right in the printer's order, ((a + b) + c): the ufunc
        # takes everything but the last operand, then the last, so it rounds exactly the same
        if isinstance(expr, sp.Add):
            *rest, last = printer._as_ordered_terms(expr, order=None)
            return f"np.add({printer.doprint(sp.Add(*rest))}, {printer.doprint(last)}, out={buffer})"
        factors = expr.as_ordered_factors()
        if any(f.is_Pow and f.exp.is_negative for f in factors) or factors[0].is_negative:
            if len(factors) != 2 or factors[0].is_negative:
                return None  # printed as a quotient or with a sign: allocate rather than reorder
            num, den = factors if factors[1].is_Pow and factors[1].exp.is_negative else factors[::-1]
            if num.is_Pow and num.exp.is_negative:
                return None
            return f"np.divide({printer.doprint(num)}, {printer.doprint(1 / den)}, out={buffer})"
        *rest, last = factors
        return f"np.multiply({printer.doprint(sp.Mul(*rest))}, {printer.doprint(last)}, out={buffer})"
    return None


def reuse_buffers(lines, keep, printer):
    """Body text for `lines`, writing results into dead same-shape temporaries where safe.

    `keep` holds names that must never be overwritten (arguments and returned results).
    """
    last_read, pinned = {}, set(keep)
    for i, line in enumerate(lines):
        for name in line.reads:
            last_read[name] = i
        pinned |= line.pins
    shape_of = {line.target: line.shape for line in lines if line.shape is not None}
    reusable = set(shape_of) - pinned
    free, out = [], []
    for i, line in enumerate(lines):
        dying = [n for n in sorted(line.reads) if last_read[n] == i and n in reusable]
        # an entrywise ufunc may overwrite an operand it reads (same position); a product may not
        candidates = free + ([] if line.matmul else dying)
        text = None
        if line.target in reusable:
            for buf in candidates:
                if shape_of[buf] == line.shape and (text := _with_out(line, buf, printer)):
                    (free if buf in free else dying).remove(buf)
                    break
        out.append(line.render(text))
        free += dying
        if line.target in reusable and line.target not in last_read:
            free.append(line.target)
    return out
