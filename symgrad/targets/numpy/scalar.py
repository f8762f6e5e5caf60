"""Render a `KernelIR` as a Python module with numpy (vectorized) and per-sample-loop functions."""

from ...dag import gc_paused
from ...version import __version__
from ..line_map import Tags
from ..python_printers import MathExprPrinter, NumpyExprPrinter
from ..templates import render, templates_beside
from .linear import LinearPrinter

TEMPLATES = templates_beside(__file__)
LOOP_MAX = 16
FUNCTIONS = ("predict", "loss", "loss_and_grad", "loss_and_grad_vectorized", "loss_and_grad_loop", "per_sample_grad")
REGENERATE = "symgrad generate all -o generated (the bundled models in generated/)"


def _line(target, text, comment):
    """`target = text`, with the source expression as a comment where it says something new."""
    # the comment is left out when it only restates the line (in another order of terms)
    note = comment and sorted(comment.replace(" ", "")) != sorted(text.replace(" ", "").replace("scalar_", ""))
    return f"{target} = {text}" + (f"  # {comment}" if note else "")


class _Lines:
    """Statements as lines, each printed once per printer: the module's functions repeat most of them."""

    def __init__(self, printer):
        self.printer, self.lines = printer, {}

    def __call__(self, statements):
        """(target, line) pairs, in order."""
        for st in statements:
            if st.target not in self.lines:
                self.lines[st.target] = _line(st.target, self.printer.doprint(st.expr), st.comment)
        return [(st.target, self.lines[st.target]) for st in statements]


def _per_sample(ir, name):
    """Whether `name` holds one value per sample (type (N,)), not one for the batch (type ())."""
    return ir.types[name].shape != ()


def _sum(ir, out, loop=False):
    """`out` (a `Reduce` over the batch) as a line; in the loop, a Python float even where the term
    is an integer constant (so the loop's results are floats, which the prepared binding hands on
    unconverted)."""
    batched = _per_sample(ir, out.source)
    value = f"{out.source}.sum()" if batched else f"float(n * {out.source})" if loop else f"n * {out.source}"
    return out.target, _line(out.target, value, out.comment)


def _loop_header(data):
    """`for x0, x1 in zip(x0, x1):` over the data lists; each sample's values shadow the lists."""
    if not data:
        return "for _ in range(n):"
    if len(data) == 1:
        return f"for {data[0]} in {data[0]}:"
    return f"for {', '.join(data)} in zip({', '.join(data)}):"


def _numpy_scalars(ir):
    """Lines making the parameters numpy scalars: the vectorized functions then follow IEEE
    arithmetic everywhere (1/0 is inf, (-1)**0.5 NaN), as Python floats do not (ZeroDivisionError,
    a complex number); the nonfinite= policy is applied to what comes out."""
    if not ir.params:
        return []
    names = ", ".join(v.ident for v in ir.params) + ("," if len(ir.params) == 1 else "")
    return [(None, f"{names} = np.array(({names}), dtype=np.{ir.dtype})  # numpy scalars: IEEE inf/NaN, no ZeroDivisionError")]


def render_numpy(ir, title=None):
    """The module text for `ir` (deterministic: same IR, same bytes)."""
    return render_numpy_lines(ir, title).text


@gc_paused()
def render_numpy_lines(ir, title=None):
    """The module for `ir` as a `line_map.Rendered`: its text, and the line computing each IR
    statement's target and each output (`loss`, `grad_*`) in each function."""
    tags = Tags()
    vec, loop = NumpyExprPrinter(), MathExprPrinter()
    vec_lines, loop_lines = _Lines(LinearPrinter(vec, "np")), _Lines(LinearPrinter(loop, "math"))
    args = ", ".join(v.ident for v in ir.args)
    data = [v.ident for v in ir.data]
    sums = [ir.producer(name) for name in [ir.loss, *ir.grads]]
    per_sample_grads = [ir.summand(g) for g in ir.grads]
    ieee = _numpy_scalars(ir)

    grad_statements = ir.needed([o.source for o in sums])
    once = [st for st in grad_statements if not _per_sample(ir, st.target)]
    per_sample = [st for st in grad_statements if _per_sample(ir, st.target)]
    batched_sums = [o for o in sums if _per_sample(ir, o.source)]
    batched = {id(o) for o in batched_sums}  # by identity: comparing statements compares their sympy fields
    loop_body = loop_lines(per_sample)
    loop_body += [(o.target, f"{o.target} += {o.source}") for o in batched_sums]
    vectorized, looped = "loss_and_grad_vectorized", "loss_and_grad_loop"

    context = dict(
        title=title or f"symgrad kernel {ir.name!r}: loss, gradient and predictions",
        version=__version__,
        source_hash=ir.source_hash,
        regenerate=REGENERATE,
        data_names=repr(tuple(str(v.symbol) for v in ir.data)),
        param_names=repr(tuple(str(v.symbol) for v in ir.params)),
        loop_max=LOOP_MAX,
        args=args,
        batch_length=f"{data[0]}.shape[0]" if data else "1",
        loop_args=", ".join([f"{d}.tolist()" for d in data] + [v.ident for v in ir.params]),
        loop_batch_length=f"len({data[0]})" if data else "1",
        float64_check=f"{data[0]}.dtype == np.float64" if data else "True",
        predict_body=tags.lines("predict", ieee + vec_lines(ir.needed(ir.predictions))),
        predictions=ir.predictions,
        loss_body=tags.lines("loss", ieee + vec_lines(ir.needed([sums[0].source])) + [_sum(ir, sums[0])]),
        loss_return=ir.loss,
        grad_body=tags.lines(vectorized, ieee + vec_lines(grad_statements) + [_sum(ir, o) for o in sums]),
        grad_return=f"{ir.loss}, [{', '.join(ir.grads)}]",
        loop_prologue=tags.lines(looped, loop_lines(once) + [(None, f"{o.target} = 0.0") for o in batched_sums]),
        loop_header=_loop_header(data),
        loop_body=tags.lines(looped, loop_body) or ["pass"],
        loop_epilogue=tags.lines(looped, [_sum(ir, o, loop=True) for o in sums if id(o) not in batched]),
        per_sample_body=tags.lines("per_sample_grad", ieee + vec_lines(ir.needed(per_sample_grads))),
        per_sample=per_sample_grads,
        marks={f: tags.function(f) for f in FUNCTIONS},
    )
    context["helpers"] = [vec.helpers[h] for h in sorted(vec.helpers)]
    context["helpers"] += [loop.helpers[h] for h in sorted(loop.helpers)]
    return tags.resolve(render(TEMPLATES, "module.py.j2", **context))
