"""What the report shows of each permutation, and each gather, beyond its manifest entry: what its
build measured (``history.traces``) and, for a stopped build, the last lines of its error log; for
a built gather, how many members its provenance records.

Error logs are read for stopped builds only, at most ``TAIL_BYTES`` of each and ``TAIL_BUDGET``
in all (the timestamps cut, so the same error in many builds is kept once by the report's
packing): past the budget a report names the log instead.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .. import layout
from . import history
from .entries import Entry
from .provenance_cache import ProvenanceCache
from .recorded import MissingProvenance

TAIL_LINES, TAIL_BYTES, TAIL_BUDGET = 20, 4096, 4 << 20
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d \[(\w+)\] ", re.MULTILINE)


def error_tail(path: Path) -> str | None:
    """The last lines of an error log, without their timestamps; None if there is none."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - TAIL_BYTES))
            text = handle.read().decode(errors="replace")
    except OSError:
        return None
    lines = text.splitlines()[-TAIL_LINES:] if size <= TAIL_BYTES else text.splitlines()[1:]
    tail = _STAMP.sub(r"[\1] ", "\n".join(lines[-TAIL_LINES:])).strip()
    return tail or None


def detailed(output_dir: Path, entries: list[Entry]) -> list[Entry]:
    """Each entry with its ``trace`` and, if its build stopped, its ``error_tail``."""
    traced = history.traces(output_dir, entries)
    spent = 0
    shown = []
    for entry in entries:
        permutation_id = entry["permutation_id"]
        extra: dict[str, object] = {"trace": traced.get(permutation_id)}
        if entry.get("reason") is not None and spent < TAIL_BUDGET:
            stage = layout.staging_dir(output_dir, permutation_id)
            tail = error_tail(layout.log_file(stage, permutation_id, "error"))
            spent += len(tail or "")
            extra["error_tail"] = tail
        shown.append({**entry, **extra})
    return shown


def detailed_gathers(output_dir: Path, gathered: list[Entry]) -> list[Entry]:
    """The gathers' entries as ``detailed`` makes the permutations' (their folder is laid out like
    the output folder), a built one's with ``members``: how many its provenance records, read
    through the provenance cache that judging their staleness has just filled."""
    if not gathered:
        return []
    folder = layout.gathers_folder(output_dir)
    shown = detailed(folder, gathered)
    with ProvenanceCache(folder) as cache:
        for entry in shown:
            if entry["done"]:
                entry["members"] = _members(cache, entry["permutation_id"])
    return shown


def _members(cache: ProvenanceCache, gather_id: str) -> int | None:
    try:
        *_, members = cache.recorded(gather_id)
    except MissingProvenance:
        return None
    summary = json.loads(members)
    return summary["count"] if summary else None
