"""Which line of the generated numpy module computes a given sympy node.

Lowering records, for every node of the loss and gradient DAG, the temporary whose statement
computes it (`KernelIR.origins`); this module finds that statement's line in the rendered module's
`loss_and_grad_vectorized`, the function a reader follows as the backward pass.
"""

import re
from dataclasses import dataclass

FUNCTION = "loss_and_grad_vectorized"
_ASSIGN = re.compile(r"^    ([A-Za-z_][A-Za-z0-9_]*) = ")


@dataclass(frozen=True)
class CodeLine:
    number: int  # 1-based line number in the module
    text: str  # the line, without its indentation

    def __str__(self):
        return f"{self.number:>4}| {self.text}"


class CodeMap:
    """Lines of one generated module, looked up by IR temporary or by the sympy node computed."""

    def __init__(self, ir, source):
        self.ir, self.source = ir, source
        self.lines = {}
        self.function = []
        inside = False
        for number, line in enumerate(source.splitlines(), start=1):
            if line.startswith("def "):
                inside = line.startswith(f"def {FUNCTION}(")
            if inside:
                self.function.append(CodeLine(number, line))
                if m := _ASSIGN.match(line):
                    self.lines[m[1]] = CodeLine(number, line.strip())

    def of_target(self, target):
        return [self.lines[target]] if target in self.lines else []

    def of_node(self, node):
        """The line computing `node` (empty when it is a symbol, a constant, or not in the kernel)."""
        return self.of_target(self.ir.origins.get(node))

    def of_loss(self):
        return self.of_target(self.ir.loss.source) + self.of_target(self.ir.loss.target)

    def of_gradient(self, index):
        """The per-sample line and the batch-sum line of parameter `index`'s gradient."""
        out = self.ir.grads[index]
        return self.of_target(self.ir.per_sample_grads[index]) + self.of_target(out.target)
