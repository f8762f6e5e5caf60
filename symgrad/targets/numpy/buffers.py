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

from ... import functions as F
from ...primitives import RECORDS

# symgrad function -> the matrix module's helper that takes `out=` (matrix_helpers.py)
OUT_HELPERS = {F.sigmoid: "sigmoid"}


def out_call(expr):
    """What writes `expr` into a buffer with `out=`: the numpy ufunc its primitive record spells it
    as, or a matrix helper that takes `out=`; None for anything else."""
    if type(expr) in OUT_HELPERS:
        return OUT_HELPERS[type(expr)]
    record = RECORDS.get(type(expr))
    name = record.numpy if record is not None else None
    if isinstance(name, str) and isinstance(getattr(np, name, None), np.ufunc) and len(expr.args) == 1:
        return f"np.{name}"
    return None


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


def _with_out(line, buffer, printer, full_shape=None):
    """The line's right-hand side written into `buffer`, or None when its form cannot take out=.

    `full_shape(expr)` (optional) says whether an operand has the buffer's shape; such an operand
    that is itself a ufunc, sum or product is written into `buffer` first, where no later operand
    reads it (`np.tanh(np.add(b1, z1, out=z1), out=z1)`): one allocation less, the same rounding.
    """
    if line.matmul:
        return f"np.matmul({line.matmul[0]}, {line.matmul[1]}, out={buffer})"
    if line.expr is None:
        return None
    return _into(line.expr, buffer, printer, full_shape)


def _operand(expr, buffer, printer, full_shape, later):
    """`expr` as the first argument of a ufunc writing `buffer`, `later` the operands read after it."""
    if _writable(expr, buffer, full_shape, later):
        text = _into(expr, buffer, printer, full_shape)
        if text:
            return text
    return printer.doprint(expr)


def _writable(expr, buffer, full_shape, later):
    """Whether `_operand` writes `expr` into `buffer` (a compound operand of the buffer's shape)."""
    return bool(full_shape) and not expr.is_Atom and full_shape(expr) and all(
        s.name != buffer for s in later.free_symbols)


def _compound_first(operands, buffer, full_shape, terms=False):
    """Two operands with the compound one of the buffer's shape first (`Y*(a - Z)` is computed as
    `np.multiply(np.subtract(a, Z, out=Z), Y, out=Z)`, without a fresh array for `a - Z`); the
    same rounding, as a + b is b + a and a·b is b·a exactly. More operands keep their order."""
    if len(operands) == 2:
        a, b = operands
        if (not (terms and b.could_extract_minus_sign()) and not _writable(a, buffer, full_shape, b)
                and _writable(b, buffer, full_shape, a)):  # (a term a − Z stays one subtract)
            return [b, a]
    return list(operands)


def _into(expr, buffer, printer, full_shape):
    if printer.constant_literal(expr) is not None:
        return None  # printed as one float literal, with no array to write
    if (call := out_call(expr)) is not None:
        arg = _operand(expr.args[0], buffer, printer, full_shape, sp.S.Zero)
        if type(expr) in OUT_HELPERS:
            printer.doprint(expr)  # records the helper
        return f"{call}({arg}, out={buffer})"
    if isinstance(expr, (sp.Add, sp.Mul)) and len(expr.args) >= 2:
        # the printed line evaluates left to right in the printer's order, ((a + b) + c): the ufunc
        # takes everything but the last operand, then the last, so it rounds exactly the same
        if isinstance(expr, sp.Add):
            *rest, last = _compound_first(printer._as_ordered_terms(expr, order=None), buffer, full_shape, terms=True)
            first = _operand(sp.Add(*rest, evaluate=False) if len(rest) > 1 else rest[0], buffer, printer, full_shape, last)
            if last.could_extract_minus_sign():  # a + (−b) is a − b exactly, without negating b first
                return f"np.subtract({first}, {printer.doprint(-last)}, out={buffer})"
            return f"np.add({first}, {printer.doprint(last)}, out={buffer})"
        factors = expr.as_ordered_factors()
        if any(f.is_Pow and f.exp.is_negative for f in factors) or factors[0].is_negative:
            if len(factors) != 2 or factors[0].is_negative:
                return None  # printed as a quotient or with a sign: allocate rather than reorder
            num, den = factors if factors[1].is_Pow and factors[1].exp.is_negative else factors[::-1]
            if num.is_Pow and num.exp.is_negative:
                return None
            first = _operand(num, buffer, printer, full_shape, 1 / den)
            return f"np.divide({first}, {printer.doprint(1 / den)}, out={buffer})"
        *rest, last = _compound_first(factors, buffer, full_shape)
        # unevaluated: sympy would distribute a number over a sum, (1/12)*(a + b) -> a/12 + b/12,
        # which rounds differently from the printed line
        first = _operand(sp.Mul(*rest, evaluate=False) if len(rest) > 1 else rest[0], buffer, printer, full_shape, last)
        return f"np.multiply({first}, {printer.doprint(last)}, out={buffer})"
    return None


def _split_ufunc(line, printer, fits):
    """`target = <argument>` for a ufunc line over a compound argument of its own shape, which then
    runs in place (`t_2 = output - t_1`, `t_2 = np.exp(t_2, out=t_2)`): one fresh array, not two."""
    expr = line.expr
    if expr is None or out_call(expr) is None or expr.args[0].is_Atom:
        return None
    if not fits(expr.args[0]):
        return None
    return f"{line.target} = {printer.doprint(expr.args[0])}"


def _in_place(expr, name, printer):
    """The ufunc (or helper) of `expr` over the array `name`, written back into it."""
    printer.doprint(expr)  # records a helper it calls
    return f"{out_call(expr)}({name}, out={name})"


def reuse_buffers(lines, keep, printer, full_shape=None):
    """Body text for `lines`, writing results into dead same-shape temporaries where safe.

    `keep` holds names that must never be overwritten (arguments and returned results);
    `full_shape(expr, shape)`, when given, says whether an operand has that array shape.
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
        fits = full_shape and line.shape is not None and (lambda expr, shape=line.shape: full_shape(expr, shape))
        if line.shape is not None:  # a fresh array; a returned one may take a dead buffer too
            for buf in candidates:
                if shape_of[buf] == line.shape and (text := _with_out(line, buf, printer, fits)):
                    (free if buf in free else dying).remove(buf)
                    break
        if text is None and fits and (split := _split_ufunc(line, printer, fits)):
            out.append(split)  # the argument made fresh, then the ufunc over it in place
            text = _in_place(line.expr, line.target, printer)
        out.append(line.render(text))
        free += dying
        if line.target in reusable and line.target not in last_read:
            free.append(line.target)
    return out
