"""The fast lane of `values.bind` for scalar kernels called again and again with the same symbols.

A training loop calls `kernel.loss_and_grad(values)` with a mapping whose keys are the same symbols,
in the same order, every step. `PreparedBinding` writes, for the key order and value types of the
last accepted mapping, one small Python function (a *layout*) that reads the values by position
into local names, tests them and calls the kernel's module with them: a call costs one key-tuple
comparison, one unpacking of the values, one `is` test per value and one float sum, in one frame.
It only ever accepts input that is plainly valid (Python or numpy float64 numbers for parameters,
equal-length 1-D float64 arrays for data, every number finite, no dask collection anywhere) and
answers None for anything else, so the checked `values.bind` path stays the one place that decides
what is wrong and says so (`layout_source` shows the text; tests/test_prepared_binding.py holds the
two lanes to the same answers).
"""

import math
from dataclasses import dataclass

import numpy as np

SMALL_ROWS = 32  # data arrays up to this length are tested finite by a float sum of their lists, longer ones by np.vdot
_FLOAT64 = np.dtype(np.float64)
_NAMESPACE = {"ndarray": np.ndarray, "float64": np.float64, "F8": _FLOAT64, "isfinite": math.isfinite,
              "vdot": np.vdot, "contiguous": np.ascontiguousarray}


@dataclass(frozen=True)
class Layout:
    """The functions written for one key order and value types (replaced whole, so a call from
    another thread never pairs one mapping's keys with another's places)."""

    keys: tuple
    arguments: object  # (values, nonfinite) -> argument tuple or None (the checked path decides)
    loss_and_grad: object  # (values, nonfinite) -> (loss, gradients as floats) or None


@dataclass(frozen=True)
class Calls:
    """What a layout's `loss_and_grad` calls, each optional: the module's `loss_and_grad` (its
    `loop` on data lists and `vectorized` on arrays when the module has them, taken for batches up
    to `loop_max` as the module's own dispatch does), `report(nonfinite, loss, grads)` naming
    non-finite results, and `large(args, nonfinite)` for batches longer than `loop_max` (or for
    every batch, without a module function)."""

    loss_and_grad: object = None
    loop: object = None
    vectorized: object = None
    report: object = None
    large: object = None
    loop_max: int = 0


def _is_dask(kind):
    return hasattr(kind, "__dask_graph__")


def _chain(test, names):
    """`float is type(v0) is type(v3)`: one chained test that every name passes."""
    return " is ".join([test, *names])


def _results(call, indent):
    """Lines turning `call`'s (loss, gradients) into floats, tested with one sum.

    The sum is a Python float only when every term is a float (or an int, which the numpy module's
    functions never return: its loop sums in floats): a numpy scalar makes it a numpy scalar from
    there on. So a float sum means the module's own fresh list can be handed on as it is."""
    pad = " " * indent
    return [f"{pad}value, grads = {call}", f"{pad}total = sum(grads, value)",
            f"{pad}if type(total) is not float:  # numpy scalars (the vectorized form): as floats",
            f"{pad}    grads = [*map(float, grads)]", f"{pad}    value = float(value)",
            f"{pad}    total = sum(grads, value)",
            f"{pad}if not isfinite(total):",
            f"{pad}    REPORT(nonfinite, value, grads)  # names every NaN or Inf (a sum that overflowed passes)",
            f"{pad}return value, grads"]


def layout_source(count, data, params, others, calls, *, contiguous):
    """The text of one layout's two functions, `arguments` and `loss_and_grad`.

    The mapping's `count` values are unpacked, in key order, into `v0` … ; `data`, `params`: the names
    holding each kernel argument, in argument order; `params` pairs a name with "float" or "float64"
    (the type it must have); `others`: names of values no argument reads, each tested against its
    remembered type `TYPE_<name>` (so a dask collection among them is never missed); `calls`: the
    `Calls` the functions are written for. A mapping with other keys or value types goes to `miss`
    (the binding prepares a layout for it); anything the fast lane does not vouch for answers None.
    """
    floats = [p for p, kind in params if kind == "float"]
    numpy_floats = [p for p, kind in params if kind == "float64"]
    types = [_chain("float", [f"type({p})" for p in floats]) if floats else "",
             _chain("float64", [f"type({p})" for p in numpy_floats]) if numpy_floats else "",
             _chain("ndarray", [f"type({d})" for d in data]) if data else "",
             *[f"TYPE_{o} is type({o})" for o in others]]
    types = " and ".join(t for t in types if t)
    unpack = ", ".join(f"v{i}" for i in range(count)) + ("," if count == 1 else "")
    head = [
        "    if type(values) is not dict or tuple(values) != KEYS:",
        "        return miss(values, nonfinite)",
        "    try:",
        f"        {unpack} = values.values()",
        "    except ValueError:  # the dict changed size since its keys were read (another thread)",
        "        return miss(values, nonfinite)",
    ]
    if types:
        head += [f"    if not ({types}):", "        return miss(values, nonfinite)"]
    params_sum = " + ".join(p for p, _ in params) or "0.0"  # Python floats: NaN and Inf propagate, nothing warns
    numbers = [p if kind == "float" else f"float({p})" for p, kind in params]
    arrays = ", ".join([f"contiguous({d})" if contiguous else d for d in data] + numbers)
    arrays_tuple = f"({arrays}{',' if len(data) + len(params) == 1 else ''})"
    lists = ", ".join([f"l{d[1:]}" for d in data] + numbers)

    def small_call():  # the data are lists here, at most SMALL_ROWS long
        if calls.loop is not None:
            return [f"        if n <= {calls.loop_max}:",
                    "            try:",
                    f"                value, grads = LOOP({lists})",
                    "            except (ArithmeticError, ValueError):  # math raises where numpy gives inf or NaN",
                    f"                value, grads = VECTORIZED({arrays})",
                    "        else:",
                    f"            return LARGE({arrays_tuple}, nonfinite)" if calls.large is not None
                    else f"            value, grads = VECTORIZED({arrays})",
                    *_results("value, grads", 8)[1:]]
        return array_call(8)

    def array_call(indent):
        pad = " " * indent
        out = []
        if calls.large is not None:
            if calls.loss_and_grad is None:
                return [f"{pad}return LARGE({arrays_tuple}, nonfinite)"]
            out = [f"{pad}if n > {calls.loop_max}:", f"{pad}    return LARGE({arrays_tuple}, nonfinite)"]
        if calls.loss_and_grad is None:
            return [f"{pad}return None"]
        return out + _results(f"LOSS_AND_GRAD({arrays})", indent)

    def body(small, large):
        if not data:
            return ["    if nonfinite == 'raise':", f"        if not isfinite({params_sum}):", "            return None",
                    "    elif nonfinite != 'propagate':", "        return None", "    n = 1", *large(4)]
        first, rest = data[0], data[1:]
        return [
            f"    if not ({_chain('F8', [f'{d}.dtype' for d in data])}):",
            "        return None  # another dtype (or byte order): bind converts or names it",
            f"    if nonfinite == 'raise' and {first}.size <= {SMALL_ROWS}:",
            "        try:",
            *[f"            l{d[1:]} = {d}.tolist()" for d in data],
            f"            total = {' + '.join(f'sum(l{d[1:]}, 0.0)' for d in data)} + {params_sum}",
            "        except TypeError:",
            "            return None  # 0-d or 2-D data (a list of lists does not sum): bind names it",
            f"        n = len(l{first[1:]})",
            f"        if not (n and isfinite(total){''.join(f' and len(l{d[1:]}) == n' for d in rest)}):",
            "            return None  # empty or unequal data, or a NaN or Inf somewhere (or a sum that overflowed)",
            *small(),
            f"    shape = {first}.shape",
            f"    if len(shape) != 1 or not shape[0]{''.join(f' or {d}.shape != shape' for d in rest)}:",
            "        return None  # 0-d, 2-D, empty or unequal data: bind broadcasts or names it",
            "    if nonfinite == 'raise':  # each square sum is NaN or Inf exactly when some entry is (or it overflows)",
            f"        if not isfinite(float({' + '.join(f'vdot({d}, {d})' for d in data)}) + {params_sum}):",
            "            return None",
            "    elif nonfinite != 'propagate':",
            "        return None",
            "    n = shape[0]",
            *large(4),
        ]

    def give_arguments(indent=8):
        return [" " * indent + f"return {arrays_tuple}"]

    return "\n".join([
        "def arguments(values, nonfinite, miss=MISS_ARGUMENTS):", *head, *body(give_arguments, give_arguments), "",
        "",
        "def loss_and_grad(values, nonfinite, miss=MISS_LOSS_AND_GRAD):", *head, *body(small_call, array_call), ""])


def _none(values, nonfinite):
    return None


class PreparedBinding:
    """Positional kernel arguments (data arrays, then parameter floats) from a `values` dict, and the
    kernel's `loss_and_grad` called with them (`Calls`).

    `arguments(values, nonfinite)` and `loss_and_grad(values, nonfinite)` are the current layout's
    functions themselves (no call in between): they answer None when the checked path must decide,
    and a tuple also means `values` holds no dask collection, so callers may skip that test.
    `contiguous` copies strided data arrays (what CUDA launchers need); numpy kernels read them as
    they are.
    """

    def __init__(self, inputs, wrt, contiguous=False, calls=Calls()):
        self._symbols = list(inputs) + list(wrt)
        self._names = None  # printed once, when a mapping first keys a value by name
        self._n_data, self._contiguous, self._calls = len(inputs), contiguous, calls
        self._install(Layout(None, self._fresh_arguments, self._fresh_loss_and_grad))

    def _install(self, layout):
        self._layout = layout
        self.arguments, self.loss_and_grad = layout.arguments, layout.loss_and_grad

    def _fresh_arguments(self, values, nonfinite):
        layout = self._prepare(values)
        return None if layout is None else layout.arguments(values, nonfinite, _none)

    def _fresh_loss_and_grad(self, values, nonfinite):
        layout = self._prepare(values)
        return None if layout is None else layout.loss_and_grad(values, nonfinite, _none)

    def _prepare(self, values):
        """The layout for the keys and value types of `values` (each argument found by its symbol,
        then by its name), now installed; None when some argument has no value there, a value has a
        type the fast lane does not vouch for, or any value is a dask collection."""
        if type(values) is not dict:
            return None
        keys, vals = tuple(values), tuple(values.values())
        if len(keys) != len(vals):
            return None
        where = {key: i for i, key in enumerate(keys) if not isinstance(key, str)}
        by_name = {key: i for i, key in enumerate(keys) if isinstance(key, str)}
        if by_name and self._names is None:
            self._names = [str(s) for s in self._symbols]
        names = self._names if by_name else [None] * len(self._symbols)
        positions = [where.get(symbol, by_name.get(name)) for symbol, name in zip(self._symbols, names, strict=True)]
        if None in positions:
            return None
        types = [type(v) for v in vals]
        data, params = positions[:self._n_data], positions[self._n_data:]
        kinds = {float: "float", np.float64: "float64"}
        if not all(types[i] is np.ndarray for i in data) or not all(types[i] in kinds for i in params):
            return None
        if any(map(_is_dask, set(types))):  # an unused value may still send the call to dask
            return None
        others = sorted(set(range(len(keys))) - set(positions))
        source = layout_source(len(keys), [f"v{i}" for i in data], [(f"v{i}", kinds[types[i]]) for i in params],
                               [f"v{i}" for i in others], self._calls, contiguous=self._contiguous)
        calls = self._calls
        namespace = {**_NAMESPACE, "KEYS": keys, "MISS_ARGUMENTS": self._fresh_arguments,
                     "MISS_LOSS_AND_GRAD": self._fresh_loss_and_grad,
                     "LOSS_AND_GRAD": calls.loss_and_grad, "LOOP": calls.loop, "VECTORIZED": calls.vectorized,
                     "REPORT": calls.report, "LARGE": calls.large, **{f"TYPE_v{i}": types[i] for i in others}}
        exec(compile(source, "<symgrad prepared binding>", "exec"), namespace)  # noqa: S102 - our own text
        layout = Layout(keys, namespace["arguments"], namespace["loss_and_grad"])
        self._install(layout)
        return layout
