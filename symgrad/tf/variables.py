"""Initializers and grouping: operations that only have effects."""

from .graph import Operation, Tensor, get_default_graph


def variables_initializer(var_list, name="init"):
    """An op that sets each variable of `var_list` to its initial value in the session running it."""
    var_list = list(var_list)
    graph = var_list[0].graph if var_list else get_default_graph()
    return Operation([e for v in var_list for e in v.initializer.effects], name=name, graph=graph)


def global_variables_initializer():
    """An op initializing every variable created so far in the default graph."""
    return variables_initializer(get_default_graph().variables)


def group(*inputs, name="group"):
    """One op running all of `inputs` (ops and tensors, e.g. assignments; lists are flattened)."""
    inputs = [x for item in inputs for x in (item if isinstance(item, (list, tuple)) else [item])]
    ops = [x for x in inputs if isinstance(x, Operation)]
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    graph = (ops or tensors)[0].graph if inputs else get_default_graph()
    return Operation([e for op in ops for e in op.effects], tensors + [t for op in ops for t in op.tensors],
                     name=name, graph=graph)
