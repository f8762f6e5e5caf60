"""Second-order sections of a scalar-level derivation document.

The Hessian is symbolic reverse mode applied twice (`symgrad.hessian`: the gradient of each
gradient entry), printed over the document's names. For a model whose parameters θ enter through
one linear pre-activation z = θᵀx̃ (logistic regression, any generalised linear model) the
per-sample gradient is δ·x̃ and the per-sample Hessian c·x̃x̃ᵀ, with δ = ∂E/∂z and c = ∂²E/∂z²;
summed over a batch whose rows are x̃ₙᵀ (the matrix X̃) they are

    ∇E = X̃ᵀ δ,        ∇²E = X̃ᵀ diag(c) X̃.

Both factorisations are checked symbolically, entry by entry, before the section states them.
"""

from dataclasses import dataclass

import sympy as sp

from ..errors import UnsupportedError
from ..matrix.algebra import emap
from ..second_order import hessian
from .document import Section, Step
from .matrix_notation import MatrixNotation
from .notation import Notation

MAX_SHOWN_PARAMS = 6  # larger Hessians are described, not printed entry by entry


@dataclass(frozen=True)
class LinearModelForm:
    """z = θᵀx̃ with per-sample δ = ∂E/∂z and c = ∂²E/∂z² (all over the model's own symbols)."""

    z: sp.Expr
    features: tuple  # x̃_j = ∂z/∂θ_j, free of θ
    delta: sp.Expr
    curvature: sp.Expr


def _zero(expr):
    return sp.expand(expr) == 0


def linear_model_form(derivation):
    """The `LinearModelForm` of a derived model, or our error saying why the model has none."""
    model, steps = derivation.model, derivation.steps
    name = model.name
    if len(steps.deltas) != 1:
        raise UnsupportedError(f"{name!r} has {len(steps.deltas)} pre-activations; the X̃ᵀ diag(c) X̃ form needs one")
    params = list(model.params)
    z = steps.deltas[0].stage.node
    features = tuple(sp.diff(z, p) for p in params)
    if any(f.free_symbols & set(params) for f in features):
        raise UnsupportedError(f"the pre-activation of {name!r} is not linear in its parameters")
    delta = steps.expand(steps.deltas[0].closed)
    for p, g, x in zip(params, steps.gradients, features, strict=True):
        if not _zero(steps.expand(g.closed) - delta * x):
            raise UnsupportedError(f"the gradient of {name!r} with respect to {p} is not δ·∂z/∂{p}")
    rows = hessian(model.loss, params)
    unit = next((j for j, x in enumerate(features) if x == 1), None)
    curvature = rows[unit][unit] if unit is not None else sp.cancel(rows[0][0] / features[0] ** 2)
    for i, row in enumerate(rows):
        for j, entry in enumerate(row):
            if not _zero(entry - curvature * features[i] * features[j]):
                raise UnsupportedError(f"the Hessian of {name!r} is not c·x̃x̃ᵀ at entry ({params[i]}, {params[j]})")
    return LinearModelForm(z, features, delta, curvature)


def _notation(derivation):
    steps = derivation.steps
    tex = Notation({q.symbol: q.latex for q in steps.quantities})
    tex.names.update({d.symbol: d.latex for d in steps.deltas})
    return tex


def hessian_section(derivation, title="5. The Hessian"):
    """Every second derivative of E, by symbolic reverse mode applied to each gradient entry."""
    model, steps = derivation.model, derivation.steps
    params = list(model.params)
    tex = _notation(derivation)
    text = ("Reverse mode applied to each entry of the gradient (`symgrad.hessian`) gives the matrix of "
            "second derivatives of $E$, one row per parameter; `symgrad.compile_hessian` generates the "
            "kernel that computes it, summed over the batch like the gradient.")
    if len(params) > MAX_SHOWN_PARAMS:
        return Section(title, text + f" ({len(params)} parameters: too many to print entry by entry.)")
    rows = sp.Matrix([[steps.abbreviate(e) for e in row] for row in hessian(model.loss, params)])
    theta = sp.Matrix(params)
    out = [Step(rf"\theta = {tex(theta.T)}^{{T}}"),
           Step(rf"\nabla^{{2}}_{{\theta}} E = \frac{{\partial^{{2}} E}}{{\partial \theta \, \partial \theta^{{T}}}} = {tex(rows)}")]
    return Section(title, text, tuple(out))


def linear_model_section(derivation, named=None, title="6. Gradient and Hessian in matrix form"):
    """∇E = X̃ᵀ δ and ∇²E = X̃ᵀ diag(c) X̃ over a batch; `named` maps a function class to the LaTeX
    name of its value at z (e.g. {sigmoid: "p"}), so σ(z) − y prints as p − y."""
    model, steps = derivation.model, derivation.steps
    form = linear_model_form(derivation)
    tex = _notation(derivation)
    z = steps.deltas[0].stage.symbol
    N = sp.Symbol("N", integer=True, positive=True)
    P = len(model.params)
    Xt, theta = sp.MatrixSymbol("_Xtilde", N, P), sp.MatrixSymbol("_theta", P, 1)
    vectors = {s: sp.MatrixSymbol(f"_vec_{s.name}", N, 1) for s in (z, *model.targets, *model.inputs)}
    names = {Xt: r"\tilde{X}", theta: r"\theta", vectors[z]: tex(z)}
    names.update({vectors[s]: tex(s) for s in (*model.targets, *model.inputs)})
    named_values = {}
    for cls, latex in (named or {}).items():
        symbol = sp.Symbol(f"_named_{cls.__name__}", real=True)
        named_values[cls(z)] = symbol
        vectors[symbol] = sp.MatrixSymbol(f"_vec_named_{cls.__name__}", N, 1)
        names[vectors[symbol]] = latex
    vec = MatrixNotation(names)

    def as_vector(expr):
        """A per-sample expression over z, targets and named values, as an entrywise map over vectors."""
        expr = steps.abbreviate(expr).xreplace(named_values)
        used = [s for s in vectors if s in expr.free_symbols]
        return emap(expr, tuple(used), *[vectors[s] for s in used])

    delta, curvature = as_vector(form.delta), as_vector(form.curvature)
    features = sp.Matrix([steps.abbreviate(x) for x in form.features])
    out = [
        Step(rf"{tex(z)} = \theta^{{T}} \tilde{{x}},\quad \tilde{{x}} = \frac{{\partial {tex(z)}}}{{\partial \theta}} = {tex(features.T)}^{{T}}"
             + "".join(rf",\quad {latex} = {tex(cls(z))}" for cls, latex in (named or {}).items())),
        Step(rf"\nabla_{{\theta}} E = \delta \, \tilde{{x}},\quad \delta = {tex(steps.deltas[0].symbol)} = "
             rf"{tex(steps.abbreviate(form.delta).xreplace(named_values).xreplace(_display(named)))}"),
        Step(rf"\nabla^{{2}}_{{\theta}} E = c \, \tilde{{x}} \tilde{{x}}^{{T}},\quad c = \frac{{\partial \delta}}{{\partial {tex(z)}}} = "
             rf"{tex(steps.abbreviate(form.curvature).xreplace(named_values).xreplace(_display(named)))}"),
        Step(rf"{tex(z)} = {vec(Xt * theta)},\quad \sum_{{n}} \nabla_{{\theta}} E_{{n}} = {vec(Xt.T)} \left({vec(delta)}\right)"),
        Step(rf"\sum_{{n}} \nabla^{{2}}_{{\theta}} E_{{n}} = {vec(Xt.T)} \operatorname{{diag}}\left({vec(curvature)}\right) {vec(Xt)}"),
    ]
    text = ("The parameters enter only through one pre-activation $z = \\theta^{T} \\tilde{x}$, so the gradient is $\\delta$ times "
            "$\\tilde{x}$ and the Hessian is $c$ times the outer product $\\tilde{x} \\tilde{x}^{T}$ (both checked "
            "symbolically, entry by entry, against the sections above). Summed over a batch whose rows are "
            "$\\tilde{x}_{n}^{T}$ (the matrix $\\tilde{X}$), with $z$, $\\delta$ and $c$ read as vectors over the "
            "samples and functions applied entry by entry:")
    return Section(title, text, tuple(out))


def _display(named):
    """Named values back as plain symbols for the scalar printer (σ(z) → p)."""
    return {sp.Symbol(f"_named_{cls.__name__}", real=True): sp.Symbol(latex) for cls, latex in (named or {}).items()}
