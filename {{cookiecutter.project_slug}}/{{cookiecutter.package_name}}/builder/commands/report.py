"""``report``: one self-contained HTML file of the selected permutations (default: all): the
matrix as a grid (the excluded pairs marked in it), each permutation's detail on click, the
gathers and the orphans as ``manifest`` counts them, time and memory per parameter, and a timeline
of builds. Written atomically; its path goes to stdout."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from .. import layout
from ..atomic import atomic_publish
from ..formats import Context
from ..formats.report import format_report
from ..ids import UsageError
from ..manifest import orphans, selection
from ..manifest.details import detailed, detailed_gathers
from ..manifest.stale import mark_stale
from .shared import add_output_folder, nothing

REPORT_NAME = "_report.html"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_output_folder(parser)
    selection.add_arguments(parser)
    parser.add_argument(
        "--to",
        metavar="FILE",
        help=f"where to write it (default: {REPORT_NAME} in the output folder)",
    )


def run(args: argparse.Namespace) -> int:
    chosen = selection.from_args(args)
    output_dir = layout.output_folder(args.output_folder)
    found = selection.matrix(output_dir, chosen, sizes=True)
    everything = found.entries
    if not chosen.stale:  # the report says what is stale whatever it selects
        mark_stale(everything, output_dir, found.gathers)
    selected = selection.select(everything, chosen)
    gathered = selection.select_gathers(found.gathers, chosen)
    if not (selected or gathered):  # as manifest: a selection of gathers alone is a report
        return nothing("report: no permutation matches the selection; nothing written")
    target = Path(args.to) if args.to else output_dir / REPORT_NAME
    context = Context(
        everything=everything,
        command_folder=layout.command_folder(output_dir),
        stale=True,
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        gathers=detailed_gathers(output_dir, gathered),
        excluded=found.excluded,
        orphans=orphans.find(found, output_dir),
    )
    page = "".join(format_report(detailed(output_dir, selected), chosen, context))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_publish(target, page.encode())
    except OSError as error:
        raise UsageError(f"cannot write the report '{target}': {error.strerror}") from None
    print(target)
    return 0
