"""Staleness on request: built artifacts whose provenance no longer matches what a rebuild uses.

Three reasons, each naming what changed: an input file (by its fingerprint), the parameter's
registry entry (any key but ``cost`` and ``resources``, which only order builds and say where they
run), the pipeline's code. An artifact without provenance the builder can trust is stale too,
since nothing vouches for it. The cost is one provenance read per built artifact, paid by
``manifest --stale`` and ``show`` only, and by ``manifest --stale`` only once while the artifact
is unchanged (``provenance_cache``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from .. import axes, status
from ..pipeline_module import RESOURCES
from . import fingerprints
from .entries import Entry
from .provenance_cache import ProvenanceCache, Recorded, canonical, recorded_parts
from .recorded import Document, MissingProvenance

# Registry keys that say how and where a permutation builds, never what: a change rebuilds nothing.
NOT_BUILT_FROM = frozenset({"cost", RESOURCES})

INPUT_CHANGED = "input changed"
PARAM_CHANGED = "parameter changed"
CODE_CHANGED = "pipeline code changed"
NO_PROVENANCE = "no provenance"

# Why an artifact is stale, empty if it is not. A tuple: the reasons of one input's files or one
# registry entry are made once and shared by every artifact they apply to, never copied.
Reasons = tuple[str, ...]


class Today:
    """What a rebuild would use now, each part computed once however many artifacts share it."""

    def __init__(self) -> None:
        self.mode = fingerprints.fingerprint_mode()
        self._inputs: dict[str, list[Document]] = {}
        self._params: dict[str, Document] = {}
        # Artifacts of one input record the same files, those of one parameter the same entry:
        # each distinct record is compared with today's once.
        self._input_reasons = functools.cache(self._compare_inputs)
        self._param_reasons = functools.cache(self._compare_param)
        self._code = canonical(fingerprints.code_fingerprint())

    def inputs(self, input_id: str) -> list[Document]:
        if input_id not in self._inputs:
            self._inputs[input_id] = fingerprints.fingerprint_inputs(input_id, self.mode)
        return self._inputs[input_id]

    def param(self, name: str) -> Document:
        if name not in self._params:
            self._params[name] = fingerprints.registry_entry(name)
        return self._params[name]

    def reasons(self, recorded: Document, input_id: str, param: str) -> Reasons:
        """Why an artifact with this provenance is stale; empty if it is up to date."""
        return self.recorded_reasons(recorded_parts(recorded), input_id, param)

    def recorded_reasons(self, recorded: Recorded, input_id: str, param: str) -> Reasons:
        inputs, param_entry, code = recorded
        reasons = self._input_reasons(inputs, input_id) + self._param_reasons(param_entry, param)
        return reasons if code == self._code else (*reasons, CODE_CHANGED)

    def _compare_inputs(self, recorded: str, input_id: str) -> Reasons:
        files = changed_inputs(json.loads(recorded), self.inputs(input_id))
        return (f"{INPUT_CHANGED}: {', '.join(files)}",) if files else ()

    def _compare_param(self, recorded: str, param: str) -> Reasons:
        keys = changed_keys(json.loads(recorded), self.param(param))
        return (f"{PARAM_CHANGED}: {', '.join(keys)}",) if keys else ()


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
    keys = (set(then) | set(now)) - NOT_BUILT_FROM
    return sorted(k for k in keys if _as_json(then, k) != _as_json(now, k))


def _as_json(document: Document, key: str) -> str | None:
    return json.dumps(document[key], sort_keys=True) if key in document else None


def mark_stale(entries: list[Entry], output_dir: Path) -> None:
    """Give each built entry found out of date ``stale``, its reasons, and status STALE.

    A built artifact without provenance to trust is stale. An artifact with a rebuild pending
    keeps its REDO status: the rebuild is what it needs. Other entries are left as they are, no
    key added: a missing one is not built, a built one up to date.
    """
    today = Today()
    with ProvenanceCache(output_dir) as cache:
        for entry in entries:
            if not entry["done"]:
                continue
            reasons: Reasons
            try:
                recorded = cache.recorded(entry["permutation_id"])
            except MissingProvenance as why:
                reasons = (f"{NO_PROVENANCE}: {why}",)
            else:
                reasons = today.recorded_reasons(
                    recorded, entry[axes.INPUT_KEY], entry[axes.PARAM_KEY]
                )
            if reasons:
                entry["stale"] = reasons
                entry["status"] = status.with_staleness(entry["status"])
