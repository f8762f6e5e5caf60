"""The matrix level's part of the lowering (`symgrad.lowering`): whole arrays → `KernelIR`.

Each node is lowered by its record's `lower` rule (`symgrad.matrix.records`), which calls the
methods of `_Lowering` below (products, powers, reductions, constants, whole-matrix calls).

Matrix products become `MatMul` statements (transposes as flags, never copies); products with a
ones vector become reductions or broadcasts; everything entrywise becomes an expression that is
inlined into its single consumer or assigned once, and runs of assignments between products and
reductions are grouped into `FusedElementwise` blocks. Values get textbook names from the one
naming pass (`symgrad.value_names`): `z1 = X @ W1`, `h1 = tanh(z1 + b1)`, the adjoint of a named
value `d_z1`, the gradient of W1 `d_W1`; what it leaves unnamed is a temporary `t`.
"""

import keyword

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .. import dag
from ..dag import is_operation, structural_hash
from ..errors import UnboundSymbolError, UnsupportedError
from ..ir import (
    ArrayVar,
    Assign,
    Constant,
    Element,
    FusedElementwise,
    KernelIR,
    MatMul,
    MatrixCall,
    Phase,
    Reduce,
    ReduceOp,
    Role,
    TensorType,
    TransposeView,
)
from ..matrix import records  # noqa: F401 - enters the matrix-node records
from ..matrix.graph import matrix_symbols, operands, size_symbols, topological
from ..matrix.nodes import Unit, canonical_lambda, power_exponent
from ..names import C_KEYWORDS, CUDA_NAMES, RESERVED
from ..primitives.matrix_record import gap, matrix_rule
from ..value_names import layer_names
from .checks import reject_unprintable

MAX_INLINE_DEPTH = 6
LOSS_NAME = "loss_value"


ESTIMATED_SIZE = 256  # a symbolic size (the batch length) when choosing the order of a product chain


def chain_order(factors):
    """{(i, j): k}: multiply factors[i..k] and factors[k+1..j], then the two, for the fewest scalar
    multiplications (the matrix-chain order; Xᵀ·D·Wᵀ·Vᵀ with D narrow is Xᵀ·D then Wᵀ·Vᵀ, not the
    batch-sized Xᵀ·D·Wᵀ). Symbolic sizes count as ESTIMATED_SIZE; ties keep left to right."""
    def size(d):
        d = sp.sympify(d)
        return int(d) if d.is_Integer else int(d.subs({x: ESTIMATED_SIZE for x in d.free_symbols}))

    dims = [size(factors[0].shape[0])] + [size(f.shape[1]) for f in factors]
    n = len(factors)
    cost, split = {(i, i): 0 for i in range(n)}, {}
    for span in range(1, n):
        for i in range(n - span):
            j = i + span
            for k in range(j - 1, i - 1, -1):  # left to right ((A·B)·C) first: it wins ties
                c = cost[i, k] + cost[k + 1, j] + dims[i] * dims[k + 1] * dims[j + 1]
                if (i, j) not in cost or c < cost[i, j]:
                    cost[i, j], split[i, j] = c, k
    return split


def _dim(d):
    return int(d) if d.is_Integer else str(d)


class _Lowering:
    def __init__(self, roots, forward, data, params, dtype, namer, idents, names):
        self.dtype, self.names, self.forward = dtype, names, forward
        self.namer = namer
        self.data = [self._arg(s, idents[s], Role.DATA) for s in data]
        self.params = [self._arg(s, idents[s], Role.PARAM) for s in params]
        self.ref = {v.symbol: sp.Symbol(v.ident) for v in self.data + self.params}
        self.types = {v.ident: v.type for v in self.data + self.params}
        self.depth = dict.fromkeys(self.ref, 0)
        self.statements = []
        self.sizes = {}
        for v in self.data + self.params:
            if isinstance(v.symbol, sp.MatrixSymbol):
                for axis, d in enumerate(v.symbol.shape):
                    if isinstance(d, sp.Symbol) and str(d) not in self.sizes:
                        self.sizes[str(d)] = (v.ident, axis)
        self.size_ident = {}
        for name in self.sizes:
            self.size_ident[name] = self.namer.user(name)
        self.uses = {}
        for node in topological(roots):
            for c in set(operands(node)):
                self.uses[c] = self.uses.get(c, 0) + 1
        self.roots = set(roots)
        self.node = None
        self.lazy = {}  # constants and transposes: emitted only where a statement needs the array
        self.shifted = {}  # logits node -> (max, shifted exp, row sums): `row_max_shifted_exp`

    def _arg(self, s, ident, role):
        shape = tuple(_dim(d) for d in s.shape) if isinstance(s, sp.MatrixSymbol) else ()
        return ArrayVar(ident, s, role, TensorType(shape, self.dtype))

    def type_of(self, node):
        shape = tuple(_dim(sp.sympify(d)) for d in node.shape) if node.is_Matrix else ()
        return TensorType(shape, self.dtype)

    def phase(self):
        return Phase.FORWARD if self.node in self.forward else Phase.BACKWARD

    def fresh(self, base):
        k, ident = 0, base
        while (ident in self.namer.used or keyword.iskeyword(ident) or ident in RESERVED or ident in C_KEYWORDS
               or ident in CUDA_NAMES):
            k += 1
            ident = f"{base}_{k}"
        self.namer.used.add(ident)
        return ident

    def name_for(self, node):
        return self.fresh(self.names.base(node, self._named_ident) or "t")

    def _named_ident(self, value):
        """The identifier holding `value` where it has a name worth citing in an adjoint's (an
        argument, a value the naming pass named), else None."""
        ref = self.ref.get(value)
        if isinstance(ref, sp.Symbol) and (value in self.names.own or not is_operation(value)):
            return ref.name
        return None

    # values and expressions
    def value(self, node):
        """The identifier holding `node`'s value, assigning its pending expression if needed."""
        if node in self.lazy:
            target = self.emit(self.lazy.pop(node)())
            self.ref[node], self.depth[node] = sp.Symbol(target), 0
            return target
        ref = self.ref[node]
        if isinstance(ref, sp.Symbol) and ref.name in self.types and self.types[ref.name] == self.type_of(node):
            return ref.name
        target = self.name_for(node)
        self.statements.append(Assign(target, ref, self.type_of(node), self.phase()))
        self.types[target] = self.type_of(node)
        self.ref[node], self.depth[node] = sp.Symbol(target), 0
        return target

    def emit(self, st):
        self.statements.append(st)
        for t in st.targets:
            self.types[t] = st.type
        return st.targets[0]

    def set_expr(self, node, expr, depth):
        self.ref[node], self.depth[node] = expr, depth
        if self.uses.get(node, 0) > 1 or node in self.roots or depth > MAX_INLINE_DEPTH:
            self.value(node)

    def expr_of(self, node):
        return sp.Symbol(self.value(node)) if node in self.lazy else self.ref[node]

    def entrywise(self, node, build):
        refs = [self.expr_of(a) for a in operands(node)]
        depth = 1 + max([self.depth.get(a, 0) for a in operands(node)], default=0)
        self.set_expr(node, build(*refs), depth)

    # matrix products
    def operand(self, factor):
        """(identifier, transposed?) for a MatMul factor, looking through Transpose."""
        if isinstance(factor, sp.Transpose):
            return self.value(factor.arg), True
        return self.value(factor), False

    def matmul(self, node):
        """A product chain: gemms left to right (right to left for a column result, so matrix-vector
        products stay matrix-vector); ones factors at either end are sums (and broadcasts), ones
        factors inside split the chain (`split_product`)."""
        scalars = [self.expr_of(a) for a in node.args if not a.is_Matrix]
        mats = [a for a in node.args if a.is_Matrix]
        if any(isinstance(m, sp.OneMatrix) for m in mats[1:-1]) or all(isinstance(m, sp.OneMatrix) for m in mats):
            self.set_expr(node, self.split_product(scalars, mats), 1)
        else:
            self.set_expr(node, *self.product(node, scalars, mats))

    def chain(self, node, core, split, done, phase, i=0, j=None):
        """(identifier, transposed?) of the product of core[i..j], emitted in `split`'s order."""
        j = len(core) - 1 if j is None else j
        if i == j:
            return self.operand(core[i])
        k = split[i, j]
        a, ta = self.chain(node, core, split, False, phase, i, k)
        b, tb = self.chain(node, core, split, False, phase, k + 1, j)
        target = self.name_for(node) if done else self.fresh("z" if phase is Phase.FORWARD else "t")
        step = TensorType((_dim(core[i].shape[0]), _dim(core[j].shape[1])), self.dtype)
        return self.emit(MatMul(target, a, b, ta, tb, step, phase)), False

    def split_product(self, scalars, mats):
        """P₀·1·P₁·1·…·Pₖ as an entrywise product (P₀·1) ⊙ (1ᵀP₁1) ⊙ … ⊙ (1ᵀPₖ), broadcasting.

        A ones matrix is a column of ones times a row of ones, so each segment between ones factors
        reduces on its own: the first to its row sums, the last to its column sums, the ones in
        between to scalars (an empty segment between two ones factors is their inner size).
        """
        segments, ones, run = [], [], []
        for m in mats:
            if isinstance(m, sp.OneMatrix):
                segments.append(run)
                ones.append(m)
                run = []
            else:
                run.append(m)
        segments.append(run)
        parts = list(scalars)
        for k, seg in enumerate(segments):
            first, last = k == 0, k == len(segments) - 1
            if not seg:
                if not (first or last):
                    parts.append(self.size(ones[k - 1].shape[1]))
                continue
            factors = ([] if first else [sp.OneMatrix(1, seg[0].shape[0])]) + seg
            factors += [] if last else [sp.OneMatrix(seg[-1].shape[1], 1)]
            if len(factors) == 1:
                parts.append(self.expr_of(factors[0]))
            else:
                parts.append(self.product(sp.MatMul(*factors), [], factors)[0])
        return sp.Mul(*parts)

    def size(self, dim):
        """A dimension as an expression: a number, or the identifier holding a symbolic size."""
        idents = {d: self.size_ident[str(d)] for d in sp.sympify(dim).free_symbols}
        self.types.update(dict.fromkeys(idents.values(), TensorType((), self.dtype)))
        return sp.sympify(dim).xreplace({d: sp.Symbol(i) for d, i in idents.items()})

    def product(self, node, scalars, mats):
        """(expression, inline depth) of a product whose ones factors, if any, are at its ends."""
        lead = mats[0] if isinstance(mats[0], sp.OneMatrix) and len(mats) > 1 else None
        trail = mats[-1] if isinstance(mats[-1], sp.OneMatrix) and len(mats) > 1 + (lead is not None) else None
        core = mats[(lead is not None) : len(mats) - (trail is not None)]
        phase = self.phase()
        if len(core) == 1:
            expr = self.expr_of(core[0])
            shape = list(core[0].shape)
        else:
            shape = [core[0].shape[0], core[-1].shape[1]]
            done = not scalars and not self._reduces(lead, trail, shape)
            if len(core) > 2 and shape[1] == 1 and shape[0] != 1:  # a column: Aᵀ·(A·v), never (AᵀA)·v
                ident, tb = self.operand(core[-1])
                for k, factor in enumerate(reversed(core[:-1]), start=1):
                    a, ta = self.operand(factor)
                    target = self.name_for(node) if done and k == len(core) - 1 else self.fresh("t")
                    step = TensorType((_dim(factor.shape[0]), _dim(core[-1].shape[1])), self.dtype)
                    ident = self.emit(MatMul(target, a, ident, ta, tb, step, phase))
                    tb = False
            else:
                ident = self.chain(node, core, chain_order(core), done, phase)[0]
            expr = sp.Symbol(ident)
        for axis, ones in ((0, lead), (1, trail)):
            if ones is None or shape[axis] == 1:
                continue
            shape[axis] = 1
            src = expr.name if isinstance(expr, sp.Symbol) and expr.name in self.types else self.value(core[0])
            last = not scalars and not (axis == 0 and trail is not None and shape[1] != 1)
            target = self.name_for(node) if last else self.fresh("t")
            typ = TensorType(tuple(_dim(sp.sympify(d)) for d in shape), self.dtype)
            expr = sp.Symbol(self.emit(Reduce(target, src, ReduceOp.SUM, axis, typ, phase)))
        if scalars:
            expr = sp.Mul(*scalars, expr)
        depth = 0 if isinstance(expr, sp.Symbol) else 1 + max(self.depth.get(m, 0) for m in core)
        if isinstance(expr, sp.Symbol) and expr.name in self.types and self.types[expr.name] != self.type_of(node):
            depth = max(depth, 1)  # a broadcast (OneMatrix(m, 1)·b): same data, wider type
        return expr, depth

    def power(self, node):
        """Aⁿ by square-and-multiply: about 2·log₂ n gemms, the last one named for the node."""
        ident, transposed = self.operand(node.base)
        steps, current = [], 0  # step k multiplies values a and b (value 0 is A) into value k + 1
        for bit in bin(power_exponent(node))[3:]:
            steps.append((current, current))
            current = len(steps)
            if bit == "1":
                steps.append((current, 0))
                current = len(steps)
        values, flags, phase = [ident], [transposed], self.phase()
        for k, (a, b) in enumerate(steps):
            target = self.name_for(node) if k == len(steps) - 1 else self.fresh("z" if phase is Phase.FORWARD else "t")
            values.append(self.emit(MatMul(target, values[a], values[b], flags[a], flags[b], self.type_of(node), phase)))
            flags.append(False)
        self.set_expr(node, sp.Symbol(values[-1]), 0)

    @staticmethod
    def _reduces(lead, trail, shape):
        return (lead is not None and shape[0] != 1) or (trail is not None and shape[1] != 1)

    # reductions and rows
    def reduce(self, node, op, axis):
        """`op` ("sum", "max", "trace") of the node's operand over `axis`."""
        src = self.value(node.args[0])
        target = self.name_for(node)
        st = Reduce(target, src, ReduceOp(op), axis, self.type_of(node), self.phase())
        self.ref[node] = sp.Symbol(self.emit(st))
        self.depth[node] = 0

    def row_max_shifted_exp(self, z_node):
        """(row max m, e = exp(z − m), row sums of e) of `z_node`, emitted once for all its readers
        (the loss's logsumexp and the gradient's softmax share them)."""
        if z_node in self.shifted:
            return self.shifted[z_node]
        self.shifted[z_node] = self._shifted_exp(z_node)
        return self.shifted[z_node]

    def _shifted_exp(self, z_node):
        z = self.value(z_node)
        zt = self.types[z]
        col = TensorType((zt.shape[0], 1), self.dtype)
        m = self.emit(Reduce(self.fresh("t"), z, ReduceOp.MAX, 1, col, self.phase()))
        e = self.fresh("t")
        self.emit(Assign(e, sp.exp(sp.Symbol(z) - sp.Symbol(m)), zt, self.phase()))
        s = self.emit(Reduce(self.fresh("t"), e, ReduceOp.SUM, 1, col, self.phase()))
        return sp.Symbol(m), sp.Symbol(e), sp.Symbol(s)

    def lower(self, node):
        self.node = node
        if node in self.ref:
            return
        if isinstance(node, sp.Symbol):
            if str(node) in self.size_ident:
                self.ref[node], self.depth[node] = sp.Symbol(self.size_ident[str(node)]), 0
                self.types[self.size_ident[str(node)]] = TensorType((), self.dtype)
                return
            raise UnboundSymbolError(f"{node} is neither an input nor a parameter; pass it in inputs= or wrt=")
        if isinstance(node, sp.MatrixSymbol):
            raise UnboundSymbolError(f"{node} is neither an input nor a parameter; pass it in inputs= or wrt=")
        if node.is_number:
            self.ref[node], self.depth[node] = node, 0
            return
        if (rule := matrix_rule(node, "lower")) is not None:
            rule(self, node)
        elif not node.is_Matrix and operands(node):
            self.entrywise(node, lambda *refs: _rebuild(node, refs))
        else:
            why = gap(node, "lower") or "its record (symgrad.matrix.records) has no lowering"
            raise UnsupportedError(f"cannot lower {type(node).__name__} (in {str(node)[:60]}) to a matrix kernel: {why}")

    # what the records' `lower` rules call
    def constant(self, node, kind):
        """A constant matrix ("ones", "zeros", "eye", "unit"), made only where a statement needs it."""
        index = tuple(int(i) for i in node.index) if isinstance(node, Unit) else ()
        phase = self.phase()
        self.lazy[node] = lambda: Constant(self.name_for(node), kind, self.type_of(node), phase, index)
        self.ref[node], self.depth[node] = None, 0

    def transpose(self, node):
        """Aᵀ: a view, made only where a statement needs the array (products read the flag instead)."""
        phase = self.phase()
        self.lazy[node] = lambda: TransposeView(self.name_for(node), self.value(node.arg), self.type_of(node), phase)
        self.ref[node], self.depth[node] = None, 0

    def element(self, node):
        src = self.value(node.parent)
        st = Element(self.name_for(node), src, (int(node.i), int(node.j)), self.type_of(node), self.phase())
        self.ref[node], self.depth[node] = sp.Symbol(self.emit(st)), 0

    def call(self, node):
        """`f(A)` for a function of a whole matrix, spelled per target by the node's record."""
        (arg,) = operands(node)
        st = MatrixCall(self.name_for(node), type(node), self.value(arg), self.type_of(node), self.phase(), str(node)[:60])
        self.ref[node], self.depth[node] = sp.Symbol(self.emit(st)), 0


def _rebuild(node, args):
    try:
        return node.func(*args, evaluate=False)
    except TypeError:
        return node.func(*args)


def _fuse(statements, results):
    """Group each run of consecutive `Assign`s of one phase into one `FusedElementwise` block."""
    out, run = [], []
    later_reads = []  # reads of everything after position i, computed backwards
    reads = set(results)
    for st in reversed(statements):
        later_reads.append(set(reads))
        reads |= st.reads()
    later_reads.reverse()

    def close(end):
        if not run:
            return
        targets = {a.target for a in run}
        inputs = sorted({r for a in run for r in a.reads()} - targets)
        outputs = tuple(a.target for a in run if a.target in later_reads[end])
        out.append(FusedElementwise(tuple(run), tuple(inputs), outputs, run[0].phase))
        run.clear()

    for i, st in enumerate(statements):
        if isinstance(st, Assign):
            if run and run[-1].phase is not st.phase:
                close(i - 1)
            run.append(st)
            continue
        close(i - 1)
        out.append(st)
    close(len(statements) - 1)
    return out


def reject_unbound(roots, data, params):
    """Our error for a symbol that is neither an input, a parameter, nor a size of one."""
    known = set(data) | set(params)
    free = matrix_symbols(roots) - known - size_symbols(known)
    if free:
        names = ", ".join(sorted(map(str, free)))
        raise UnboundSymbolError(f"{names} is neither an input nor a parameter; pass it in inputs= or wrt=")


def forward_names(loss, predictions, params, idents):
    """The forward values' own names: products `z<k>`, entrywise maps `h<k>` (`value_names.layer_names`)."""
    return layer_names(topological([loss, *predictions]))


def lower(name, loss, grads, predictions, extras, data, params, dtype, namer, idents, names):
    """The IR for the scalar `loss`, its `grads` (`params` order), `predictions` and the further
    results `extras` ((name, expression) pairs, lowered with the backward pass), the arguments
    spelled `idents` by `namer`, the values named by `names` (`ValueNames`)."""
    roots = [loss, *grads, *predictions, *(e for _, e in extras)]
    reject_unprintable(dag.topological(roots), loss, grads, predictions, params)
    forward = set(topological([loss, *predictions]))
    low = _Lowering(roots, forward, data, params, dtype, namer, idents, names)
    for node in topological(roots):
        low.lower(node)
    low.node = None  # what the results still need is assigned in the backward pass
    results = [low.value(r) for r in roots]
    statements = _fuse(low.statements, results)
    n_grads, n_out = len(grads), len(predictions)
    return KernelIR(
        name=name, data=low.data, params=low.params, sizes=low.sizes, statements=statements,
        loss=results[0], grads=results[1 : 1 + n_grads], predictions=results[1 + n_grads : 1 + n_grads + n_out],
        extras=results[1 + n_grads + n_out :],
        types=low.types, source_hash=_source_hash(roots), dtype=dtype, size_names=dict(low.size_ident),
        origins=_origins(low.ref, statements),
    )


def _origins(refs, statements):
    """Node -> the statement target holding its value (nodes inlined into a reader are absent)."""
    targets = {t for st in statements for t in st.targets}
    return {node: ref.name for node, ref in refs.items() if isinstance(ref, sp.Symbol) and ref.name in targets}


def canonical(roots):
    """`roots` without the run-to-run numbering of the Dummy in sympy's applyfunc (for hashes)."""
    mapping = {n.function: canonical_lambda(n.function) for n in topological(roots)
               if isinstance(n, ElementwiseApplyFunction)}
    return [r.xreplace(mapping) for r in roots]


def _source_hash(roots):
    return structural_hash(canonical(roots))
