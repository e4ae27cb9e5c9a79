"""Jinja filters for cookiecutter.json: the English plural rule, once for both axes' plurals.

cookiecutter imports this module from the template's root for the `_extensions` it names.
"""

from __future__ import annotations

from jinja2 import Environment
from jinja2.ext import Extension


def plural(word: str) -> str:
    """The regular English plural: model -> models, batch -> batches, category -> categories."""
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in ("", "a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    return word + "s"


class PluralExtension(Extension):
    """Adds the `plural` filter, the default of input_axis_plural and param_axis_plural."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["plural"] = plural
