"""Staleness on request: built artifacts whose provenance no longer matches what a rebuild uses.

Three reasons, each naming what changed: an input file (by its fingerprint), the parameter's
registry entry (any key but ``cost``, which only orders builds), the pipeline's code. An artifact
without provenance the builder can trust is stale too, since nothing vouches for it. The cost is
one provenance read per built artifact, paid by ``manifest --stale`` and ``show`` only.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import axes, provenance
from .kinds import KIND, Document, MissingProvenance
from .manifest import Entry

INPUT_CHANGED = "input changed"
PARAM_CHANGED = "parameter changed"
CODE_CHANGED = "pipeline code changed"
NO_PROVENANCE = "no provenance"


class Today:
    """What a rebuild would use now, each part computed once however many artifacts share it."""

    def __init__(self) -> None:
        self.mode = provenance.fingerprint_mode()
        self._inputs: dict[str, list[Document]] = {}
        self._params: dict[str, Document] = {}

    def inputs(self, input_id: str) -> list[Document]:
        if input_id not in self._inputs:
            self._inputs[input_id] = provenance.fingerprint_inputs(input_id, self.mode)
        return self._inputs[input_id]

    def param(self, name: str) -> Document:
        if name not in self._params:
            self._params[name] = provenance.registry_entry(name)
        return self._params[name]

    def reasons(self, recorded: Document, input_id: str, param: str) -> list[str]:
        """Why an artifact with this provenance is stale; empty if it is up to date."""
        reasons = []
        files = changed_inputs(recorded.get("inputs") or [], self.inputs(input_id))
        if files:
            reasons.append(f"{INPUT_CHANGED}: {', '.join(files)}")
        keys = changed_keys(recorded.get("param") or {}, self.param(param))
        if keys:
            reasons.append(f"{PARAM_CHANGED}: {', '.join(keys)}")
        if (recorded.get("pipeline") or {}).get("sha256") != provenance.code_fingerprint():
            reasons.append(CODE_CHANGED)
        return reasons


def same_file(then: Document, now: Document) -> bool:
    """Content hashes if both sides have one (``FINGERPRINT = "content"``), else size and mtime."""
    if then.get("size") != now.get("size"):
        return False
    if "sha256" in then and "sha256" in now:
        return bool(then["sha256"] == now["sha256"])
    return bool(then.get("mtime_ns") == now.get("mtime_ns"))


def changed_inputs(then: list[Document], now: list[Document]) -> list[str]:
    """The input files that differ, as recorded paths with a note when one came or went."""
    before = {str(f["path"]): f for f in then}
    after = {str(f["path"]): f for f in now}
    changed = []
    for path, current in after.items():
        old = before.get(path)
        if old is None:
            changed.append(f"{path} (new)")
        elif current.get("missing"):
            changed.append(f"{path} (gone)")
        elif not same_file(old, current):
            changed.append(path)
    changed.extend(f"{path} (no longer an input)" for path in before if path not in after)
    return changed


def changed_keys(then: Document, now: Document) -> list[str]:
    """Keys whose values differ as JSON keeps them: ``1`` and ``True`` are not the same value."""
    keys = (set(then) | set(now)) - {"cost"}
    return sorted(k for k in keys if _as_json(then, k) != _as_json(now, k))


def _as_json(document: Document, key: str) -> str | None:
    return json.dumps(document[key], sort_keys=True) if key in document else None


def stale_reasons(entry: Entry, today: Today) -> list[str]:
    """Why a built permutation is stale (empty: up to date), from its artifact's provenance."""
    try:
        recorded = KIND.read_provenance(Path(entry["output_path"]))
    except MissingProvenance as why:
        return [f"{NO_PROVENANCE}: {why}"]
    return today.reasons(recorded, entry[axes.INPUT_KEY], entry[axes.PARAM_KEY])


def mark_stale(entries: list[Entry]) -> None:
    """Give every entry ``stale`` (reasons, or None if not built); stale ones get status STALE.

    A stale artifact being rebuilt right now keeps its BUILD status: its rebuild is under way.
    """
    today = Today()
    for entry in entries:
        reasons = stale_reasons(entry, today) if entry["done"] else None
        entry["stale"] = reasons
        if reasons and not entry["status"].startswith("BUILD"):
            entry["status"] = "STALE"
