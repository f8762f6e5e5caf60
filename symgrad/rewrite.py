"""Numerically stable rewrites: named pattern → replacement rules applied to whole expression DAGs.

A model says *what* is computed; these rules choose *how*, so that generated code stays finite
where the true value is finite. The lowering applies them to the loss before it is differentiated
and again to every forward and backward expression it is handed (the gradient of a stable form can
still contain unstable pieces, e.g. σ(1 − σ) whose `1 − σ(x)` cancels for large x).

Each rule is one function `node → replacement or None`, registered under a name for the node
type it looks at; `stabilize` walks the DAG once, children before parents (no recursion), and
re-applies rules to a replacement until none matches.
"""

from dataclasses import dataclass

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from . import functions as F
from .dag import children, topological


@dataclass(frozen=True)
class Rule:
    """A named rewrite: `apply(node)` returns the stable replacement, or None when it does not match."""

    name: str
    node_type: type
    apply: object
    doc: str


def _exp_arg(term):
    """`a` when `term` is exp(a), else None."""
    return term.args[0] if isinstance(term, sp.exp) else None


def _split_one(add):
    """(True, the other terms as one Add) when `add` has the constant term 1, else (False, None)."""
    if sp.S.One not in add.args:
        return False, None
    rest = list(add.args)
    rest.remove(sp.S.One)
    return True, sp.Add(*rest)


def _negated(term):
    """`a` when `term` is −a (a Mul with a factor −1, evaluated or not), else None."""
    if isinstance(term, sp.Mul) and sp.S.NegativeOne in term.args:
        rest = list(term.args)
        rest.remove(sp.S.NegativeOne)
        return sp.Mul(*rest)
    return None


def _neg(a):
    """−a; a sum stays one shared operand (−(w·x + b), not −w·x − b computed afresh)."""
    return sp.Mul(sp.S.NegativeOne, a, evaluate=False) if isinstance(a, sp.Add) else -a


# Replacements are built with evaluate=False: sympy's `eval` of a function queries assumptions
# recursively down the argument's whole depth (a RecursionError on deep models).


def _sigmoid_from_exp(node):
    """1/(1 + e^(−z)) → σ(z)."""
    if node.exp != -1 or not isinstance(node.base, sp.Add) or len(node.base.args) != 2:
        return None
    has_one, rest = _split_one(node.base)
    a = _exp_arg(rest) if has_one else None
    return F.sigmoid(-a, evaluate=False) if a is not None else None


def _sigmoid_from_exp_ratio(node):
    """e^z · σ(−z) (what e^z/(1 + e^z) becomes) → σ(z)."""
    exps = {t.args[0]: t for t in node.args if isinstance(t, sp.exp)}
    if not exps:  # the common case; negating every σ's argument below is not free
        return None
    for t in node.args:
        if isinstance(t, F.sigmoid) and -t.args[0] in exps:
            z = -t.args[0]
            rest = [a for a in node.args if a is not t and a is not exps[z]]
            return sp.Mul(F.sigmoid(z, evaluate=False), *rest)
    return None


def _one_minus_sigmoid(node):
    """1 − σ(z) → σ(−z): the subtraction loses every digit once σ(z) rounds to 1."""
    has_one, _ = _split_one(node)
    if not has_one:
        return None
    for t in node.args:
        inner = _negated(t)
        if isinstance(inner, F.sigmoid):
            rest = [a for a in node.args if a is not t and a != sp.S.One]
            return sp.Add(F.sigmoid(_neg(inner.args[0]), evaluate=False), *rest)
    return None


def _one_minus_tanh_squared(node):
    """1 − tanh²(z) → 4σ(2z)σ(−2z) (= 1/cosh²(z)): the tanh derivative, accurate where tanh(z)
    rounds to ±1 and where cosh²(z) would overflow (float32 at |z| > 44)."""
    has_one, _ = _split_one(node)
    if not has_one:
        return None
    for t in node.args:
        inner = _negated(t)
        if isinstance(inner, sp.Pow) and inner.exp == 2 and isinstance(inner.base, sp.tanh):
            rest = [a for a in node.args if a is not t and a != sp.S.One]
            z2 = sp.Mul(2, inner.base.args[0], evaluate=False)
            sech2 = sp.Mul(4, F.sigmoid(z2, evaluate=False), F.sigmoid(_neg(z2), evaluate=False), evaluate=False)
            return sp.Add(sech2, *rest)
    return None


def _scaled_expm1(c, a):
    return expm1(a, evaluate=False) if c == 1 else sp.Mul(c, expm1(a, evaluate=False), evaluate=False)


def _expm1(node):
    """c·e^a − c → c·expm1(a) for any constant c (sympy spells c·(e^a − 1) as c·e^a − c), and
    Σ cᵢ·e^(aᵢ) − Σ cᵢ → Σ cᵢ·expm1(aᵢ) when the constant cancels all the exponentials together."""
    const = next((t for t in node.args if t.is_Number), None)
    if const is None or const.is_zero:
        return None
    exps = {}  # term -> (c, a) for the terms c·e^a
    for t in node.args:
        c, factor = t.as_coeff_Mul()
        if (a := _exp_arg(factor)) is not None:
            exps[t] = (c, a)
    single = next((t for t, (c, _) in exps.items() if c == -const), None)
    chosen = [single] if single is not None else list(exps) if sum(c for c, _ in exps.values()) == -const else []
    if not chosen:
        return None
    rest = [u for u in node.args if u not in chosen and u is not const]
    return sp.Add(*(_scaled_expm1(*exps[t]) for t in chosen), *rest)


def _exp_difference(node):
    """c·e^a − c·e^b → 2c·e^((a+b)/2)·sinh((a−b)/2): the difference cancels when a ≈ b (what
    c·(e^a − 1) − c·(e^b − 1) becomes once sympy has collected the constants); the product
    overflows only where the difference itself does (e^b·expm1(a − b) would overflow earlier)."""
    exps = []
    for t in node.args:
        c, factor = t.as_coeff_Mul()
        if (a := _exp_arg(factor)) is not None:
            exps.append((t, c, a))
    for i, (ti, ci, ai) in enumerate(exps):
        for tj, cj, aj in exps[i + 1 :]:
            if ci == -cj:
                rest = [u for u in node.args if u is not ti and u is not tj]
                mean, half_gap = sp.Add(ai, aj) / 2, sp.Add(ai, -aj) / 2
                scale = [] if mean.is_zero else [sp.exp(mean, evaluate=False)]
                product = sp.Mul(2 * ci, *scale, sp.sinh(half_gap, evaluate=False), evaluate=False)
                return sp.Add(product, *rest)
    return None


def _log_of_sum(node):
    """log(1 + e^a) → softplus(a); log(Σ e^aᵢ) → logsumexp(a…); log(1 + x) → log1p(x)."""
    (arg,) = node.args
    if not isinstance(arg, sp.Add):
        return None
    exps = [_exp_arg(t) for t in arg.args]
    if all(a is not None for a in exps):
        return F.logsumexp(*exps, evaluate=False)
    has_one, rest = _split_one(arg)
    if not has_one:
        return None
    a = _exp_arg(rest)
    return F.softplus(a, evaluate=False) if a is not None else log1p(rest, evaluate=False)


def _log_of_function(node):
    """log σ(z) → logsigmoid(z); log e^a → a (real a)."""
    (arg,) = node.args
    if isinstance(arg, F.sigmoid):
        return F.logsigmoid(arg.args[0], evaluate=False)
    if isinstance(arg, sp.exp) and arg.args[0].is_real is not False:
        return arg.args[0]
    return None


def _log1p_of_exp(node):
    """log1p(e^a) → softplus(a)."""
    a = _exp_arg(node.args[0])
    return F.softplus(a, evaluate=False) if a is not None else None


def _softmax(node):
    """e^a / Σ e^bᵢ → e^(a − logsumexp(b…)): no exponential of a large logit is ever formed."""
    for t in node.args:
        if isinstance(t, sp.Pow) and t.exp == -1 and isinstance(t.base, sp.Add):
            bs = [_exp_arg(s) for s in t.base.args]
            if len(bs) > 1 and all(b is not None for b in bs):
                rest = [a for a in node.args if a is not t]
                num = [a for a in rest if isinstance(a, sp.exp)]
                if num:
                    others = [a for a in rest if a is not num[0]]
                    return sp.Mul(sp.exp(num[0].args[0] - F.logsumexp(*bs, evaluate=False)), *others)
    return None


RULES = [
    Rule("sigmoid_from_exp", sp.Pow, _sigmoid_from_exp, "1/(1 + exp(-z)) -> sigmoid(z)"),
    Rule("sigmoid_from_exp_ratio", sp.Mul, _sigmoid_from_exp_ratio, "exp(z)/(1 + exp(z)) -> sigmoid(z)"),
    Rule("softmax", sp.Mul, _softmax, "exp(a)/sum(exp(b_i)) -> exp(a - logsumexp(b))"),
    Rule("one_minus_sigmoid", sp.Add, _one_minus_sigmoid, "1 - sigmoid(z) -> sigmoid(-z)"),
    Rule("one_minus_tanh_squared", sp.Add, _one_minus_tanh_squared, "1 - tanh(z)**2 -> 4*sigmoid(2z)*sigmoid(-2z)"),
    Rule("expm1", sp.Add, _expm1, "c*exp(a) - c -> c*expm1(a) (c = 1 included)"),
    Rule("exp_difference", sp.Add, _exp_difference, "c*exp(a) - c*exp(b) -> 2c*exp((a+b)/2)*sinh((a-b)/2)"),
    Rule("log_of_sum", sp.log, _log_of_sum,
         "log(1 + exp(a)) -> softplus(a); log(sum(exp(a_i))) -> logsumexp(a); log(1 + x) -> log1p(x)"),
    Rule("log_of_function", sp.log, _log_of_function,
         "log(sigmoid(z)) -> logsigmoid(z) (so log(1 - sigmoid(z)) -> logsigmoid(-z)); log(exp(a)) -> a"),
    Rule("log1p_of_exp", log1p, _log1p_of_exp, "log1p(exp(a)) -> softplus(a)"),
]
BY_NAME = {r.name: r for r in RULES}
MAX_PASSES = 8  # a replacement is re-examined at most this often (rules only shrink or stabilize)


def rules_for(node, rules):
    return [r for r in rules if isinstance(node, r.node_type)]


def _rewrite_node(node, rules, applied):
    for _ in range(MAX_PASSES):
        for rule in rules_for(node, rules):
            out = rule.apply(node)
            if out is not None and out != node:
                applied.append(rule.name)
                node = out
                break
        else:
            return node
    return node


def _rebuild(node, args):
    """`node` over new operands, unevaluated: sympy must not flatten away shared adjoints."""
    try:
        return node.func(*args, evaluate=False)
    except TypeError:
        return node.func(*args)


def stabilize(roots, rules=RULES, applied=None, mapping=None):
    """`roots` (a list) with every registered rule applied throughout their shared DAG.

    Structurally equal subexpressions stay shared: each distinct node is rewritten once.
    `applied`, when a list, collects the names of the rules that fired (for tests and reports);
    `mapping`, when a dict, receives every node's rewritten form (for tracing nodes into the kernel).
    """
    applied = [] if applied is None else applied
    rules = list(rules)
    if not rules:
        return list(roots)
    new = {}
    for node in topological(roots):
        args = children(node)
        if args:
            rebuilt = [new[a] for a in args]
            node_out = node if all(r is a for r, a in zip(rebuilt, args, strict=True)) else _rebuild(node, rebuilt)
        else:
            node_out = node
        new[node] = _rewrite_node(node_out, rules, applied)
    if mapping is not None:
        mapping.update(new)
    return [new[r] for r in roots]


def select(names):
    """The rules named in `names` (all when None); our error for an unknown name."""
    if names is None:
        return RULES
    from .errors import InvalidArgumentError

    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise InvalidArgumentError(f"unknown rewrite rule(s) {unknown}; known: {sorted(BY_NAME)}")
    return [BY_NAME[n] for n in names]
