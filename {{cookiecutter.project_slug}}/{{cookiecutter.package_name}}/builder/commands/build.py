"""``build``: the selected permutations (default: every one not done), cheapest first, each staged
and moved into place atomically, then the gathers that need it; or, for an array task, its lines
of a plan.

The build side (``building/``) is imported only once there is something to build: a permutation
that is done is answered from one ``stat``, at the cost of an info command.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .. import layout, status
from ..engines import array_options
from ..ids import UsageError
from ..manifest import selection
from ..manifest.entries import Entry, pair_entries, permutation_entry
from ..manifest.selection import Selection, positive_int
from .shared import nothing

if TYPE_CHECKING:
    from ..building.overall import Verbosity
    from ..manifest.history import Estimator

# What it tells on stderr beyond its progress (neither flag: "normal").
VERBOSITY = {
    "quiet": "only warnings, errors and the final summary on stderr",
    "verbose": "each phase's lines too, for a build over many permutations",
}
# What it builds when no status is asked for: what is not done, or done with a rebuild pending;
# with --force, everything selected.
NEEDS_BUILD = frozenset({"missing", "fail"})
# The exit codes of a build that a stop signal ended (SIGHUP, SIGINT, SIGQUIT, SIGTERM): no
# gather is built after one.
INTERRUPTED = (129, 130, 131, 143)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output-folder", required=True, help="where the artifacts go (required)")
    selection.add_arguments(parser)
    parser.add_argument(
        "--force",
        action="store_true",
        help="rebuild even if done, dropping any staged partial build",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int("--jobs"),
        default=1,
        help="build up to N permutations at once, in N worker processes (default: 1)",
    )
    shown = parser.add_mutually_exclusive_group()
    for level, text in VERBOSITY.items():
        shown.add_argument(
            f"--{level}", dest="verbosity", action="store_const", const=level, help=text
        )
    parser.set_defaults(verbosity="normal")
    array_options.add_task_arguments(parser)


def run(args: argparse.Namespace) -> int:
    output_dir = layout.output_folder(args.output_folder)
    chosen = selection.from_args(args)
    if args.plan is not None or args.task_index is not None or args.task_ended is not None:
        return _build_planned(args, output_dir, chosen)
    force = args.force or chosen.stale  # a stale artifact is done: rebuilding it is forcing it
    pair = chosen.single_pair()
    if pair is not None:  # one permutation: answered without listing the output folder
        # (a done one with a leftover stage goes to the runner, which clears it)
        entry = permutation_entry(output_dir, *pair)
        leftover = layout.staging_dir(output_dir, entry["permutation_id"]).is_dir()
        if status.state_of(entry["status"]) == status.DONE and not (force or leftover):
            done = f"{entry['permutation_id']} is done: {entry['output_path']}"
            return nothing(f"{done} (--force rebuilds it)")
        return _build([entry], output_dir, force=force, jobs=args.jobs, verbosity=args.verbosity)
    if not chosen.statuses and not force:
        chosen = chosen._replace(statuses=NEEDS_BUILD)
    found = selection.matrix(output_dir, chosen, sizes=False)
    entries, learned = _in_build_order(output_dir, found.entries, chosen)
    gathering = found.gathers and not (chosen.inputs or chosen.params or chosen.shard)
    if not (entries or gathering):
        selection.refuse_unmatched(chosen, found.entries)
        return nothing("build: no selected permutation needs a build (--force rebuilds)")
    code = 0
    if entries:
        code = _build(
            entries,
            output_dir,
            force=force,
            jobs=args.jobs,
            verbosity=args.verbosity,
            learned=learned,
        )
    if not gathering or code in INTERRUPTED:
        return code
    stale = frozenset(e["permutation_id"] for e in found.gathers if "stale" in e)
    return _build_gathers(output_dir, chosen, force, stale, args.verbosity, entries) or code


def _in_build_order(
    output_dir: Path, everything: list[Entry], chosen: Selection
) -> tuple[list[Entry], Estimator | None]:
    """The selected entries, cheapest first by what earlier builds measured when they measured
    any (and what they learned, for the ETA), cut to ``--limit`` after that order."""
    entries = selection.select(everything, chosen._replace(limit=None))
    learned: Estimator | None = None
    if len(entries) > 1:
        from ..manifest import history

        learned = history.learned(output_dir, everything)
        if chosen.sort == "size":
            entries = history.cheapest_first(entries, learned)
    return entries[: chosen.limit], learned


def _build_gathers(
    output_dir: Path,
    chosen: Selection,
    force: bool,
    stale: frozenset[str],
    verbosity: Verbosity,
    built: list[Entry],
) -> int:
    """The gathers that need a build, once their members are built."""
    from .. import interrupts
    from ..building.gathering import to_build
    from ..building.runner import build_all

    picked, forced = to_build(output_dir, chosen, force=force, stale=stale)
    if not picked:
        if built:
            return 0
        return nothing("build: nothing selected needs a build (--force rebuilds)")
    interrupts.handle_stops()
    return build_all(picked, output_dir, force=force, verbosity=verbosity, forced=forced)


def _build_planned(args: argparse.Namespace, output_dir: Path, chosen: Selection) -> int:
    """An array task: the permutations of its index in the plan, in order."""
    if args.plan is None or args.task_index is None:
        raise UsageError("--plan and --task-index go together: an array task needs both")
    if chosen != Selection():
        raise UsageError("--plan builds what the plan lists: drop the selectors")
    if args.task_index < 0:
        raise UsageError(f"--task-index {args.task_index} is not a whole number of at least 0")
    from .. import scheduler
    from ..engines.plan import read_task

    task = read_task(Path(args.plan), args.task_index, args.per_task)
    if task.resources is not None:  # each build records what its task asked for
        scheduler.pass_on(task.resources)
    entries = pair_entries(output_dir, task.pairs)
    if args.task_ended is not None:  # the task's wrapper, after its build was killed
        from ..building.task_end import record_end

        return record_end(entries, output_dir, args.task_ended)
    force = args.force or task.force
    return _build(entries, output_dir, force=force, jobs=args.jobs, verbosity=args.verbosity)


def _build(
    entries: list[Entry],
    output_dir: Path,
    *,
    force: bool,
    jobs: int,
    verbosity: Verbosity,
    learned: Estimator | None = None,
) -> int:
    """On a pool of ``jobs`` workers, or in this process; from here on, a scheduler's SIGTERM (or
    SIGHUP, SIGQUIT) unwinds the build like Ctrl-C (before, it stops a process that has written
    nothing). ``learned``: what earlier builds measured, which the ETA starts from."""
    from .. import interrupts

    interrupts.handle_stops()
    if jobs > 1 and len(entries) > 1:
        from ..building.pool import build_in_pool

        return build_in_pool(
            entries, output_dir, force=force, jobs=jobs, verbosity=verbosity, learned=learned
        )
    from ..building.runner import build_all

    return build_all(entries, output_dir, force=force, verbosity=verbosity, learned=learned)
