"""Render a `KernelIR` as CUDA: one `.cu` kernel source and a Python launcher module.

Every kernel is fused: one thread per sample (grid-stride loop), the whole forward and backward
pass in registers, parameters read from one array. The per-sample arithmetic is written once, as
`__device__` functions the entry kernels call. Sums over the batch are
reduced in each block by a fixed-order tree in shared memory, then across blocks either by a
second small kernel over the per-block partials (deterministic: same bits every run) or by one
atomic add per block and output. The launcher compiles the source once through CuPy's RawModule.
"""

from dataclasses import dataclass

from ...names import comment_text
from ...version import __version__
from ..templates import render, templates_beside
from .printer import CudaExprPrinter

TEMPLATES = templates_beside(__file__)
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
    """Turns IR statements into the line lists of the kernels (the template only lays them out).

    Each set of per-sample results is one `__device__` function, written once; the entry kernels
    loop over samples and call it (`sg_loss_grad` and `sg_per_sample_grad` the same one).
    """

    def __init__(self, ir, printer):
        self.ir, self.printer = ir, printer
        self.data = [v.ident for v in ir.data]
        self.params = [v.ident for v in ir.params]

    def _assign(self, st):
        text = self.printer.statement(st.expr)
        note = st.comment and st.comment.replace(" ", "") != text.replace(" ", "").replace("sg_", "")
        return f"const sg_real {st.target} = {text};" + (f"  // {st.comment}" if note else "")

    def device(self, name, doc, sources):
        """A `__device__` function computing `sources` for one sample into `sg_v[k]`.

        Forced inline into each caller's sample loop: the parameter loads and what is computed
        from parameters alone do not change from sample to sample, and the compiler hoists them.
        """
        statements = self.ir.needed(sources)
        reads = set(sources).union(*(st.reads() for st in statements))
        data = [d for d in self.data if d in reads]
        params = [f"const sg_real {p} = sg_params[{k}];" for k, p in enumerate(self.params) if p in reads]
        body = params + [self._assign(st) for st in statements] + [f"sg_v[{k}] = {s};" for k, s in enumerate(sources)]
        args = ["const sg_real* __restrict__ sg_params", *[f"const sg_real {d}" for d in data], "sg_real* __restrict__ sg_v"]
        return dict(name=name, doc=doc, args=args, body=body, data=data, size=len(sources))

    def _call(self, function):
        values = ", ".join(["sg_params", *[f"{pointer(d)}[sg_i]" for d in function["data"]], "sg_v"])
        return [f"sg_real sg_v[{max(function['size'], 1)}];", f"{function['name']}({values});"]

    def summing(self, name, doc, function, outputs):
        """A kernel that sums `outputs` (`Reduce`s over the batch, `function`'s results in order) block by block."""
        prologue = ["__shared__ sg_real sg_scratch[SG_MAX_BLOCK];"]
        prologue += [f"sg_real {o.target} = 0.0{self.printer.literal_suffix};" for o in outputs]
        body = self._call(function) + [f"{o.target} += sg_v[{k}];" for k, o in enumerate(outputs)]
        epilogue = [
            f"sg_store_sum({o.target}, sg_scratch, sg_out, {k}, {len(outputs)}, sg_atomic);"
            + (f"  // {o.comment}" if o.comment else "")
            for k, o in enumerate(outputs)
        ]
        return dict(name=name, doc=doc, args=self._args(["sg_real* __restrict__ sg_out", "int sg_atomic"]),
                    prologue=prologue, body=body, epilogue=epilogue)

    def per_sample(self, name, doc, function, first, count):
        """A kernel that writes `function`'s results first … first + count - 1 for every sample:
        result first + k as `sg_out[k * n + i]`."""
        body = self._call(function) + [f"sg_out[{k} * sg_n + sg_i] = sg_v[{first + k}];" for k in range(count)]
        return dict(name=name, doc=doc, args=self._args(["sg_real* __restrict__ sg_out"]),
                    prologue=[], body=body, epilogue=[])

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
    sums = [ir.producer(name) for name in [ir.loss, *ir.grads]]
    per_sample_grads = [o.source for o in sums[1:]]
    loss = build.device("sg_sample_loss", "one sample's loss (forward pass only)", [sums[0].source])
    grad = build.device("sg_sample_grad", "one sample's loss (sg_v[0]) and gradient (sg_v[1 + k], parameter k)",
                        [sums[0].source, *per_sample_grads])
    outputs = build.device("sg_sample_predict", "one sample's model outputs", ir.predictions)
    kernels = [
        build.summing("sg_loss", "the loss summed over the batch (forward pass only)", loss, sums[:1]),
        build.summing("sg_loss_grad", "the loss and its gradient, summed over the batch", grad, sums),
        build.per_sample("sg_per_sample_grad", "per-sample gradients, parameter-major", grad, 1, len(per_sample_grads)),
        build.per_sample("sg_predict", "model outputs, output-major", outputs, 0, len(ir.predictions)),
    ]
    header = file_header(ir, title or f"symgrad kernel {ir.name!r}: loss, gradient and predictions")
    kernel = render(
        TEMPLATES, "kernel.cu.j2",
        **header,
        dtype=ir.dtype,
        c_type=C_TYPES[ir.dtype],
        literal=printer.literal_suffix,
        max_block=MAX_BLOCK,
        data_names=", ".join(_listed(v) for v in ir.data) or "(none)",
        param_names=", ".join(f"{k}: {_listed(v)}" for k, v in enumerate(ir.params)),
        helpers=[printer.helpers[h] for h in sorted(printer.helpers)],
        functions=[loss, grad, outputs],
        kernels=kernels,
    )
    launcher = render(
        TEMPLATES, "launcher.py.j2",
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


def file_header(ir, title):
    """The header both generated CUDA files (kernel and launcher) start with, at either level."""
    return dict(title=comment_text(title, width=200), version=__version__, source_hash=ir.source_hash,
                regenerate=REGENERATE)


def render_expression_kernels(helpers, kernels):
    """One float64 kernel per expression, `out[i] = expr(x[0*n + i], x[1*n + i], ...)` (dicts with name,
    args, expr), after the device helpers they call: `symgrad.coverage` runs every record's sample so."""
    return render(TEMPLATES, "coverage.cu.j2", helpers=list(helpers), kernels=list(kernels))
