"""A linear-time front for the Python expression printers.

sympy's printers spend most of their time ordering terms and computing precedence through
generic machinery (hundreds of microseconds per statement), which dominated rendering large
kernels. `LinearPrinter` prints the node types that make up almost every IR statement (symbols,
numbers, +, *, powers and every function its primitive record spells) directly, each node
once, children before parents (no recursion); any other node goes to the wrapped sympy printer.
Terms print in the expression's own argument order.
"""

import sympy as sp
from sympy.printing.precedence import precedence

from ...dag import topological
from ...primitives import PRINTER, RECORDS

ATOM, POW, MUL, ADD = 1000, 60, 50, 40  # sympy's PRECEDENCE values for these levels
NEG = 45  # -x, -x*y: parenthesized inside products and powers, not inside sums

def _paren(printed, level, strict=False):
    text, prec = printed
    return f"({text})" if prec < level or (strict and prec == level) else text


def _number(node):
    if node.is_Integer:
        text = str(node.p)
    elif node.is_Rational:
        text = f"{node.p}/{node.q}"
    else:
        text = repr(float(node))
    if node.is_negative:
        return text, NEG
    return text, MUL if node.is_Rational and not node.is_Integer else ATOM


def _add(args):
    """a + b - c ...; a later operand that is itself a sum keeps its parentheses (same rounding)."""
    lead = next((i for i, (t, _) in enumerate(args) if not t.startswith("-")), 0)  # t - y, not -y + t
    ordered = [args[lead]] + args[:lead] + args[lead + 1 :]
    out = [ordered[0][0]]
    for arg in ordered[1:]:
        text = _paren(arg, ADD, strict=True)
        out.append(f" - {text[1:]}" if text.startswith("-") else f" + {text}")
    return "".join(out), ADD


OPERATORS = (sp.Add, sp.Mul, sp.Pow)


class LinearPrinter:
    """Prints IR expressions for numpy (`base` a NumpyExprPrinter) or math (a MathExprPrinter)."""

    def __init__(self, base, module):
        self.base, self.module = base, module
        self.math = module == "math"
        self._spelled = {}  # class -> its record's spelling for this target (None: sympy's printer)

    def _spelling(self, kind):
        """The record's spelling of `kind` when it is a function or helper name; None otherwise."""
        if kind not in self._spelled:
            record = RECORDS.get(kind)  # exact class: anything else (a user's class, a subclass) goes to sympy's printer
            spelling = record.spelling(self.base.record_target) if record is not None else None
            self._spelled[kind] = None if spelling in (None, PRINTER) else spelling
        return self._spelled[kind]

    def _operands(self, node):
        """The operands printed here; a node the sympy printer handles prints its own."""
        kind = type(node)
        return node.args if kind in OPERATORS or self._spelling(kind) is not None else ()

    @property
    def helpers(self):
        return self.base.helpers

    def doprint(self, expr):
        done = {}
        for node in topological([expr], children=self._operands):
            done[node] = self._node(node, done)
        return done[expr][0]

    def _node(self, node, done):
        if node.is_Symbol:
            return node.name, ATOM
        if node.is_Number:  # oo, -oo and nan print as the target's constants (np.inf, math.nan)
            return _number(node) if node.is_finite else (self.base.doprint(node), NEG if node.is_negative else ATOM)
        literal = None if self.math else self.base.constant_literal(node)  # sqrt(2): not a float64 np scalar
        if literal is not None:
            return literal, NEG if literal.startswith("-") else ATOM
        kind = type(node)
        spelling = self._spelling(kind) if kind not in OPERATORS else None
        if kind not in OPERATORS and spelling is None:
            return self.base.doprint(node), precedence(node)  # sympy's printer, through the record mixin
        args = [done[a] for a in node.args]
        if kind is sp.Add:
            return _add(args)
        if kind is sp.Mul:
            return self._mul(node, done)
        if kind is sp.Pow:
            return self._pow(node, args)
        return self.base.spelled(spelling, [t for t, _ in args]), ATOM

    def _mul(self, node, done):
        numer, denom, sign = [], [], ""
        for arg in node.args:
            if arg is sp.S.NegativeOne and not sign and not numer:
                sign = "-"
            elif arg.is_Pow and arg.exp is sp.S.NegativeOne:
                denom.append(_paren(done[arg.base], MUL, strict=True))
            else:  # after the first factor, a product keeps its parentheses (same rounding)
                numer.append(_paren(done[arg], MUL, strict=bool(numer)))
        text = "*".join(numer) or "1"
        if denom:
            text = f"{text}/" + "/".join(denom)
        if sign and not numer and not denom:
            return "-1", NEG
        return sign + text, NEG if sign else MUL

    def _pow(self, node, args):
        (base, _), (exp_text, exp_prec) = args
        b = _paren(args[0], POW, strict=True)
        exponent = node.exp
        if exponent is sp.S.NegativeOne:
            return f"1/{b}", MUL
        if exponent is sp.S.Half:
            return f"{self.module}.sqrt({base})", ATOM
        if self.math and exponent == -sp.S.Half:
            return f"1/math.sqrt({base})", MUL
        if exponent == 2 and node.base.is_Symbol:
            return f"{b}*{b}", MUL
        if exponent.is_Integer:
            return (f"{b}**{exponent.p}" if exponent.p > 0 else f"{b}**({exponent.p})"), POW
        if self.math:  # Python's ** returns a complex number for a negative base; math.pow raises
            return f"math.pow({base}, {exp_text})", ATOM
        return f"{b}**{_paren((exp_text, exp_prec), ATOM)}", POW
