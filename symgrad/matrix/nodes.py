"""Matrix node types sympy lacks: entrywise maps, sums, row-wise softmax and log-sum-exp, unit matrices.

They are ordinary sympy `MatrixExpr`s (or scalar `Expr`s), so they mix with sympy's own `MatMul`,
`MatAdd`, `Transpose`, `HadamardProduct` ... and keep symbolic sizes. Each defines `_entry`, so
`as_explicit()` expands it entry by entry at concrete sizes (what the tests differentiate).
"""

import sympy as sp
from sympy.core.basic import Basic
from sympy.matrices.expressions.matexpr import MatrixExpr

from ..errors import InvalidArgumentError, ShapeError, UnsupportedError


def _matrix(x, what):
    x = sp.sympify(x)
    if not getattr(x, "is_Matrix", False):
        raise InvalidArgumentError(f"{what} needs a matrix expression, got {type(x).__name__}: {x}")
    return x


def broadcast_shape(operands, where="entrywise operation"):
    """The shape numpy broadcasting gives matrix operands (scalars broadcast everywhere).

    `where` names the operation in the error: a string, or a callable giving one (a Map's text is
    printed only when its shapes are wrong, not for every Map a sweep builds)."""
    shape = [sp.S.One, sp.S.One]
    for op in operands:
        if not getattr(op, "is_Matrix", False):
            continue
        for axis, dim in enumerate(op.shape):
            if dim == 1 or dim == shape[axis]:
                continue
            if shape[axis] != 1:
                raise ShapeError(
                    f"{where() if callable(where) else where}: shapes do not broadcast ({', '.join(str(o.shape) for o in operands if o.is_Matrix)}); "
                    "operands must have equal sizes or size 1 along each axis"
                )
            shape[axis] = dim
    return tuple(shape)


class Map(MatrixExpr):
    """`function(A, B, ...)` entry by entry; operands broadcast like numpy (1×n rows, n×1 columns, scalars).

    The n-ary generalisation of sympy's `ElementwiseApplyFunction`: gradients of entrywise
    functions are entrywise functions of several matrices (σ' needs the adjoint and the output).
    """

    def __new__(cls, function, *operands):
        function = sp.sympify(function)
        if not isinstance(function, sp.Lambda) or len(function.variables) != len(operands):
            raise InvalidArgumentError(f"Map needs a Lambda of {len(operands)} variables, got {function}")
        function, operands = close_over(function, [sp.sympify(o) for o in operands])
        if not any(getattr(o, "is_Matrix", False) for o in operands):
            raise InvalidArgumentError("Map needs at least one matrix operand")
        broadcast_shape(operands, lambda: f"Map {function}")
        return MatrixExpr.__new__(cls, function, *operands)

    @property
    def function(self):
        return self.args[0]

    @property
    def operands(self):
        return self.args[1:]

    @property
    def shape(self):
        return broadcast_shape(self.operands)

    def _spelled_body(self, printer, parens):
        """The body printed with each variable spelled as its operand's printed text."""
        body = self.function.expr
        names = {}
        for var, op in zip(self.function.variables, self.operands, strict=True):
            text = printer._print(op)
            bare = op.is_Atom or isinstance(op, (sp.MatrixSymbol, Map, RowLogSumExp, RowSoftmax)) or _only_called(var, body)
            names[var] = _Spelled(text if bare else parens.format(text))
        return printer._print(body.xreplace(names))

    def _sympystr(self, printer):
        """`entrywise(2*(M*x - b))`: the body with its operands in place, no Lambda variables."""
        return f"entrywise({self._spelled_body(printer, '({})')})"

    def _latex(self, printer):
        """The same in LaTeX; a printer with its own `_print_Map` (the derivations') keeps it."""
        own = getattr(type(printer), "_print_Map", None)
        if own is not None:
            return own(printer, self)
        body = self._spelled_body(printer, r"\left({}\right)")
        return rf"\operatorname{{entrywise}}\left({body}\right)"

    def _entry(self, i, j, **kwargs):
        vals = []
        for op in self.operands:
            if not op.is_Matrix:
                vals.append(op)
            else:
                vals.append(op._entry(0 if op.shape[0] == 1 else i, 0 if op.shape[1] == 1 else j, **kwargs))
        return self.function(*vals)


class _Spelled(sp.Symbol):
    """A placeholder printed as the text it is named (an operand's printed form) by str and LaTeX."""

    def _sympystr(self, printer):
        return self.name

    def _latex(self, printer):
        return self.name


class Ones(sp.OneMatrix):
    """sympy's `OneMatrix`, printed as what it is: `ones(m, n)`, 𝟙 in LaTeX (sympy prints `1`)."""

    def _sympystr(self, printer):
        return f"ones({printer._print(self.shape[0])}, {printer._print(self.shape[1])})"

    def _latex(self, printer):
        """𝟙 with its size; a printer with its own `_print_OneMatrix` (the derivations') keeps it."""
        from sympy.printing.latex import LatexPrinter

        own = getattr(type(printer), "_print_OneMatrix", None)
        if own is not None and own is not LatexPrinter._print_OneMatrix:
            return own(printer, self)
        return rf"\mathbb{{1}}_{{{printer._print(self.shape[0])} \times {printer._print(self.shape[1])}}}"


class SumAll(sp.Expr):
    """Σ_ij M_ij, a scalar (sympy's `Trace(1ᵀ M 1)` is the same number, but sympy gets its derivative wrong)."""

    is_commutative = True

    def __new__(cls, mat):
        return Basic.__new__(cls, _matrix(mat, "SumAll"))

    @property
    def arg(self):
        return self.args[0]

    def doit(self, **hints):
        arg = self.arg.doit(**hints) if hints.get("deep", True) else self.arg
        if isinstance(arg, sp.MatrixBase):
            return sp.Add(*arg)
        return SumAll(arg)

    def _sympystr(self, printer):
        return f"sum({printer._print(self.arg)})"


def square(mat, what):
    """`mat`, a matrix expression whose rows and columns are one size; else our ShapeError naming its shape."""
    mat = _matrix(mat, what)
    rows, cols = mat.shape
    if sp.simplify(rows - cols) != 0:
        raise ShapeError(f"{what} needs a square matrix; {str(mat)[:60]} is {rows}×{cols}: give it one of n×n")
    return mat


class LogDet(sp.Expr):
    """log |det X|, a scalar, for a square X (evaluated by slogdet, so it neither overflows nor
    underflows where det X does): d log|det X| = tr(X⁻¹ dX), its gradient X⁻ᵀ."""

    is_commutative = True
    is_real = True

    def __new__(cls, mat):
        return Basic.__new__(cls, square(mat, "logdet"))

    @property
    def arg(self):
        return self.args[0]

    def doit(self, **hints):
        arg = self.arg.doit(**hints) if hints.get("deep", True) else self.arg
        if not isinstance(arg, sp.MatrixBase) and not arg.has(sp.MatrixSymbol):
            arg = arg.as_explicit()  # I + M of an explicit M: explicit too
        if isinstance(arg, sp.MatrixBase):
            return sp.log(sp.Abs(arg.det()))
        return LogDet(arg)

    def _sympystr(self, printer):
        return f"logdet({printer._print(self.arg)})"

    def _latex(self, printer):
        return rf"\log\left|\det {printer._print(self.arg)}\right|"


def logdet(mat):
    """log |det mat| for a square matrix expression: the stable log-determinant (see `LogDet`)."""
    return LogDet(mat)


class RowLogSumExp(MatrixExpr):
    """log Σ_k exp(Z_ik) for each row i: an m×1 column (evaluated with the max shift)."""

    def __new__(cls, mat):
        return MatrixExpr.__new__(cls, _matrix(mat, "RowLogSumExp"))

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return (self.arg.shape[0], sp.S.One)

    def _entry(self, i, j, **kwargs):
        cols = self.arg.shape[1]
        return sp.log(sp.Add(*[sp.exp(self.arg._entry(i, k)) for k in range(int(cols))]))

    def _sympystr(self, printer):
        return f"logsumexp_rows({printer._print(self.arg)})"


class RowSoftmax(MatrixExpr):
    """exp(Z_ij) / Σ_k exp(Z_ik): each row a probability distribution."""

    def __new__(cls, mat):
        return MatrixExpr.__new__(cls, _matrix(mat, "RowSoftmax"))

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return self.arg.shape

    def _entry(self, i, j, **kwargs):
        cols = self.arg.shape[1]
        return sp.exp(self.arg._entry(i, j)) / sp.Add(*[sp.exp(self.arg._entry(i, k)) for k in range(int(cols))])

    def _sympystr(self, printer):
        return f"softmax_rows({printer._print(self.arg)})"


class Unit(MatrixExpr):
    """The rows×cols matrix with a single 1 at (i, j): the adjoint pattern of the element M[i, j]."""

    def __new__(cls, rows, cols, i, j):
        return MatrixExpr.__new__(cls, *map(sp.sympify, (rows, cols, i, j)))

    @property
    def shape(self):
        return self.args[0], self.args[1]

    @property
    def index(self):
        return self.args[2], self.args[3]

    def _entry(self, i, j, **kwargs):
        return sp.S.One if (i, j) == tuple(self.index) else sp.S.Zero


def canonical_lambda(function, prefix="_x"):
    """`function` (a Lambda or a one-argument sympy function class) with plainly named variables.

    sympy's `applyfunc` binds a `Dummy`, whose printed form changes from run to run; generated
    code and hashes must not, so every Lambda symgrad handles uses `_x0, _x1, ...`.
    """
    if not isinstance(function, sp.Lambda):
        var = sp.Symbol(f"{prefix}0", real=True)
        return sp.Lambda((var,), function(var))
    names = [sp.Symbol(f"{prefix}{k}", real=True) for k in range(len(function.variables))]
    return sp.Lambda(tuple(names), function.expr.xreplace(dict(zip(function.variables, names, strict=True))))


def entrywise_as_maps(exprs):
    """`exprs` with every closed `applyfunc` node (sympy's ElementwiseApplyFunction, printed
    `Lambda(_d, tanh(_d)).(X*W)`) as the equal one-operand `Map` (printed `entrywise(tanh(X*W))`),
    rebuilt bottom-up so nested ones are found too. A function closing over other symbols stays.
    """
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

    from ..dag import topological

    new = {}
    for node in topological(list(exprs)):
        args = [new.get(a, a) for a in node.args]
        if isinstance(node, ElementwiseApplyFunction) and not _reads_others(node.function):
            new[node] = Map(canonical_lambda(node.function), args[1])
        elif any(a is not b for a, b in zip(args, node.args, strict=True)):
            try:
                new[node] = node.func(*args, evaluate=False)
            except TypeError:
                new[node] = node.func(*args)
    return [new.get(e, e) for e in exprs]


def _only_called(var, body):
    """`var` occurs in `body` only as a whole argument of function calls (`tanh(var)`): no parentheses needed."""
    uses = [node for node in sp.preorder_traversal(body) if var in node.args]
    return bool(uses) and all(isinstance(node, sp.Function) for node in uses)


def _reads_others(function):
    return isinstance(function, sp.Lambda) and bool(function.expr.free_symbols - set(function.variables))


def close_over(function, operands):
    """(function, operands) with every value the body reads besides its variables made an operand.

    Each largest subexpression of the body that reads no variable but some symbol (a parameter
    `w`, an element `Y[0, 0]`, `sin(w)`) becomes a scalar operand, so the rules, the autodiff and
    the lowering, which follow operands, all see it: Lambda(t, w*t) over x becomes
    Lambda((t, _c0), _c0*t) over (x, w).
    """
    bound = set(function.variables)
    if not function.expr.free_symbols - bound:
        return function, list(operands)
    lifted, taken = {}, {str(v) for v in bound}

    def fresh():
        k = len(lifted)
        while f"_c{k}" in taken:
            k += 1
        taken.add(f"_c{k}")
        return sp.Symbol(f"_c{k}", real=True)

    def walk(e):
        if not e.free_symbols & bound:
            if not e.free_symbols:
                return e
            if e not in lifted:
                lifted[e] = fresh()
            return lifted[e]
        return e.func(*[walk(a) for a in e.args]) if e.args else e

    body = walk(function.expr)
    lambda_ = sp.Lambda((*function.variables, *lifted.values()), body)
    return lambda_, [*operands, *lifted]


def check_closed(function):
    """An entrywise function reads only its own variables (`close_over` made the rest operands)."""
    free = function.expr.free_symbols - set(function.variables)
    if free:
        names = ", ".join(sorted(map(str, free)))
        raise InvalidArgumentError(
            f"the entrywise function {function} reads {names} besides its argument; "
            "symgrad.matrix.prepare.prepare lifts such values into operands before evaluation"
        )


def power_exponent(node):
    """n of the matrix power Aⁿ (a `MatPow`, which sympy makes of `A*A`), a positive integer.

    Negative and symbolic exponents would need inverses and matrix logarithms, which no rule covers
    (`Inverse`, a MatPow subclass, is its own record).
    """
    n = node.exp
    if not (n.is_Integer and n > 0):
        raise UnsupportedError(
            f"cannot differentiate the matrix power {str(node)[:60]}: symgrad supports A**n for integers n >= 1 only; "
            "write inverses and other powers out of supported nodes"
        )
    return int(n)
