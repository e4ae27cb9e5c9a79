"""``clean``: remove the orphans of the output folder (artifacts, stages with their logs, sidecars
and gathers of pairs the matrix no longer has), and on request the stages of stopped builds, the
plan files and the stages a killed build left discarded.

It only shows what it would remove (a path a line on stdout) unless ``--yes`` is given; it never
touches anything outside the output folder, never follows a symbolic link, and leaves a stage whose
lock a live builder holds (exit 3).
"""

from __future__ import annotations

import argparse
import sys

from .. import layout
from ..manifest import selection
from ..manifest.selection import Selection
from .shared import add_output_folder, nothing

BUSY = 3  # the exit code of a build that finds its permutation locked, as here a stage

OPTIONS = {
    "failed": "the stages of stopped builds too (FAIL, and a stopped rebuild's): they lose their"
    " completed phases and logs",
    "plans": "the plan files too (output/_plans/), once the arrays that use them have finished",
    "discarded": "the stages a killed build left half-removed too (_build/.<id>.<pid>.discarded)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_output_folder(parser)
    for name, text in OPTIONS.items():
        parser.add_argument(f"--{name}", action="store_true", help=text)
    parser.add_argument("--yes", action="store_true", help="remove them (without: only list them)")


def run(args: argparse.Namespace) -> int:
    from ..building.cleaning import removals, remove, summary

    output_dir = layout.output_folder(args.output_folder)
    found = selection.matrix(output_dir, Selection(), sizes=False)
    chosen, refused, busy = removals(
        found, output_dir, failed=args.failed, plans=args.plans, discarded=args.discarded
    )
    for line in refused:
        print(f"clean: {line}", file=sys.stderr)
    if not chosen:
        nothing("clean: nothing to remove")
        return BUSY if busy else 0
    shown = summary(chosen)
    if not args.yes:
        sys.stdout.writelines(f"{layout.display_path(r.path)}\n" for r in chosen)
        print(f"clean: would remove {shown}; --yes removes them", file=sys.stderr)
        return BUSY if busy else 0
    kept = []
    for removal in chosen:
        path = layout.display_path(removal.path)
        problem = remove(removal)
        if problem is None:
            print(path)
        else:
            kept.append(removal)
            print(f"clean: kept {path}: {problem}", file=sys.stderr)
    removed = summary([removal for removal in chosen if removal not in kept])
    print(
        f"clean: removed {removed or 'nothing'}" + (f"; kept {summary(kept)}" if kept else ""),
        file=sys.stderr,
    )
    return BUSY if kept or busy else 0
