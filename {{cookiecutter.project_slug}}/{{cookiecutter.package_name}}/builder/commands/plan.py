"""``plan``: freeze the selection into plan files and print the file that submits it to an engine.

``manifest`` only reads; this command writes (plan files under ``<output>/_plans/``), so it has a
name of its own. Everything engine-specific is behind one call, ``engines.submission.write``.
"""

from __future__ import annotations

import argparse
import sys

from .. import layout
from ..engines import array_options, retry, submission
from ..manifest import selection
from .shared import add_output_folder, nothing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_output_folder(parser)
    selection.add_arguments(parser)
    parser.add_argument(
        "--force", action="store_true", help="the tasks rebuild done permutations too"
    )
    array_options.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    array_options.refuse_stray(args)
    chosen = selection.from_args(args)
    output_dir = layout.output_folder(args.output_folder)
    # Checked before the listing, so a mistake costs nothing.
    job = submission.job_of(args, output_dir)
    retrying = retry.from_args(args, chosen.statuses)
    everything = selection.matrix(output_dir, chosen, sizes=False).entries
    selected = selection.select(everything, chosen)
    if not selected:
        return nothing("plan: no permutation matches the selection; nothing written")
    learned = None
    if args.learn:
        from ..engines import sizing

        flagged = job.overrides.keys()
        learned = sizing.from_history(
            output_dir, everything, flagged=flagged, per_task=job.per_task
        )
    pieces = submission.write(
        args.engine,
        job,
        selected,
        force=args.force,
        retrying=retrying,
        command_folder=layout.command_folder(output_dir),
        sizing=learned,
    )
    if not pieces:
        return nothing("plan: no failure is worth retrying; nothing written")
    sys.stdout.writelines(pieces)
    return 0
