"""`model.summary()`: Keras's table of layers, output shapes and parameter counts."""


def _shape_text(shape):
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _bytes(n, itemsize):
    size = n * itemsize
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"


def summary_lines(model, line_length=65):
    """The table as lines: `Layer (type)`, `Output Shape`, `Param #`, then the totals."""
    widths = (int(line_length * 0.45), int(line_length * 0.33))
    widths += (line_length - sum(widths),)

    def row(a, b, c):
        return f"{a:<{widths[0]}}{b:<{widths[1]}}{c:>{widths[2]}}"

    lines = [f'Model: "{model.name}"', "_" * line_length, row("Layer (type)", "Output Shape", "Param #"),
             "=" * line_length]
    for k, layer in enumerate(model.layers):
        if k:
            lines.append("_" * line_length)
        lines.append(row(f"{layer.name} ({type(layer).__name__})", _shape_text(layer.output_shape),
                         f"{layer.count_params():,}"))
    lines.append("=" * line_length)
    trainable = sum(layer.count_params() for layer in model.layers)
    itemsize = max((w.dtype.as_numpy_dtype.itemsize for w in model.trainable_weights), default=8)
    lines += [f" Total params: {trainable:,} ({_bytes(trainable, itemsize)})",
              f" Trainable params: {trainable:,} ({_bytes(trainable, itemsize)})",
              f" Non-trainable params: 0 ({_bytes(0, itemsize)})", "_" * line_length]
    return lines
