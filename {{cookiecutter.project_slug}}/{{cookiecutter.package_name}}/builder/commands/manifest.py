"""``manifest``: every permutation and its build status, as a table, commands, JSON or a grid;
the gathers after them; on request the orphans or the excluded pairs instead.

One path for every output: the entries (``manifest/entries``), one ``Selection`` that picks them,
and a format from ``formats/`` that writes them. It writes nothing but its output, except the
provenance cache that ``--stale`` keeps.
"""

from __future__ import annotations

import argparse
import sys

from .. import axes, layout
from ..formats import Context, format_of
from ..ids import UsageError
from ..manifest import orphans, selection
from .shared import add_output_folder, nothing

# The output flags and what each prints (the format of the same name; none: a table).
SHAPES = {
    "commands": "print one build command per permutation",
    "json": "print one JSON document: each permutation's status, artifact, costs and command",
    "grid": f"print the matrix: a row per {axes.INPUT_AXIS}, a column per {axes.PARAM_AXIS}",
}
# The outputs that carry --force into the commands they write.
FORCED = ("commands", "json")
# What may be listed instead of the permutations, with a table or JSON.
LISTINGS = {
    "orphans": "list the orphans: artifacts, stages and sidecars of pairs (or gathers) the"
    " matrix no longer has (`clean` removes them)",
    "excluded": "list the pairs pipeline.exclude leaves out, with their reasons",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_output_folder(parser)
    selection.add_arguments(parser)
    shape = parser.add_mutually_exclusive_group()
    for name, text in SHAPES.items():
        shape.add_argument(f"--{name}", dest="shape", action="store_const", const=name, help=text)
    parser.add_argument(
        "--force", action="store_true", help="with --commands or --json: add --force"
    )
    parser.add_argument(
        "--measured",
        action="store_true",
        help="each permutation's estimated seconds, learned from what built ones measured, and"
        " what it measured once built: cheapest first by the estimate (reads their provenance)",
    )
    listed = parser.add_mutually_exclusive_group()
    for name, text in LISTINGS.items():
        listed.add_argument(
            f"--{name}", dest="listing", action="store_const", const=name, help=text
        )


def run(args: argparse.Namespace) -> int:
    if args.force and args.shape not in FORCED:
        raise UsageError("--force only applies with --commands or --json")
    if args.listing and args.shape not in (None, "json"):
        raise UsageError(f"--{args.listing} lists with the table or --json, not --{args.shape}")
    chosen = selection.from_args(args)
    asked = chosen._replace(limit=None) if args.measured else chosen  # sorted by estimate first
    output_dir = layout.output_folder(args.output_folder)
    found = selection.matrix(output_dir, chosen, sizes=args.shape == "json")  # JSON shows sizes
    entries = found.entries
    selected = [] if args.listing else selection.select(entries, asked)
    gathered = [] if args.listing else selection.select_gathers(found.gathers, chosen)
    listed = args.listing == "orphans" or args.shape == "json"
    orphaned = orphans.find(found, output_dir) if listed else None
    if args.listing == "orphans" and not orphaned:
        return nothing("manifest: no orphan in the output folder")
    if args.listing == "excluded" and not found.excluded:
        return nothing("manifest: the pipeline excludes no pair")
    if not (selected or gathered or args.listing):
        return nothing("manifest: no permutation matches the selection; nothing written")
    if args.measured:
        from ..manifest import history

        selected = history.with_measurements(output_dir, selected, sort=chosen.sort)
        selected = selected[: chosen.limit]
    width, colour = 80, False
    if args.shape == "grid":
        from ..terminal import terminal_style

        width, colour = terminal_style(sys.stdout)
    context = Context(
        everything=entries,
        command_folder=layout.command_folder(output_dir),
        force=args.force,
        stale=chosen.stale,
        width=width,
        colour=colour,
        gathers=gathered,
        excluded=found.excluded,
        orphans=orphaned if orphaned is not None else orphans.count(found, output_dir),
        listing=args.listing,
    )
    sys.stdout.writelines(format_of(args.shape or "table")(selected, chosen, context))
    return 0
