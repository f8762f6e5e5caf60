"""A matrix-level derivation document: the steps of `matrix_steps.py`, each beside the lines of the
generated matrix numpy module (`symgrad.compile` of the same model) that compute it."""

from ..matrix.graph import topological
from ..matrix.kernel import build_matrix_ir
from ..targets.numpy.matrix import render_numpy_matrix_lines
from .codemap import MatrixCodeMap
from .document import MAX_CLOSED_OPS, Derivation, Section, Step
from .matrix_notation import MatrixNotation
from .matrix_steps import matrix_steps

INTRO = (
    "The model in matrix form: a batch is one matrix with a sample per row, $\\mathbf{{1}}$ is the column of "
    "ones, so $\\mathbf{{1}} b$ repeats the bias row $b$ on every row, and a function of a matrix applies entry "
    "by entry. $E$ is the loss of the whole batch ({params} parameter matrices, inputs {inputs}). "
    "Every step below is followed by the line(s) of the generated numpy module that compute it."
)


def _partial(tex, of, wrt):
    return rf"\frac{{\partial {tex(of) if not isinstance(of, str) else of}}}{{\partial {tex(wrt)}}}"


def _closed(tex, expr, shown):
    """The closed form's LaTeX, or None when it is too large to print or the same as `shown`."""
    if expr == shown or len(topological([expr])) > MAX_CLOSED_OPS:
        return None
    return tex(expr)


def _derivative_name(applied):
    """`\\sigma'\\left(Z\\right)` from the LaTeX of `\\sigma\\left(Z\\right)` (f' at the same argument)."""
    at = min((i for i in (applied.find(r"{\left("), applied.find(r"\left(")) if i >= 0), default=len(applied))
    return applied[:at] + "'" + applied[at:]


class _Citations:
    """The code lines of each step, and which values the document has already stated."""

    def __init__(self, codemap):
        self.codemap, self.stated = codemap, set()

    def lines(self, lines):
        self.stated |= {c.name for c in lines}
        return tuple(lines)

    def pre_activation(self, layer):
        z = self.codemap.ident(layer.product)
        readers = [r for r in self.codemap.readers.get(z, []) if r in self.codemap.forward]
        found = self.codemap.of_value(z)
        for r in readers:
            found += [c for c in self.codemap.of_value(r) if c not in found]
        return self.lines(found)

    def between(self, targets, known):
        return self.lines(self.codemap.between([t for t in targets if t], [k for k in known if k]))


def derive_matrix(model):
    """The matrix-level derivation of a model built from dense layers (see `matrix_steps`)."""
    steps = matrix_steps(model)
    adjoints = {}
    ir = build_matrix_ir(model.loss, list(model.params), list(model.data), model.outputs, model.name, adjoints=adjoints)
    codemap = MatrixCodeMap(ir, render_numpy_matrix_lines(ir))
    tex = MatrixNotation(steps.names)
    cite = _Citations(codemap)
    sections = [
        _model_section(steps, cite, tex),
        _locals_section(steps, codemap, tex, adjoints),
        _delta_section(steps, cite, tex, adjoints),
        _gradient_section(steps, codemap, tex),
    ]
    intro = INTRO.format(params=len(model.params), inputs=", ".join(f"`{s}`" for s in model.inputs) or "none")
    return Derivation(model, steps, codemap, sections, intro)


def _model_section(steps, cite, tex):
    out, layers = [], {layer.Z: layer for layer in steps.layers}
    for symbol, definition, node in steps.definitions:
        if symbol == "E":
            last = steps.layers[-1]
            code = cite.between([cite.codemap.ir.loss], cite.stated | {cite.codemap.ident(last.output)})
            out.append(Step(tex.equation("E", definition), code))
        elif symbol in layers:
            out.append(Step(tex.equation(symbol, definition), cite.pre_activation(layers[symbol])))
        else:
            out.append(Step(tex.equation(symbol, definition), cite.lines(cite.codemap.of_node(node))))
    text = ("Layer by layer: $Z$ are pre-activations, $H$ activations, $\\hat{Y}$ the model's output (where the "
            "last layer has an activation). The kernel adds the bias row in the line that reads the product.")
    return Section("1. The model in matrix form", text, tuple(out))


def _locals_section(steps, codemap, tex, adjoints):
    out = []
    grads = {v.symbol: g for v, g in zip(codemap.ir.params, codemap.ir.grads, strict=True)}

    def lines(*nodes):
        return tuple(c for n in nodes if n is not None for c in codemap.of_node(adjoints.get(n)))

    for layer, var, d, matrix in steps.activation_rules:
        scalar = MatrixNotation({var: "z"})
        f = layer.activation.function
        applied = tex(layer.Z.applyfunc(f))
        out.append(Step(rf"\frac{{d}}{{d z}} {scalar(f(var))} = {scalar(d)},\quad "
                        rf"{_derivative_name(applied)} = {tex(matrix)}", lines(layer.product)))
    for layer, *adjoint in steps.dense_rules:
        shown = layer.input if layer.index == 1 else steps.layers[layer.index - 2].shown_output
        wrt = [shown, layer.weight] + ([layer.bias] if layer.bias is not None else [])
        parts = [f"{_partial(tex, 'E', w)} = {tex(a)}" for w, a in zip(wrt, adjoint, strict=True)
                 if layer.index > 1 or w is not shown]
        code = lines(layer.input if layer.index > 1 else None)
        code += tuple(c for p in (layer.weight, layer.bias) if p is not None for c in codemap.of_value(grads[p]))
        out.append(Step(rf"{tex(layer.delta)} = {_partial(tex, 'E', layer.Z)}:\quad " + r",\quad ".join(parts), code))
    text = ("Each activation's derivative, written with the activation itself and applied entry by entry "
            "($\\odot$ is the entrywise product, $A^{\\circ 2}$ the entrywise square; the kernel computes it inside "
            "the line of that layer's $\\delta$); then, for each dense layer "
            "$Z = A W + \\mathbf{1} b$, what it passes back given $\\delta = \\partial E / \\partial Z$: "
            "$\\delta W^{T}$ to its input, $A^{T} \\delta$ to its weights and $\\mathbf{1}^{T} \\delta$ (the column "
            "sums) to its bias, each in the cited line. Both come from symgrad's rule tables, not from a template.")
    return Section("2. Local derivatives", text, tuple(out))


def _delta_section(steps, cite, tex, adjoints):
    codemap, out = cite.codemap, []
    forward = set(codemap.forward)
    later = None
    for d in steps.deltas:
        layer = d.layer
        parts = [tex(layer.delta), _partial(tex, "E", layer.Z), tex(d.recurrence)]
        closed = _closed(tex, d.closed, d.recurrence)
        if closed is not None:
            parts.append(closed)
        target = codemap.ident(adjoints.get(layer.product))
        out.append(Step(" = ".join(parts), cite.between([target], forward | {later})))
        later = target
    text = ("The chain rule from the loss down, one matrix per layer: $\\delta$ of the output layer from the loss, "
            "then $\\delta_{l} = (\\delta_{l+1} W_{l+1}^{T}) \\odot f'(Z_{l})$; the last form substitutes the "
            "later $\\delta$.")
    return Section("3. Backward recurrences", text, tuple(out))


def _gradient_section(steps, codemap, tex):
    out = []
    for i, g in enumerate(steps.gradients):
        parts = [_partial(tex, "E", g.param), tex(g.via_delta)]
        closed = _closed(tex, g.closed, g.via_delta)
        if closed is not None:
            parts.append(closed)
        out.append(Step(" = ".join(parts), tuple(codemap.of_value(codemap.ir.grads[i]))))
    text = ("Each parameter's gradient is what its layer passes back, written out in closed form over the "
            "forward quantities; the cited line computes it for the whole batch at once.")
    return Section("4. The gradient of every parameter", text, tuple(out))
