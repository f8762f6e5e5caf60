"""Which line of a rendered module computes each value: a `LineMap`, returned with the text.

A renderer tags the lines it hands its template (and each function's `def` line) with a mark of
NUL characters and a number; after rendering, `Tags.resolve` strips the marks and records where
each one landed. Nothing is searched for in the generated text, and a mark cannot be forged:
generated source never holds a NUL (names are ASCII identifiers, comments printable text).
"""

from dataclasses import dataclass, field

_MARK = "\x00"


@dataclass(frozen=True)
class LineMap:
    """`lines[function][name]`: the 1-based line computing `name` in `function`;
    `functions[function]`: its (first, last) line, the `def` line to its last non-blank one."""

    functions: dict = field(default_factory=dict)
    lines: dict = field(default_factory=dict)

    def line(self, function, name):
        """The line number, or None when `function` does not compute `name` on a line of its own."""
        return self.lines.get(function, {}).get(name)


@dataclass(frozen=True)
class Rendered:
    """A rendered module's text and its line map."""

    text: str
    lines: LineMap


class Tags:
    """The marks of one rendering."""

    def __init__(self):
        self._keys = []  # mark number -> (function, name); name None for a `def` line

    def _mark(self, key):
        self._keys.append(key)
        return f"{_MARK}{len(self._keys) - 1}{_MARK}"

    def function(self, name):
        """The mark to put before `name`'s `def` line."""
        return self._mark((name, None))

    def lines(self, function, pairs):
        """Body lines from (name, text) pairs, those with a name marked as computing it."""
        return [self._mark((function, name)) + text if name else text for name, text in pairs]

    def resolve(self, text):
        """The `Rendered` text without marks, and where each mark was."""
        out, starts, lines = [], [], {}
        for number, line in enumerate(text.split("\n"), start=1):
            at = line.find(_MARK)
            if at >= 0:
                end = line.index(_MARK, at + 1)
                function, name = self._keys[int(line[at + 1 : end])]
                line = line[:at] + line[end + 1 :]
                if name is None:
                    starts.append((number, function))
                else:
                    lines.setdefault(function, {})[name] = number
            out.append(line)
        functions = {}
        bounds = [n for n, _ in starts[1:]] + [len(out) + 1]
        for (first, function), stop in zip(starts, bounds, strict=True):
            last = stop - 1
            while last > first and not out[last - 1].strip():
                last -= 1
            functions[function] = (first, last)
        return Rendered("\n".join(out), LineMap(functions, lines))
