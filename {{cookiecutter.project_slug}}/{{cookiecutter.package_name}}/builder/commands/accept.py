"""``accept``: take built artifacts as they are, recording today's inputs, registry entry, code and
libraries as their provenance without rebuilding them; ``accept --stale`` is the common case.

It refuses, in one line and before touching anything, a selection holding anything not done or
with a rebuild pending (REDO); an artifact a builder locks meanwhile is reported busy (exit 3).
Artifacts up to date are left as they are. The gathers are accepted after their members, whose
provenance (and so whose fingerprint, for a SQLite artifact) accepting changed: a gather up to
date before is accepted too, so that accepting never leaves one stale.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from .. import layout, status
from ..ids import UsageError
from ..manifest import selection
from ..manifest.entries import Entry
from ..manifest.selection import Selection
from .shared import add_output_folder, nothing

if TYPE_CHECKING:
    from ..building.outcome import Outcome

STALE = frozenset({"stale"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_output_folder(parser)
    selection.add_arguments(parser)


def _refuse_unaccepted(entries: list[Entry]) -> None:
    """Only an artifact in place, with no rebuild of it pending or running, can be accepted."""
    refused = [e for e in entries if not e["done"] or status.state_of(e["status"]) == status.REDO]
    if refused:
        shown = ", ".join(f"{e['permutation_id']} ({e['status']})" for e in refused[:3])
        more = f" and {len(refused) - 3} more" if len(refused) > 3 else ""
        raise UsageError(
            f"accept takes built artifacts with no rebuild pending; the selection holds {shown}"
            f"{more}: select with --stale (or --done), or build them"
        )


def run(args: argparse.Namespace) -> int:
    from ..building.accepting import accept

    chosen = selection.from_args(args)
    output_dir = layout.output_folder(args.output_folder)
    # Staleness is read whatever the selection: what each artifact was stale for is recorded.
    found = selection.matrix(output_dir, chosen._replace(statuses=STALE), sizes=False)
    entries = selection.select(found.entries, chosen)
    gathered = selection.select_gathers(found.gathers, chosen)
    _refuse_unaccepted([*entries, *gathered])
    outcomes = [accept(entry, output_dir, entry["stale"]) for entry in entries if "stale" in entry]
    # Accepting a member rewrites it: a gather fresh before is accepted too, never left stale.
    fresh = {e["permutation_id"] for e in found.gathers if e["done"] and "stale" not in e}
    wanted = {e["permutation_id"] for e in gathered} | (fresh if outcomes else set())
    if wanted:
        outcomes += _accept_gathers(output_dir, wanted)
    if not outcomes:
        return nothing("accept: every selected artifact is up to date; nothing written")
    for outcome in outcomes:
        line = f"{outcome.permutation_id}: {outcome.result}, {outcome.message}"
        print(line if outcome.result == "accepted" else f"error: {line}", file=sys.stderr)
    counts = Counter(outcome.result for outcome in outcomes)
    print(f"accept: {', '.join(f'{n} {r}' for r, n in counts.items())}", file=sys.stderr)
    return max(outcome.code for outcome in outcomes)


def _accept_gathers(output_dir: Path, ids: set[str]) -> list[Outcome]:
    """The selected gathers stale now, their members (accepted just before) read afresh."""
    from ..building.accepting import accept
    from ..manifest import gathers

    found = selection.matrix(output_dir, Selection(statuses=STALE), sizes=False)
    outcomes = []
    for entry in found.gathers:
        if entry["permutation_id"] in ids and "stale" in entry:
            members = gathers.members(gathers.target_of(entry), found.entries)
            outcomes.append(accept({**entry, "members": members}, output_dir, entry["stale"]))
    return outcomes
