"""Output formats of ``manifest``: each a pure function ``(entries, selection, context) -> text``.

The text comes in pieces (a list, or a generator for the JSON document), so that a large
manifest's output never exists twice in memory; whoever writes it joins them.

``entries`` are the selected ones, in the order asked for; ``selection`` is what was asked;
``context`` holds the rest a format may need (the whole matrix for the grid, where self-commands
point, the terminal). A format never looks at the file system. The engines' files, which ``plan``
writes, live with the engines (``engines/``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import import_module
from typing import NamedTuple

from ..manifest.entries import Entry, Excluded
from ..manifest.orphans import Orphan
from ..manifest.selection import Selection


class Context(NamedTuple):
    """What a format may need beyond the entries and the selection."""

    everything: list[Entry]  # the whole matrix: the grid shows the cells around a selection
    command_folder: str  # the output folder as self-commands name it
    force: bool = False  # self-commands rebuild done permutations
    stale: bool = False  # the entries were checked for staleness (``--stale``)
    width: int = 80  # of the terminal, for the grid
    colour: bool = False
    generated: str | None = None  # when the output was made, for those that say it (the report)
    gathers: Sequence[Entry] = ()  # the selected gathers' entries
    excluded: Mapping[str, Excluded] = {}  # every pair left out, by permutation id
    orphans: int | Sequence[Orphan] = 0  # how many, or each of them when they were listed
    listing: str | None = None  # "orphans" or "excluded": list those instead of the entries


Format = Callable[[list[Entry], Selection, Context], Iterable[str]]


# Each output's name (its flag) -> the module and function that write it. A module is imported
# only when its output is asked for, so the table never pays for the grid's or JSON's imports.
FORMATS = {
    "table": ("table", "format_table"),
    "commands": ("commands", "format_commands"),
    "json": ("document", "format_json"),
    "grid": ("grid", "format_grid"),
    "report": ("report", "format_report"),
}


def format_of(name: str) -> Format:
    """The format function of one output."""
    module, function = FORMATS[name]
    writer: Format = getattr(import_module(f".{module}", __name__), function)
    return writer


def formats() -> dict[str, Format]:
    """Every output's format function, by name."""
    return {name: format_of(name) for name in FORMATS}
