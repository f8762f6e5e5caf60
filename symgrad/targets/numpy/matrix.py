"""Render a `KernelIR` as a numpy module: `@` for products (BLAS), one array expression per
fused entrywise output, `.sum(axis=..., keepdims=True)` for reductions.

Inside a fused block, a temporary read once is inlined into its reader; what is left is one
line per value a reader needs, so the backward pass reads like textbook backprop
(`d_z2 = ...`, `d_W2 = h1.T @ d_z2`).
"""

import sympy as sp

from ...ir import Constant, Element, FusedElementwise, MatMul, MatrixCall, Reduce, ReduceOp, live
from ...primitives import matrix_record
from ...version import __version__
from ..line_map import Tags
from ..python_printers import NumpyExprPrinter
from ..templates import render, templates_beside
from .buffers import Line, reuse_buffers
from .matrix_helpers import MATRIX_HELPERS
from .regroup import shape_of_expr, small_factors_first

TEMPLATES = templates_beside(__file__)
REGENERATE = "symgrad generate all -o generated (the bundled models in generated/)"
FUNCTIONS = ("predict", "loss", "loss_and_grad", "loss_grad_and_outputs", "grad")


def _shape_text(t, sizes):
    dims = [str(d) if isinstance(d, int) else sizes[d] for d in t.shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _broadcast(expr, typ, types, sizes):
    """`expr` widened to its type's shape when none of the arrays it reads has that shape, in the
    kernel's dtype: a value made of Python numbers only (`1/batch_size`) would broadcast as float64
    and turn a float32 backward pass float64 from there on."""
    if any(types.get(s.name) is not None and types[s.name].shape == typ.shape for s in expr.free_symbols):
        return None
    return f"np.broadcast_to(np.asarray({{}}, dtype=DTYPE), {_shape_text(typ, sizes)})"


def _array_shape(typ):
    """The shape of a fresh 2-D array of this type (a reuse candidate); None for scalars."""
    return typ.shape if typ is not None and len(typ.shape) == 2 else None


def _fused_lines(block, printer, keep, types=None, sizes=None, hoisted_shapes=None):
    """One line per assignment that is read outside the block or more than once inside it
    (the shapes of the temporaries it splits off go into `hoisted_shapes`, for the buffer pass)."""
    uses = {}
    for a in block.assigns:
        for r in a.reads():
            uses[r] = uses.get(r, 0) + 1
    inline, lines, hoisted = {}, [], {}

    def shape_of(name):
        typ = types.get(name) if types else None
        return hoisted.get(name, typ.shape if typ is not None else ())

    for a in block.assigns:
        expr = a.expr.xreplace(inline) if inline else a.expr
        if a.target not in keep and uses.get(a.target, 0) == 1:
            inline[sp.Symbol(a.target)] = expr
            continue

        def hoist(small, target=a.target, fresh_array=False):
            name = _fresh(f"{target}_f", types, hoisted)
            hoisted[name] = shape_of_expr(small, shape_of)
            if hoisted_shapes is not None:
                hoisted_shapes[name] = hoisted[name]
            shape = hoisted[name] if fresh_array and len(hoisted[name]) == 2 else None
            lines.append(Line(name, printer.doprint(small), {s.name for s in small.free_symbols}, shape, small))
            return name

        while calls := _repeated_calls(expr):  # σ(z)·(1 − σ(z)): σ(z) once
            expr = expr.xreplace({calls[0]: sp.Symbol(hoist(calls[0], fresh_array=True))})
        expr = small_factors_first(expr, shape_of, hoist)
        reads = {s.name for s in expr.free_symbols}
        text = printer.doprint(expr)
        wrap = _broadcast(expr, a.type, types, sizes) if a.type.shape else None
        if wrap or isinstance(expr, sp.Symbol):  # a read-only view, or another name for an array
            lines.append(Line(a.target, wrap.format(text) if wrap else text, reads, pins=reads | {a.target},
                              comment=a.comment))
        else:
            lines.append(Line(a.target, text, reads, _array_shape(a.type), expr, comment=a.comment))
    return lines


def _repeated_calls(expr):
    """The function calls (σ(z), tanh(z), ...) that occur more than once in `expr`, inner ones first
    (hoisted one at a time, so that an outer call then reads the inner one's temporary)."""
    counts = {}
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Function):
            counts[node] = counts.get(node, 0) + 1
    return sorted((c for c, k in counts.items() if k > 1), key=sp.count_ops)


def _fresh(base, *taken):
    """`base`, or `base` with a number, unused by any of the name collections `taken`."""
    name, k = base, 1
    while any(name in t for t in taken if t):
        k += 1
        name = f"{base}{k}"
    return name


def _statement_lines(st, printer, sizes, keep, types, hoisted_shapes):
    if isinstance(st, FusedElementwise):
        return _fused_lines(st, printer, keep, types, sizes, hoisted_shapes)
    if isinstance(st, MatMul):
        a = st.a + (".T" if st.transpose_a else "")
        b = st.b + (".T" if st.transpose_b else "")
        return [Line(st.target, f"{a} @ {b}", {st.a, st.b}, _array_shape(types.get(st.target)), matmul=(a, b))]
    if isinstance(st, Reduce):
        if st.op is ReduceOp.TRACE:
            return [Line(st.target, f"np.trace({st.source})", {st.source})]
        if st.axis is None:
            return [Line(st.target, f"{st.source}.{st.op.value}()", {st.source})]
        helper = {(ReduceOp.SUM, 0): "column_sums", (ReduceOp.SUM, 1): "row_sums", (ReduceOp.MAX, 1): "row_max"}.get((st.op, st.axis))
        if helper is None:
            return [Line(st.target, f"{st.source}.{st.op.value}(axis={st.axis}, keepdims=True)", {st.source},
                         _array_shape(types.get(st.target)))]
        printer.helpers[helper] = MATRIX_HELPERS[helper]
        return [Line(st.target, f"{helper}({st.source})", {st.source}, _array_shape(types.get(st.target)))]
    if isinstance(st, Constant):
        shape = _shape_text(st.type, sizes)
        if st.kind == "eye":
            return [Line(st.target, f"np.eye({shape[1:].split(',')[0]}, dtype=DTYPE)", set(), pins={st.target})]
        text = f"np.{'ones' if st.kind == 'ones' else 'zeros'}({shape}, dtype=DTYPE)"
        lines = [Line(st.target, text, set(), pins={st.target})]
        if st.kind == "unit":
            lines.append(_Raw(f"{st.target}[{st.index[0]}, {st.index[1]}] = 1.0", {st.target}))
        return lines
    if isinstance(st, Element):
        return [Line(st.target, f"{st.source}[{st.index[0]}, {st.index[1]}]", {st.source})]
    if isinstance(st, MatrixCall):
        text = printer.spelled(matrix_record(st.function).numpy_call, [st.source])  # the record's spelling
        return [Line(st.target, text, {st.source}, _array_shape(types.get(st.target)))]
    return [Line(st.target, f"{st.source}.T", {st.source}, pins={st.source, st.target})]


class _Raw(Line):
    """A statement that is not an assignment (an indexed store)."""

    def __init__(self, text, reads):
        super().__init__("", text, reads, pins=set(reads))

    def render(self, text=None):
        return self.text


def _body(ir, results, printer, sizes_from=None):
    """(name, line) pairs computing `results`: a size read off an argument, then the statements
    (name None for a line that is no assignment)."""
    statements = live(ir.statements, results)
    keep = set(results)
    for st in statements:
        if not isinstance(st, FusedElementwise):
            keep |= st.reads()
    for st in statements:
        if isinstance(st, FusedElementwise):
            keep |= {r for r in st.reads()}
    sizes = {name: name_ident for name, name_ident in ir.size_names.items()}
    records, hoisted_shapes = [], {}
    for st in statements:
        records += _statement_lines(st, printer, sizes, keep, ir.types, hoisted_shapes)
    lines = reuse_buffers(records, set(results) | {v.ident for v in ir.args}, printer,
                          _full_shape(ir.types, hoisted_shapes))
    text = "\n".join(lines)
    prologue = [(ident, f"{ident} = {arg}.shape[{axis}]") for name, (arg, axis) in (sizes_from or ir.sizes).items()
                for ident in [ir.size_names[name]] if _mentions(text, ident)]
    return prologue + _tagged(records, lines)


def _tagged(records, lines):
    """(target, line) pairs for the line map: a line is tagged with the record value it assigns; the
    buffer pass may split one record into two lines (`t = a - b`, `t = np.exp(t, out=t)`), and then
    the last line that assigns the value computes it."""
    targets = {r.target for r in records if r.target}
    assigned = [line.split(" = ", 1)[0] if " = " in line else None for line in lines]
    last = {name: i for i, name in enumerate(assigned) if name in targets}
    return [(name if last.get(name) == i else None, line) for i, (name, line) in enumerate(zip(assigned, lines))]


def _texts(pairs):
    return [line for _, line in pairs]


def _full_shape(types, hoisted_shapes):
    """`full_shape(expr, shape)` for the buffer pass: whether `expr` (of known values only: the IR's,
    and the temporaries `small_factors_first` split off) has `shape`."""

    def shape_of(name):
        return hoisted_shapes[name] if name in hoisted_shapes else types[name].shape

    def full_shape(expr, shape):
        if any(types.get(s.name) is None and s.name not in hoisted_shapes for s in expr.free_symbols):
            return False
        return shape_of_expr(expr, shape_of) == tuple(shape)

    return full_shape


def _mentions(text, ident):
    import re

    return re.search(rf"\b{re.escape(ident)}\b", text) is not None


def _helper_texts(printer):
    """The definitions of the helpers the module calls: the matrix target's own where it has one."""
    return [MATRIX_HELPERS.get(h) or printer.helpers[h] for h in sorted(printer.helpers)]


def render_numpy_matrix(ir, title=None):
    """The module text for the matrix kernel `ir` (deterministic: same IR, same bytes)."""
    return render_numpy_matrix_lines(ir, title).text


def render_numpy_matrix_lines(ir, title=None):
    """The module for the matrix kernel `ir` as a `line_map.Rendered`: its text, and the line
    computing each value in each function (values inlined into their readers have none)."""
    tags = Tags()
    printer = NumpyExprPrinter()
    grad_results = [ir.loss, *ir.grads]
    context = dict(
        title=title or f"symgrad matrix kernel {ir.name!r}: loss, gradient and predictions",
        version=__version__,
        source_hash=ir.source_hash,
        regenerate=REGENERATE,
        data_names=repr(tuple(str(v.symbol) for v in ir.data)),
        param_names=repr(tuple(str(v.symbol) for v in ir.params)),
        dtype=ir.dtype,
        args=", ".join(v.ident for v in ir.args),
        predict_body=tags.lines("predict", _body(ir, ir.predictions, printer)),
        predictions=ir.predictions,
        loss_body=tags.lines("loss", _body(ir, [ir.loss], printer)),
        loss_return=ir.loss,
        grad_body=tags.lines("loss_and_grad", _body(ir, grad_results, printer)),
        grad_return=f"{ir.loss}, [{', '.join(ir.grads)}]",
        grad_only_body=tags.lines("grad", _body(ir, list(ir.grads), printer)),
        grad_only_return=f"[{', '.join(ir.grads)}]",
        step_body=tags.lines("loss_grad_and_outputs", _body(ir, grad_results + list(ir.predictions), printer)),
        marks={f: tags.function(f) for f in FUNCTIONS},
    )
    context["helpers"] = _helper_texts(printer)
    return tags.resolve(render(TEMPLATES, "matrix_module.py.j2", **context))


def render_numpy_hessian(ir, directions, title=None):
    """The module text for a Hessian kernel: `ir.extras` are ["hessian"?, H·V per parameter].

    `directions` are the identifiers of the direction arguments (data arguments of `ir` that
    only `hvp` takes).
    """
    printer = NumpyExprPrinter()
    has_hessian = len(ir.extras) > len(ir.grads)
    products = ir.extras[1:] if has_hessian else ir.extras
    args = [v.ident for v in ir.args if v.ident not in directions]
    # sizes read off the arguments every function takes (`hessian` has no directions)
    sizes_from = {name: next(((v.ident, v.type.shape.index(name)) for v in ir.args
                               if v.ident not in directions and name in v.type.shape), source)
                  for name, source in ir.sizes.items()}
    direction_vars = [v for v in ir.data if v.ident in directions]
    context = dict(
        title=title or f"symgrad Hessian kernel {ir.name!r}: loss, gradient, Hessian and Hessian-vector products",
        version=__version__,
        source_hash=ir.source_hash,
        regenerate=REGENERATE,
        data_names=repr(tuple(str(v.symbol) for v in ir.data if v.ident not in directions)),
        param_names=repr(tuple(str(v.symbol) for v in ir.params)),
        direction_names=repr(tuple(str(v.symbol) for v in direction_vars)),
        dtype=ir.dtype,
        args=", ".join(args),
        hvp_args=", ".join(args + [v.ident for v in direction_vars]),
        grad_body=_texts(_body(ir, [ir.loss, *ir.grads], printer, sizes_from)),
        grad_return=f"{ir.loss}, [{', '.join(ir.grads)}]",
        hessian_body=_texts(_body(ir, ir.extras[:1], printer, sizes_from)) if has_hessian else [],
        hessian_return=ir.extras[0] if has_hessian else "",
        hvp_body=_texts(_body(ir, products, printer)),
        hvp_return=", ".join(products),
    )
    context["helpers"] = _helper_texts(printer)
    return render(TEMPLATES, "hessian_module.py.j2", **context)
