"""LaTeX for derivation documents: readable names for symbols, and no way in for injected TeX.

A symbol's name reaches the document only through `symbol_latex`: names in symgrad's own
conventions (`W1_0_2`, `b1_2`, `x0`) become `W^{(1)}_{0,2}`, `b^{(1)}_{2}`, `x_{0}`; other plain
identifiers go through sympy's printer (which only adds sub/superscripts and Greek letters); any
other character is dropped in favour of a safe spelling, so a name like `\\input{...}` prints as
text and never as a TeX command.
"""

import re

import sympy as sp

from ..names import identifier

_LAYER_MATRIX = re.compile(r"^([A-Za-z]+)(\d+)_(\d+)_(\d+)$")  # W1_0_2: layer 1, from 0 to 2
_LAYER_VECTOR = re.compile(r"^([A-Za-z]+)(\d+)_(\d+)$")  # b1_2: layer 1, unit 2
_INDEXED = re.compile(r"^([A-Za-z]+)(\d+)$")  # x0
_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*$")
_TEXT_SPECIAL = {c: "\\" + c for c in "&%$#_{}"}


def symbol_latex(name):
    """The LaTeX spelling of a symbol called `name` (always safe to embed)."""
    if m := _LAYER_MATRIX.match(name):
        return f"{m[1]}^{{({m[2]})}}_{{{m[3]},{m[4]}}}"
    if m := _LAYER_VECTOR.match(name):
        return f"{m[1]}^{{({m[2]})}}_{{{m[3]}}}"
    if m := _INDEXED.match(name):
        return f"{m[1]}_{{{m[2]}}}"
    if _PLAIN.match(name):
        return sp.latex(sp.Symbol(name))
    return r"\mathrm{" + identifier(name).replace("_", r"\_") + "}"


def text_latex(text):
    """Plain text escaped for LaTeX running text (model names and the like)."""
    out = "".join(_TEXT_SPECIAL.get(c, c) for c in identifier_text(text))
    return out.replace("~", r"\textasciitilde{}").replace("^", r"\textasciicircum{}")


def identifier_text(text):
    """`text` with anything but printable ASCII replaced, and no backslashes."""
    return "".join(c if c.isascii() and c.isprintable() and c != "\\" else "?" for c in str(text))


class Notation:
    """Prints expressions as LaTeX with one fixed name for every symbol in play."""

    def __init__(self, names=None):
        self.names = dict(names or {})

    def name(self, symbol):
        if symbol not in self.names:
            self.names[symbol] = symbol_latex(symbol.name)
        return self.names[symbol]

    def __call__(self, expr):
        expr = sp.sympify(expr)
        names = {s: self.name(s) for s in expr.free_symbols}
        return sp.latex(expr, symbol_names=names, mul_symbol=None)

    def equation(self, *parts):
        """`a = b = c`, each part an expression or a ready LaTeX string."""
        return " = ".join(p if isinstance(p, str) else self(p) for p in parts)
