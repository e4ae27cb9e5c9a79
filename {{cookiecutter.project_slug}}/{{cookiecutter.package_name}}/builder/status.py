"""The one status model: what state a permutation is in, from its artifact and its stage.

Every view asks ``classify`` (the manifest's entries, and so the table, the grid, the JSON document,
``show``), and so does ``build`` when it decides whether a permutation is done. The states:

    MISS              no artifact, no stage
    BUILD [k/N] phase no artifact; a live builder holds the stage's lock
    FAIL [k/N] phase  no artifact; a stage whose builder stopped (its error, or killed)
    DONE              the artifact, and no stage (or only the leftover of a build that had
                      already moved its artifact into place when it was killed)
    REDO [k/N] phase  the artifact, and a stage: a rebuild (--force) under way, or stopped
    STALE             the artifact, which ``manifest --stale`` found out of date

``done`` is true exactly when the artifact is in place: DONE, REDO and STALE. An artifact found
out of date keeps REDO if a rebuild of it failed or stopped: it is stale and has a rebuild pending,
and ``--stale`` selects it as ``show`` calls it. Beside the permutations, the manifest names:

    EXCL              a pair the pipeline's ``exclude`` says does not apply: never built
    ORPHAN            an artifact, stage or sidecar whose pair is no longer in the matrix
"""

from __future__ import annotations

import functools
from typing import NamedTuple

MISS, BUILD, FAIL, DONE, REDO, STALE = "MISS", "BUILD", "FAIL", "DONE", "REDO", "STALE"
EXCLUDED, ORPHAN = "EXCL", "ORPHAN"
KILLED = "no error recorded: the builder was killed"
# What a build notes in its lock: the phase it is finishing in, then the file it moves into place
# (``<inode> <final path>``), then that its artifact is in place, before it removes its stage.
FINISHING, MOVING, PUBLISHED = "finishing", "moving", "published"


class Stage(NamedTuple):
    """What a staging dir says: a live builder or not, and its lock's record."""

    live: bool
    record: dict[str, str]


def classify(done: bool, stage: Stage | None, phases: int) -> tuple[str, str | None]:
    """The status (``STATE`` or ``STATE [k/N] phase``) and, for a stopped build, its error."""
    if stage is None or is_leftover(done, stage):
        return (DONE if done else MISS), None
    where = stage.record.get("phase", f"[0/{phases}] starting")
    state = REDO if done else (BUILD if stage.live else FAIL)
    if stage.live:
        return f"{state} {where}", None
    return f"{state} {where}", stage.record.get("error", KILLED)


def is_leftover(done: bool, stage: Stage) -> bool:
    """A dead stage whose build had moved its artifact into place: killed before it was removed.

    Its record says the artifact was ``published``, so nothing in it is worth keeping; ``build``
    removes it.
    """
    published = stage.record.get("phase", "").endswith(PUBLISHED)
    return done and not stage.live and published


def with_staleness(status: str) -> str:
    """The status of an artifact found out of date: STALE if it was DONE, else unchanged."""
    return STALE if status == DONE else status


def state_of(status: str) -> str:
    """The state word of a status: ``FAIL [2/3] fit_model`` -> ``FAIL``."""
    return status.split(" ", 1)[0]


def is_live(status: str, error: str | None) -> bool:
    """A builder is at work on it now: BUILD, or REDO with no error recorded."""
    state = state_of(status)
    return state == BUILD or (state == REDO and error is None)


@functools.cache  # asked once per entry, of a few distinct states: most entries are DONE or MISS
def names_of(status: str, error: str | None, done: bool, stale: bool = False) -> frozenset[str]:
    """The ``--status`` names that select a permutation in this state (an entry's status, error,
    done, and whether it was found stale): ``missing`` or ``done``, ``stale`` where it is, and
    ``build`` or ``fail`` where it is one (a stale REDO is both stale and build or fail)."""
    state = state_of(status)
    names = {"done"} if done else {"missing"}
    if state == STALE or (stale and done):
        names.add("stale")
    if is_live(status, error):
        names.add("build")
    elif state in (FAIL, REDO):
        names.add("fail")
    return frozenset(names)


STATUS_NAMES = ("missing", "done", "build", "fail", "stale")
