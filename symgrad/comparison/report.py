"""The comparison table (text, Markdown, LaTeX) and its plot (a matplotlib Figure)."""

from dataclasses import dataclass

COLUMNS = [
    # (header, Measurement -> formatted cell)
    ("width", lambda m: f"{m.width}"),
    ("params", lambda m: f"{m.params}"),
    ("derive diff (s)", lambda m: f"{m.derive_diff:.3f}"),
    ("derive reverse (s)", lambda m: f"{m.derive_reverse:.4f}"),
    ("compile (s)", lambda m: f"{m.compile:.3f}"),
    ("ops naive diff", lambda m: f"{m.ops_naive}"),
    ("ops diff+CSE", lambda m: f"{m.ops_cse}"),
    ("ops reverse", lambda m: f"{m.ops_reverse}"),
    ("eval symbolic (ms)", lambda m: f"{1e3 * m.eval_symbolic:.3f}"),
    ("eval autodiff (ms)", lambda m: f"{1e3 * m.eval_autodiff:.3f}"),
    ("autodiff / symbolic", lambda m: f"{m.eval_autodiff / m.eval_symbolic:.1f}x"),
    ("max rel err symbolic", lambda m: f"{m.error_symbolic:.1e}"),
    ("max rel err autodiff", lambda m: f"{m.error_autodiff:.1e}"),
]


@dataclass
class ComparisonReport:
    """Measurements of one model family across widths; a table in every format, and a plot."""

    family: str
    rows: list  # Measurement, one per width

    def cells(self):
        return [[fmt(m) for _, fmt in COLUMNS] for m in self.rows]

    def caption(self):
        m = self.rows[0] if self.rows else None
        batch = f"batch of {m.batch} samples" if m else "no measurements"
        return (f"symbolic vs autodiff for the {self.family} family: evaluation of loss and gradient on a {batch} "
                "(median of repeats); errors are max relative errors against sympy.diff evaluated with mpmath "
                "at 50 digits")

    def __str__(self):
        headers = [h for h, _ in COLUMNS]
        rows = self.cells()
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        return "\n".join([self.caption(), *lines])

    def markdown(self):
        headers = [h for h, _ in COLUMNS]
        lines = ["| " + " | ".join(headers) + " |", "|" + "---:|" * len(headers)]
        lines += ["| " + " | ".join(r) + " |" for r in self.cells()]
        return "\n".join(lines) + "\n"

    def _repr_markdown_(self):
        return f"{self.caption()}\n\n{self.markdown()}"

    def _repr_latex_(self):
        headers = [r"\text{" + h.replace("%", r"\%") + "}" for h, _ in COLUMNS]
        body = [" & ".join(headers)] + [" & ".join(r"\text{" + c + "}" for c in r) for r in self.cells()]
        return "$$\\begin{array}{" + "r" * len(COLUMNS) + "}" + r" \\ ".join(body) + r"\end{array}$$"

    def plot(self):
        """Four panels against width: derivation time, operation counts, evaluation time, error."""
        from matplotlib.figure import Figure

        widths = [m.width for m in self.rows]
        fig = Figure(figsize=(11, 8), layout="constrained")
        axes = fig.subplots(2, 2)
        panels = [
            (axes[0, 0], "derivation time (s)", [("sympy.diff", "derive_diff", 1), ("reverse", "derive_reverse", 1),
                                                  ("compile", "compile", 1)]),
            (axes[0, 1], "operations in the gradient", [("naive diff (tree)", "ops_naive", 1),
                                                        ("diff + CSE", "ops_cse", 1), ("reverse", "ops_reverse", 1)]),
            (axes[1, 0], "loss + gradient per batch (ms)", [("symbolic kernel", "eval_symbolic", 1e3),
                                                            ("autodiff", "eval_autodiff", 1e3)]),
            (axes[1, 1], "max relative error vs mpmath", [("symbolic kernel", "error_symbolic", 1),
                                                          ("autodiff", "error_autodiff", 1)]),
        ]
        for ax, title, series in panels:
            for label, attr, scale in series:
                ax.plot(widths, [max(scale * getattr(m, attr), 1e-18) for m in self.rows], marker="o", label=label)
            ax.set_yscale("log")
            ax.set_xscale("log", base=2)
            ax.set_xticks(widths, [str(w) for w in widths])
            ax.minorticks_off()
            ax.set_xlabel("hidden width")
            ax.set_title(title)
            ax.legend()
        fig.suptitle(f"symbolic vs autodiff: the {self.family} family")
        return fig
