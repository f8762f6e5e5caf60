"""LaTeX for matrix-level derivations: products as juxtaposition, ⊙ for entrywise products, f(Z) entrywise.

sympy prints its own matrix nodes well enough (`X W_{1} + \\mathbf{1} b_{1}`), but not the entrywise
maps and row-wise nodes of `symgrad.matrix`, nor the ones vectors the way a textbook writes them.
A `Map` prints its scalar body with each variable replaced by its operand, products of matrices
shown with `\\odot` and powers with `^{\\circ p}`, so `Map(g·y·(1 − y), δ, H)` reads
`δ ⊙ H ⊙ (1 − H)`. Symbol names reach the text only through `notation.symbol_latex`.
"""

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from ..matrix.nodes import Map, RowLogSumExp, RowSoftmax, SumAll, canonical_lambda
from .notation import symbol_latex

_ATOMIC = (sp.MatrixSymbol, sp.OneMatrix, sp.Transpose, ElementwiseApplyFunction, RowLogSumExp, RowSoftmax, SumAll)


def _bare(expr, within):
    """Whether `expr` needs no parentheses as an operand of a product of kind `within`."""
    if isinstance(expr, _ATOMIC) or (within is not None and isinstance(expr, within)):
        return True
    if not isinstance(expr, Map):
        return False
    body = expr.function.expr
    if body.is_Symbol or isinstance(body, sp.Function):
        return True
    entrywise = [f for f in sp.Mul.make_args(body) if f.free_symbols & set(expr.function.variables)]
    return body.is_Mul and (within is sp.HadamardProduct or len(entrywise) == 1)


class _MatrixLatex(LatexPrinter):
    """sympy's LaTeX printer plus rules for symgrad's matrix nodes and entrywise bodies."""

    def __init__(self, names):
        super().__init__({"mul_symbol": None})
        self.names = names
        self.entrywise = {}  # placeholder Symbol -> its operand's LaTeX, while printing a body

    def _name(self, symbol):
        return self.names.get(symbol) or symbol_latex(symbol.name)

    def _print_MatrixSymbol(self, expr):
        return self._name(expr)

    def _print_Symbol(self, expr, style="plain"):
        if expr in self.entrywise:
            return self.entrywise[expr]
        return self._name(expr)

    def _print_OneMatrix(self, expr):
        rows, cols = expr.shape
        return r"\mathbf{1}^{T}" if rows == 1 and cols != 1 else r"\mathbf{1}"

    def _wrap(self, expr, within=None):
        """`expr` printed as an operand of a product (`within` a matrix product `sp.MatMul` or an
        entrywise one `sp.HadamardProduct`): parenthesized unless it reads unambiguously bare."""
        text = self._print(expr)
        return text if _bare(expr, within) else r"\left(" + text + r"\right)"

    def _print_MatMul(self, expr):
        coeff = sp.Mul(*[a for a in expr.args if not a.is_Matrix])
        text = " ".join(self._wrap(a, sp.MatMul) for a in expr.args if a.is_Matrix)
        if coeff == 1:
            return text
        return ("- " if coeff == -1 else self.parenthesize(coeff, PRECEDENCE["Mul"]) + " ") + text

    def _print_HadamardProduct(self, expr):
        return r" \odot ".join(self._wrap(a, sp.HadamardProduct) for a in expr.args)

    def _print_SumAll(self, expr):
        return r"\operatorname{sum}\left(" + self._print(expr.arg) + r"\right)"

    def _print_RowLogSumExp(self, expr):
        return r"\operatorname{lse}\left(" + self._print(expr.arg) + r"\right)"

    def _print_RowSoftmax(self, expr):
        return r"\operatorname{softmax}\left(" + self._print(expr.arg) + r"\right)"

    def _print_ElementwiseApplyFunction(self, expr):
        return self._body(canonical_lambda(expr.function), [expr.expr])

    def _print_Map(self, expr):
        return self._body(expr.function, list(expr.operands))

    def _body(self, function, operands):
        """The entrywise function's body with its variables standing for the operands."""
        body, table = function.expr, {}
        for k, (var, op) in enumerate(zip(function.variables, operands, strict=True)):
            if not op.is_Matrix:
                body = body.xreplace({var: op})
                continue
            holder = sp.Symbol(f"_entrywise{len(self.entrywise)}_{k}", real=True)
            table[holder] = self._wrap(op)
            body = body.xreplace({var: holder})
        self.entrywise.update(table)
        try:
            return self._print(body)
        finally:
            for holder in table:
                del self.entrywise[holder]

    def _reads_matrix(self, expr):
        return bool(expr.free_symbols & set(self.entrywise))

    def _print_Mul(self, expr):
        if not self._reads_matrix(expr):
            return super()._print_Mul(expr)
        coeff, rest = expr.as_coeff_Mul()
        if coeff.is_negative:
            return "- " + self._print(-expr)
        entrywise = [f for f in sp.Mul.make_args(rest) if self._reads_matrix(f)]
        scalar = coeff * sp.Mul(*[f for f in sp.Mul.make_args(rest) if not self._reads_matrix(f)])
        factors = r" \odot ".join(self.parenthesize(f, PRECEDENCE["Mul"]) for f in entrywise)
        return factors if scalar == 1 else f"{self.parenthesize(scalar, PRECEDENCE['Add'])} {factors}"

    def _print_Pow(self, expr):
        if not self._reads_matrix(expr.base):
            return super()._print_Pow(expr)
        base = self.parenthesize(expr.base, PRECEDENCE["Pow"], strict=True)
        return f"{base}^{{\\circ {self._print(expr.exp)}}}"


class MatrixNotation:
    """Prints matrix and scalar expressions with one fixed name for every symbol in play."""

    def __init__(self, names=None):
        self.names = dict(names or {})

    def __call__(self, expr):
        return _MatrixLatex(self.names).doprint(sp.sympify(expr))

    def equation(self, *parts):
        """`a = b = c`, each part an expression or a ready LaTeX string."""
        return " = ".join(p if isinstance(p, str) else self(p) for p in parts)
