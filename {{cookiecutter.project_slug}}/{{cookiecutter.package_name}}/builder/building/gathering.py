"""Which gathers ``build`` builds once the permutations it was asked for are built.

A gather is built after its members, by a ``build`` over the whole matrix (no axis values, no
shard, no plan): those its selection asks for (by default the missing and failed ones), and, done
ones, those whose members changed since they were built, appeared or went away (with ``--stale``,
those stale for any reason; with ``--force``, every one). Each gets its done members, from one
listing of the output folder made after the permutations were built.
"""

from __future__ import annotations

from pathlib import Path

from .. import status
from ..manifest import gathers
from ..manifest.entries import Entry, survey
from ..manifest.recorded import RECORDED, MissingProvenance
from ..manifest.selection import Selection

# The statuses a gather is built for when a selection asks for them (``done`` alone rebuilds
# nothing without ``--force``, as for permutations).
REBUILT = frozenset({"missing", "fail", "stale"})


def members_changed(entry: Entry, members: list[gathers.Member]) -> bool:
    """A done gather whose recorded members are not today's done members (or has no record)."""
    try:
        recorded = RECORDED.read(Path(entry["output_path"]))
    except MissingProvenance:
        return True
    then = (recorded.get("members") or {}).get("digest")
    return bool(then != gathers.summary(gathers.fingerprints(members))["digest"])


def to_build(
    output_dir: Path, chosen: Selection, *, force: bool, stale: frozenset[str] = frozenset()
) -> tuple[list[Entry], frozenset[str]]:
    """The gathers to build now, each with its ``members``, and the ids of the done ones among
    them (rebuilt as with ``--force``). ``stale``: the gathers found stale before the build."""
    if not gathers.declared() or chosen.inputs or chosen.params or chosen.shard is not None:
        return [], frozenset()
    found = survey(output_dir, sizes=False)
    picked: list[Entry] = []
    for entry in found.gathers:
        members = gathers.members(gathers.target_of(entry), found.entries)
        gather_id = entry["permutation_id"]
        names = status.names_of(entry["status"], entry["error"], entry["done"], gather_id in stale)
        wanted = chosen.statuses & names & REBUILT
        if not (force or wanted or (entry["done"] and members_changed(entry, members))):
            continue
        picked.append({**entry, "members": members})
    return picked, frozenset(e["permutation_id"] for e in picked if e["done"])
