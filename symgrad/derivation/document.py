"""A derivation document: the steps of `steps.py`, each beside the generated code computing it.

`Derivation` holds the prepared sections (equations as sympy LaTeX, code lines, prose); the
templates in `derivation/templates/` only lay them out as Markdown (math in `$$`) or as a LaTeX
article that `pdflatex` compiles.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..compiler import build_ir
from ..dag import tree_op_count
from ..names import identifier
from ..targets.numpy.scalar import render_numpy_lines
from ..targets.templates import render, templates_beside
from .codemap import CodeMap
from .notation import Notation, text_latex
from .steps import Kind, scalar_steps

TEMPLATES = templates_beside(__file__)
MAX_CLOSED_OPS = 80  # closed forms larger than this are described, not printed
FORMATS = ("markdown", "latex")


@dataclass(frozen=True)
class Step:
    equation: str  # LaTeX, display math
    code: tuple = ()  # CodeLine


@dataclass(frozen=True)
class Section:
    title: str
    text: str  # prose with $inline math$ and `code`
    steps: tuple = ()


@dataclass
class Derivation:
    """The derivation of one model's gradient; `.markdown()`, `.latex()`, or display in Jupyter."""

    model: object
    steps: object
    codemap: CodeMap
    sections: list = field(default_factory=list)
    intro: str = ""

    def markdown(self):
        return render(TEMPLATES, "markdown.md.j2", **self._context(markdown_prose))

    def latex(self):
        return render(TEMPLATES, "latex.tex.j2", **self._context(latex_prose))

    def render(self, fmt):
        return {"markdown": self.markdown, "latex": self.latex}[fmt]()

    def write(self, out_dir, stem, formats=FORMATS):
        """Write `stem.md` and/or `stem.tex` into `out_dir` (atomically); returns the paths."""
        from ..generate import write_atomic

        suffix = {"markdown": ".md", "latex": ".tex"}
        return [write_atomic(Path(out_dir) / f"{stem}{suffix[f]}", self.render(f)) for f in formats]

    def _context(self, prose):
        sections = [
            dict(title=prose(s.title), text=prose(s.text),
                 steps=[dict(equation=st.equation, code=[str(c) for c in st.code]) for st in s.steps])
            for s in self.sections
        ]
        return dict(
            title=prose(f"Derivation of the gradient of `{identifier(self.model.name)}`"),
            intro=prose(self.intro),
            sections=sections,
            listing=[str(c) for c in self.codemap.function],
            listing_title=prose("Appendix: the generated forward and backward pass"),
            listing_text=prose(
                f"The function `{self.codemap.name}` of the generated numpy module, which the line "
                "numbers above refer to (regenerate with `symgrad generate` for this model)."
            ),
        )

    def _repr_markdown_(self):
        return self.markdown()

    def _repr_latex_(self):
        """Display math only (what a notebook's MathJax typesets): every equation of the document."""
        return "\n".join(f"$${st.equation}$$" for s in self.sections for st in s.steps)


def _intro(model):
    return (
        f"The model has {len(model.params)} parameters, inputs "
        f"{', '.join(f'`{s}`' for s in model.inputs) or 'none'} and targets "
        f"{', '.join(f'`{s}`' for s in model.targets) or 'none'}. $E$ is the loss of one sample; "
        "the loss of a batch is the sum over its samples, and so is each gradient. Every step below "
        "is followed by the line(s) of the generated numpy module that compute it."
    )


def derive_scalar(model):
    """The derivation of a scalar-level `symgrad.nn.Model`'s gradient, as a `Derivation`."""
    steps = scalar_steps(model)
    ir = build_ir(model)
    codemap = CodeMap(ir, render_numpy_lines(ir))
    notation = Notation({q.symbol: q.latex for q in steps.quantities})
    notation.names.update({d.symbol: d.latex for d in steps.deltas})
    sections = [
        _model_section(steps, codemap, notation),
        _locals_section(steps, codemap, notation),
        _delta_section(steps, codemap, notation),
        _gradient_section(model, steps, codemap, notation),
    ]
    return Derivation(model, steps, codemap, sections, _intro(model))


def _model_section(steps, codemap, tex):
    out = []
    for q in steps.quantities:
        code = codemap.of_loss() if q.kind is Kind.LOSS else codemap.of_node(steps.kernel_node(q.node))
        out.append(Step(tex.equation(q.symbol, q.definition), tuple(code)))
    text = ("Layer by layer: $z$ are pre-activations, $h$ activations, $\\hat{y}$ the model's outputs"
            ", $\\ell$ a log-sum-exp; $E$ is the loss of one sample.")
    return Section("1. The model", text, tuple(out))


def _partial(tex, of, wrt):
    return rf"\frac{{\partial {tex(of)}}}{{\partial {tex(wrt)}}}"


def _locals_section(steps, codemap, tex):
    out = []
    for cls, z, rule in steps.activation_rules:
        f = cls(z)
        out.append(Step(rf"\frac{{d}}{{d {tex(z)}}} {tex(f)} = {tex(rule)}"))
    by_quantity = {}
    for loc in steps.locals:
        by_quantity.setdefault(loc.of, []).append(loc)
    for q, locs in by_quantity.items():
        parts = [f"{_partial(tex, q.symbol, loc.wrt)} = {tex(loc.value)}" for loc in locs]
        code = []
        for loc in locs:
            code += [c for c in codemap.of_node(loc.node) if c not in code] if loc.node is not None else []
        out.append(Step(r",\quad ".join(parts), tuple(code)))
    text = ("The derivative of each activation, written with the activation itself, then for every "
            "quantity its partial derivatives with respect to the names it is computed from directly "
            "(a line is shown where the kernel computes that factor; it may compute it in a numerically "
            "stable form, e.g. $1 - \\sigma(z)$ as $\\sigma(-z)$, see `symgrad.rewrite`).")
    return Section("2. Local derivatives", text, tuple(out))


def _closed(tex, expr):
    return tex(expr) if tree_op_count([expr]) <= MAX_CLOSED_OPS else None


def _delta_section(steps, codemap, tex):
    out = []
    for d in steps.deltas:
        parts = [d.latex, _partial(tex, steps.loss.symbol, d.stage.symbol), tex(d.recurrence)]
        closed = _closed(tex, d.closed)
        if closed is not None and d.closed != d.recurrence:
            parts.append(closed)
        out.append(Step(" = ".join(parts), tuple(codemap.of_node(d.adjoint))))
    text = ("The chain rule from the loss down: $\\delta = \\partial E / \\partial z$ of each pre-activation "
            "is the sum, over the quantities that use it, of their $\\delta$ times the local derivative; "
            "the last form substitutes the later $\\delta$ terms.")
    return Section("3. Backward recurrences", text, tuple(out))


def _gradient_section(model, steps, codemap, tex):
    out = []
    for i, g in enumerate(steps.gradients):
        parts = [_partial(tex, steps.loss.symbol, g.param), tex(g.via_delta)]
        closed = _closed(tex, g.closed)
        if closed is not None and g.closed != g.via_delta:
            parts.append(closed)
        out.append(Step(" = ".join(parts), tuple(codemap.of_gradient(i))))
    text = ("Each parameter's gradient is the $\\delta$ of the quantity it enters times its local derivative, "
            "written out in closed form over the forward quantities. The first code line computes it for "
            "every sample, the second sums it over the batch.")
    return Section("4. The gradient of every parameter", text, tuple(out))


_MATH = re.compile(r"(\$[^$]*\$)")
_CODE = re.compile(r"(`[^`]*`)")


def markdown_prose(text):
    return text


def latex_prose(text):
    """Prose with `$math$` kept and `code` set in typewriter, everything else escaped."""
    out = []
    for i, part in enumerate(_MATH.split(text)):
        if i % 2:
            out.append(part)
            continue
        for j, piece in enumerate(_CODE.split(part)):
            out.append(r"\texttt{" + text_latex(piece[1:-1]) + "}" if j % 2 else text_latex(piece))
    return "".join(out)
