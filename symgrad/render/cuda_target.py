"""Render a `KernelIR` as CUDA: one `.cu` kernel source and a Python launcher module.

Every kernel is fused: one thread per sample (grid-stride loop), the whole forward and backward
pass in registers, parameters read once per thread from one array. Sums over the batch are
reduced in each block by a fixed-order tree in shared memory, then across blocks either by a
second small kernel over the per-block partials (deterministic: same bits every run) or by one
atomic add per block and output. The launcher compiles the source once through CuPy's RawModule.
"""

from dataclasses import dataclass

from ..names import comment_text
from ..version import __version__
from .cuda_printer import CudaExprPrinter
from .templates import render

C_TYPES = {"float64": "double", "float32": "float"}
REGENERATE = "symgrad generate all -o generated (the bundled models in generated/)"
MAX_BLOCK = 256  # the largest block a kernel supports (its shared-memory scratch size)
BLOCK = 256  # threads per block by default; a power of two, at most MAX_BLOCK
MAX_BLOCKS = 1024  # grid-stride beyond this many blocks: fewer partials, same launch for any n


@dataclass(frozen=True)
class CudaSources:
    """The two generated texts: `kernel` (`.cu`) and `launcher` (Python module)."""

    kernel: str
    launcher: str


def pointer(ident):
    """The device-pointer argument of a data input: `x0` is read as `x0_[sg_i]`.

    User identifiers never end in `_` (see `symgrad.names`), so this cannot collide with one.
    """
    return f"{ident}_"


class _KernelBuilder:
    """Turns IR statements into the line lists of one kernel (the template only lays them out)."""

    def __init__(self, ir, printer):
        self.ir, self.printer = ir, printer
        self.data = [v.ident for v in ir.data]
        self.params = [v.ident for v in ir.params]

    def _assign(self, st):
        text = self.printer.statement(st.expr)
        note = st.comment and st.comment.replace(" ", "") != text.replace(" ", "").replace("sg_", "")
        return f"const sg_real {st.target} = {text};" + (f"  // {st.comment}" if note else "")

    def _split(self, sources):
        statements = self.ir.needed(sources)
        reads = set(sources).union(*(st.reads() for st in statements))
        params = [f"const sg_real {p} = sg_params[{k}];" for k, p in enumerate(self.params) if p in reads]
        once = [self._assign(st) for st in statements if not st.batched]
        loads = [f"const sg_real {d} = {pointer(d)}[sg_i];" for d in self.data if d in reads]
        body = [self._assign(st) for st in statements if st.batched]
        return params + once, loads + body

    def summing(self, name, doc, outputs):
        """A kernel that sums `outputs` (BatchSums) over its samples, block by block."""
        prologue, body = self._split([o.source for o in outputs])
        prologue += ["__shared__ sg_real sg_scratch[SG_MAX_BLOCK];"]
        prologue += [f"sg_real {o.target} = 0.0{self.printer.literal_suffix};" for o in outputs]
        body += [f"{o.target} += {o.source};" for o in outputs]
        epilogue = [
            f"sg_store_sum({o.target}, sg_scratch, sg_out, {k}, {len(outputs)}, sg_atomic);"
            + (f"  // {o.comment}" if o.comment else "")
            for k, o in enumerate(outputs)
        ]
        return dict(name=name, doc=doc, args=self._args(["sg_real* __restrict__ sg_out", "int sg_atomic"]),
                    prologue=prologue, body=body, epilogue=epilogue)

    def per_sample(self, name, doc, sources):
        """A kernel that writes each of `sources` for every sample: `sg_out[k * n + i]`."""
        prologue, body = self._split(sources)
        body += [f"sg_out[{k} * sg_n + sg_i] = {src};" for k, src in enumerate(sources)]
        return dict(name=name, doc=doc, args=self._args(["sg_real* __restrict__ sg_out"]),
                    prologue=prologue, body=body, epilogue=[])

    def _args(self, tail):
        data = [f"const sg_real* __restrict__ {pointer(d)}" for d in self.data]
        return data + ["const sg_real* __restrict__ sg_params", "long long sg_n", *tail]


def _listed(var):
    """A variable for the header comment: its identifier, and the user's name where that differs."""
    name = comment_text(var.symbol, width=40)
    return var.ident if name == var.ident else f"{var.ident} ({name})"


def render_cuda(ir, title=None):
    """The `.cu` source and launcher module for `ir` (deterministic: same IR, same bytes)."""
    printer = CudaExprPrinter(ir.dtype)
    build = _KernelBuilder(ir, printer)
    kernels = [
        build.summing("sg_loss", "the loss summed over the batch (forward pass only)", [ir.loss]),
        build.summing("sg_loss_grad", "the loss and its gradient, summed over the batch", [ir.loss, *ir.grads]),
        build.per_sample("sg_per_sample_grad", "per-sample gradients, parameter-major", ir.per_sample_grads),
        build.per_sample("sg_predict", "model outputs, output-major", ir.predictions),
    ]
    header = dict(
        title=comment_text(title or f"symgrad kernel {ir.name!r}: loss, gradient and predictions", width=200),
        version=__version__,
        source_hash=ir.source_hash,
        regenerate=REGENERATE,
    )
    kernel = render(
        "cuda/kernel.cu.j2",
        **header,
        dtype=ir.dtype,
        c_type=C_TYPES[ir.dtype],
        literal=printer.literal_suffix,
        max_block=MAX_BLOCK,
        data_names=", ".join(_listed(v) for v in ir.data) or "(none)",
        param_names=", ".join(f"{k}: {_listed(v)}" for k, v in enumerate(ir.params)),
        helpers=[printer.helpers[h] for h in sorted(printer.helpers)],
        kernels=kernels,
    )
    launcher = render(
        "cuda/launcher.py.j2",
        **header,
        dtype=ir.dtype,
        data_names=repr(tuple(str(v.symbol) for v in ir.data)),
        param_names=repr(tuple(str(v.symbol) for v in ir.params)),
        output_count=len(ir.predictions),
        block=BLOCK,
        max_block=MAX_BLOCK,
        max_blocks=MAX_BLOCKS,
        kernel_names=repr(tuple(k["name"] for k in kernels) + ("sg_reduce",)),
    )
    return CudaSources(kernel, launcher)
