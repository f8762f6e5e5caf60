"""Which line of the generated numpy module computes a given sympy node.

Lowering records, for every node of the loss and gradient DAG, the temporary whose statement
computes it (`KernelIR.origins`); the renderer's line map (`targets.line_map`) says which line of
the module's `loss_and_grad_vectorized`, the function a reader follows as the backward pass,
computes that temporary.
"""

from dataclasses import dataclass

from ..ir import Phase

FUNCTION = "loss_and_grad_vectorized"


@dataclass(frozen=True)
class CodeLine:
    number: int  # 1-based line number in the module
    text: str  # the line, without its indentation
    name: str = ""  # the value it computes ("" for a line of the listing that computes none)

    def __str__(self):
        return f"{self.number:>4}| {self.text}"


class CodeMap:
    """Lines of one generated module, looked up by IR temporary or by the sympy node computed.

    `rendered` is the renderer's `line_map.Rendered` (text and line map) of `ir`.
    """

    def __init__(self, ir, rendered, name=FUNCTION):
        self.ir, self.source, self.name = ir, rendered.text, name
        text = rendered.text.split("\n")
        first, last = rendered.lines.functions[name]
        self.function = [CodeLine(n, text[n - 1]) for n in range(first, last + 1)]
        self.lines = {target: CodeLine(n, text[n - 1].strip(), target)
                      for target, n in rendered.lines.lines.get(name, {}).items()}

    def of_target(self, target):
        return [self.lines[target]] if target in self.lines else []

    def of_node(self, node):
        """The line computing `node` (empty when it is a symbol, a constant, or not in the kernel)."""
        return self.of_target(self.ir.origins.get(node))

    def of_loss(self):
        """The per-sample line and the batch-sum line of the loss."""
        return self._summed(self.ir.loss)

    def of_gradient(self, index):
        """The per-sample line and the batch-sum line of parameter `index`'s gradient."""
        return self._summed(self.ir.grads[index])

    def _summed(self, name):
        summand = self.ir.summand(name)
        return (self.of_target(summand) if summand != name else []) + self.of_target(name)


class MatrixCodeMap(CodeMap):
    """Lines of a generated matrix module's `loss_and_grad`, found through the IR's data flow.

    A value the renderer inlined into its reader has no line of its own: it is cited by its
    readers' lines. `between` cites the lines that compute some values from others (a step of the
    derivation from the quantities the document has already stated).
    """

    def __init__(self, ir, rendered):
        super().__init__(ir, rendered, name="loss_and_grad")
        self.reads, self.readers, self.forward = {}, {}, set()
        for st in ir.statements:
            for a in getattr(st, "assigns", (st,)):
                self.reads[a.target] = a.reads()
                for r in a.reads():
                    self.readers.setdefault(r, []).append(a.target)
                if st.phase is Phase.FORWARD:
                    self.forward.add(a.target)

    def of_value(self, ident):
        """The line computing `ident`, or the lines of its readers where it was inlined."""
        if ident in self.lines:
            return [self.lines[ident]]
        if ident not in self.reads:  # an argument of the function
            return []
        out = []
        for reader in self.readers.get(ident, []):
            out += [c for c in self.of_value(reader) if c not in out]
        return out

    def of_node(self, node):
        return self.of_value(self.ir.origins[node]) if node in self.ir.origins else []

    def _closure(self, idents):
        seen, todo = set(), list(idents)
        while todo:
            ident = todo.pop()
            if ident not in seen:
                seen.add(ident)
                todo += self.reads.get(ident, ())
        return seen

    def between(self, targets, known):
        """Lines computing `targets` from `known` (identifiers), in module order."""
        out = []
        for ident in self._closure(targets) - self._closure(known):
            out += [c for c in self.of_value(ident) if c not in out]
        return sorted(out, key=lambda c: c.number)

    def ident(self, node):
        return self.ir.origins.get(node)
