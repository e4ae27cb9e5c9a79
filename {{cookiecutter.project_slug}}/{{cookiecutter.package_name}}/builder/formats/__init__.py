"""Output formats of ``manifest``: each a pure function ``(entries, selection, context) -> str``.

``entries`` are the selected ones, in the order asked for; ``selection`` is what was asked;
``context`` holds the rest a format may need (the whole matrix for the grid, where self-commands
point, the SLURM choices, the terminal). A format never looks at the file system.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..manifest import Entry
from ..selection import Selection

if TYPE_CHECKING:
    from .slurm import SlurmJob


@dataclass(frozen=True)
class Context:
    """What a format may need beyond the entries and the selection."""

    everything: list[Entry]  # the whole matrix: the grid shows the cells around a selection
    command_folder: str  # the output folder as self-commands name it
    force: bool = False  # self-commands rebuild done permutations
    slurm: SlurmJob | None = None
    width: int = 80  # of the terminal, for the grid
    colour: bool = False


Format = Callable[[list[Entry], Selection, Context], str]


def formats() -> dict[str, Format]:
    """Each output's name (its flag) and function; imported on demand, so a table loads no JSON."""
    from . import commands, document, grid, slurm, table

    return {
        "table": table.format_table,
        "commands": commands.format_commands,
        "json": document.format_json,
        "grid": grid.format_grid,
        "slurm": slurm.format_slurm,
    }
