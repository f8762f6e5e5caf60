"""Loading jinja2 templates: each package that renders text keeps its own in a `templates/` folder
beside its modules (`templates_beside(__file__)`), so a target's package holds its printer, its
renderers and its templates, and the wheel carries them as package data."""

from functools import cache
from pathlib import Path

import jinja2


def templates_beside(module_file):
    """The `templates/` folder next to the module `module_file` (pass `__file__`)."""
    return Path(module_file).resolve().with_name("templates")


@cache
def environment(folder):
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(folder, name, **context):
    """The template `name` from `folder` (see `templates_beside`), filled in with `context`."""
    return environment(folder).get_template(name).render(**context)
