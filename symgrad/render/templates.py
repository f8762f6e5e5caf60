"""Finding and loading the jinja2 templates (installed inside the wheel, or in a source checkout)."""

from functools import cache
from pathlib import Path

import jinja2


def template_dir():
    """`symgrad/templates` in an installed wheel, else the checkout's top-level `templates/`."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("symgrad's templates/ folder is missing from this installation")


@cache
def environment():
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(name, **context):
    return environment().get_template(name).render(**context)
