"""Render a `KernelIR` for CUDA: one generated kernel per fused entrywise block, matrix
products through cuBLAS (CuPy's matmul), reductions through CuPy, all driven by a launcher module.

A fused block runs over its domain, the broadcast of its assignments' shapes: one thread per
entry (grid-stride), every assignment in registers. Operands of shape (m, 1), (1, n) or () are
read with the matching broadcast index; a result of such a shape is written by the threads of
column 0, row 0 or entry (0, 0) only. Sizes (e.g. the batch N) are passed by value, and so are
scalars computed from sizes alone, which the launcher computes on the host.
"""

from ...errors import UnsupportedError
from ...ir import Constant, Element, FusedElementwise, MatMul, MatrixCall, Reduce, ReduceOp, TransposeView
from ...names import comment_text
from ...primitives import matrix_record
from ..python_printers import NumpyExprPrinter
from ..templates import render
from .printer import CudaExprPrinter
from .scalar import BLOCK, C_TYPES, TEMPLATES, CudaSources, file_header, pointer

INDEX = {"sg_i": "const long long sg_i = sg_k / sg_cols;", "sg_j": "const long long sg_j = sg_k % sg_cols;"}


def _domain(shapes):
    """The broadcast (rows, cols) of 2-D / scalar shapes; () counts as (1, 1)."""
    rows, cols = 1, 1
    for shape in shapes:
        r, c = shape if shape else (1, 1)
        rows, cols = (r if r != 1 else rows), (c if c != 1 else cols)
    return rows, cols


def _index(shape, domain):
    """The flat index of the current entry into a contiguous array of `shape` broadcast to `domain`."""
    r, c = shape if shape else (1, 1)
    row = "sg_i" if r != 1 and domain[0] != 1 else None
    col = "sg_j" if c != 1 and domain[1] != 1 else None
    if row and col:
        return "sg_i * sg_cols + sg_j"
    return row or col or "0"


def _writer(shape, domain):
    """The condition under which the current thread writes a result of `shape` (None: always)."""
    r, c = shape if shape else (1, 1)
    conds = [f"{v} == 0" for v, mine, whole in (("sg_i", r, domain[0]), ("sg_j", c, domain[1])) if mine == 1 and whole != 1]
    return " && ".join(conds) or None


def _shape(dims, ir):
    """A shape as Python tuple text, sizes by their identifiers: `(N, 3)`."""
    items = [str(d) if isinstance(d, int) else ir.size_names.get(d, d) for d in dims]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _device_reads(ir):
    """Values read by statements other than fused blocks (cuBLAS, CuPy): they must be device arrays."""
    return set(ir.predictions) | {ir.loss, *ir.grads}.union(
        *(st.reads() for st in ir.statements if not isinstance(st, FusedElementwise)))


class _FusedKernels:
    """One `__global__` function per fused block, and the launcher line(s) that run it.

    A block of scalars computed from sizes alone (the `1/N` of a mean) is no kernel: the launcher
    computes it on the host and passes it to the kernels that read it by value, like a size.
    """

    def __init__(self, ir, printer):
        self.ir, self.printer = ir, printer
        self.sizes = set(ir.size_names.values())
        self.host = set()  # values the launcher computes on the host
        self.device_reads = _device_reads(ir)
        self.kernels, self.calls = [], {}

    def call(self, block):
        """The launcher lines running `block` (its kernel generated on first use)."""
        if id(block) not in self.calls:
            self.calls[id(block)] = self._on_host(block) or [self._generate(block)]
        return self.calls[id(block)]

    def _on_host(self, block):
        """Launcher lines computing `block` on the host, or None when it belongs on the device."""
        scalars = all(a.type.shape == () for a in block.assigns)
        if not scalars or not set(block.inputs) <= self.sizes | self.host or set(block.outputs) & self.device_reads:
            return None
        printer = NumpyExprPrinter()
        lines = [f"{a.target} = self.DTYPE.type({printer.doprint(a.expr)})" for a in block.assigns]
        if printer.helpers:  # symgrad's functions are defined in the kernel source only
            return None
        self.host |= {a.target for a in block.assigns}
        return lines

    def _generate(self, block):
        name = f"sg_fused_{len(self.kernels)}"
        types = self.ir.types
        domain = _domain([a.type.shape for a in block.assigns])
        arrays = [s for s in block.inputs if s not in self.sizes | self.host]
        sizes = [s for s in block.inputs if s in self.sizes | self.host]
        args = [f"sg_real* __restrict__ {pointer(o)}" for o in block.outputs]
        args += [f"const sg_real* __restrict__ {pointer(s)}" for s in arrays]
        args += [f"const sg_real {s}" for s in sizes] + ["const long long sg_rows", "const long long sg_cols"]
        body = [f"const sg_real {s} = {pointer(s)}[{_index(types[s].shape, domain)}];" for s in arrays]
        for a in block.assigns:
            note = f"  // {a.comment}" if a.comment else ""
            body.append(f"const sg_real {a.target} = {self.printer.statement(a.expr)};{note}")
        for o in block.outputs:
            store = f"{pointer(o)}[{_index(types[o].shape, domain)}] = {o};"
            cond = _writer(types[o].shape, domain)
            body.append(f"if ({cond}) {store}" if cond else store)
        index = [line for var, line in INDEX.items() if any(var in b for b in body)]
        shape = "x".join(map(str, domain))
        doc = f"{', '.join(block.outputs)} from {', '.join(block.inputs) or 'nothing'} ({block.phase.value}, {shape})"
        self.kernels.append(dict(name=name, doc=comment_text(doc, width=200), args=args, body=index + body))
        shapes = ", ".join(_shape(types[o].shape, self.ir) for o in block.outputs)
        return (f"{', '.join(block.outputs)}, = self._fused(\"{name}\", {_shape(domain, self.ir)}, [{shapes}], "
                f"[{', '.join(arrays)}], [{', '.join(sizes)}])")


def _lines(st, fused, ir):
    """The launcher line(s) for one IR statement."""
    if isinstance(st, FusedElementwise):
        return fused.call(st)
    if isinstance(st, MatMul):
        a = st.a + (".T" if st.transpose_a else "")
        b = st.b + (".T" if st.transpose_b else "")
        return [f"{st.target} = xp.matmul({a}, {b})  # cuBLAS"]
    if isinstance(st, Reduce):
        if st.op is ReduceOp.TRACE:
            return [f"{st.target} = xp.trace({st.source})"]
        axis = "" if st.axis is None else f", axis={st.axis}, keepdims=True"
        return [f"{st.target} = xp.{st.op.value}({st.source}{axis})"]
    if isinstance(st, Constant):
        shape = _shape(st.type.shape, ir)
        if st.kind == "eye":
            return [f"{st.target} = xp.eye({shape[1:].split(',')[0]}, dtype=self.DTYPE)"]
        lines = [f"{st.target} = xp.{'ones' if st.kind == 'ones' else 'zeros'}({shape}, dtype=self.DTYPE)"]
        if st.kind == "unit":
            lines.append(f"{st.target}[{st.index[0]}, {st.index[1]}] = 1.0")
        return lines
    if isinstance(st, Element):
        return [f"{st.target} = {st.source}[{st.index[0]}, {st.index[1]}]"]
    if isinstance(st, TransposeView):
        return [f"{st.target} = {st.source}.T"]
    if isinstance(st, MatrixCall):
        record = matrix_record(st.function)
        raise UnsupportedError(
            f"the CUDA target cannot compute {record.name} (in {st.text}): {record.gaps.get('cuda', 'no device spelling')}"
        )
    raise TypeError(f"no CUDA rendering for {type(st).__name__}")


def _function(ir, results, fused):
    """Sizes, argument checks and statement lines of the launcher method computing `results`."""
    statements = ir.needed(results)
    lines = [line for st in statements for line in _lines(st, fused, ir)]
    reads = set(results).union(*(st.reads() for st in statements))
    sources = {ident for ident, _ in ir.sizes.values()}
    sizes = [f"{ir.size_names[name]} = {ident}.shape[{axis}]" for name, (ident, axis) in ir.sizes.items()]
    checks = [f"{v.ident} = self._array({str(v.symbol)!r}, {v.ident}, {_shape(v.type.shape, ir)})"
              for v in ir.args if v.ident in reads | sources]
    return sizes + checks + lines


def render_cuda_matrix(ir, title=None):
    """The `.cu` source and launcher module for the matrix kernel `ir` (deterministic)."""
    printer = CudaExprPrinter(ir.dtype)
    fused = _FusedKernels(ir, printer)
    bodies = dict(
        grad_body=_function(ir, [ir.loss, *ir.grads], fused),
        loss_body=_function(ir, [ir.loss], fused),
        predict_body=_function(ir, ir.predictions, fused),
    )
    header = file_header(ir, title or f"symgrad matrix kernel {ir.name!r}: loss, gradient and predictions")
    kernel = render(
        TEMPLATES, "matrix_kernel.cu.j2", **header, dtype=ir.dtype, c_type=C_TYPES[ir.dtype],
        helpers=[printer.helpers[h] for h in sorted(printer.helpers)], kernels=fused.kernels,
    )
    launcher = render(
        TEMPLATES, "matrix_launcher.py.j2", **header, dtype=ir.dtype, block=BLOCK,
        data_names=repr(tuple(str(v.symbol) for v in ir.data)),
        param_names=repr(tuple(str(v.symbol) for v in ir.params)),
        args=", ".join(v.ident for v in ir.args),
        kernel_names=repr(tuple(k["name"] for k in fused.kernels)),
        predictions=", ".join(ir.predictions) + ("," if len(ir.predictions) == 1 else ""),
        loss=ir.loss, grads=", ".join(ir.grads), **bodies,
    )
    return CudaSources(kernel, launcher)
