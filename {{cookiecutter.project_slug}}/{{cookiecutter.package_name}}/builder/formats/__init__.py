"""Output formats of ``manifest``: each a pure function ``(entries, selection, context) -> text``.

The text comes in pieces (a list, or a generator for the JSON document), so that a large
manifest's output never exists twice in memory; whoever writes it joins them.

``entries`` are the selected ones, in the order asked for; ``selection`` is what was asked;
``context`` holds the rest a format may need (the whole matrix for the grid, where self-commands
point, the array job and its groups, the terminal). A format never looks at the file system.

An array format (``--slurm``, ``--sge``, ...) reads two fields, both engine-neutral (see
``submission``): ``array_job``, the choices every engine shares (project root, output folder,
permutations per task, array limit and size cap), and ``array_groups``, one ``ArrayGroup`` per
distinct resource set in the selection: its ``Resources`` (cpus, mem, time, partition, gpus;
None is the cluster's default), its plan file, its permutation and task counts, and the
``build --jobs`` of its tasks. An engine submits one array (or several, cut by the size cap) per
group and renders the group's resources in its own options; a group's resources it cannot
express are a ``UsageError`` naming the value, raised before any plan is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import import_module
from typing import TYPE_CHECKING, NamedTuple

from ..manifest.entries import Entry
from ..manifest.selection import Selection

if TYPE_CHECKING:
    from ..engines.submission import ArrayGroup, ArrayJob


class Context(NamedTuple):
    """What a format may need beyond the entries and the selection."""

    everything: list[Entry]  # the whole matrix: the grid shows the cells around a selection
    command_folder: str  # the output folder as self-commands name it
    force: bool = False  # self-commands rebuild done permutations
    stale: bool = False  # the entries were checked for staleness (``--stale``)
    array_job: ArrayJob | None = None  # an array format's shared choices
    array_groups: tuple[ArrayGroup, ...] = ()  # an array format's arrays: one per resource set
    width: int = 80  # of the terminal, for the grid
    colour: bool = False


Format = Callable[[list[Entry], Selection, Context], Iterable[str]]


# Each output's name (its flag) -> the module and function that write it. A module is imported
# only when its output is asked for, so the table never pays for the grid's or SLURM's imports.
FORMATS = {
    "table": (".table", "format_table"),
    "commands": (".commands", "format_commands"),
    "json": (".document", "format_json"),
    "grid": (".grid", "format_grid"),
    "slurm": ("..engines.slurm", "format_slurm"),
    "sge": ("..engines.sge", "format_sge"),
    "pbs": ("..engines.pbs", "format_pbs"),
    "lsf": ("..engines.lsf", "format_lsf"),
    "kubernetes": ("..engines.kubernetes", "format_kubernetes"),
    "aws-batch": ("..engines.aws_batch", "format_aws_batch"),
}


def format_of(name: str) -> Format:
    """The format function of one output."""
    module, function = FORMATS[name]
    writer: Format = getattr(import_module(module, __name__), function)
    return writer


def formats() -> dict[str, Format]:
    """Every output's format function, by name."""
    return {name: format_of(name) for name in FORMATS}
