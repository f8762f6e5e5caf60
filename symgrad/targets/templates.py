"""Finding and loading the jinja2 templates (beside the packages that render them)."""

from functools import cache
from pathlib import Path

import jinja2

# template family (the first part of a template's name) -> its folder under the package
FOLDERS = {"numpy": ("targets", "numpy"), "cuda": ("targets", "cuda"), "derivation": ("derivation",)}


def template_dirs():
    """Each family's `templates/` folder, beside the package that renders it (the wheel carries them)."""
    package = Path(__file__).resolve().parent.parent
    return {family: package.joinpath(*parts, "templates") for family, parts in FOLDERS.items()}


@cache
def environment():
    return jinja2.Environment(
        loader=jinja2.PrefixLoader({f: jinja2.FileSystemLoader(str(d)) for f, d in template_dirs().items()}),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(name, **context):
    return environment().get_template(name).render(**context)
