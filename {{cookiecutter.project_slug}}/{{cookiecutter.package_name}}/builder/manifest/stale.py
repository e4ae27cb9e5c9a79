"""Staleness on request: built artifacts whose provenance no longer matches what a rebuild uses.

Four reasons, each naming what changed: an input file (by its fingerprint), the parameter's
registry entry (any key but ``cost`` and ``resources``, which only order builds and say where they
run), the code the build ran (each function, method, value or table entry by name and file:
``code``), a library it imported (by version). An artifact without provenance the builder can
trust is stale too, since nothing vouches for it. The cost is one provenance read per built
artifact, paid by ``manifest --stale`` and ``show`` only, and by ``manifest --stale`` only once
while the artifact is unchanged (``provenance_cache``).

An artifact recorded before per-function fingerprints holds a whole-file ``pipeline.sha256``: it
stays fresh while pipeline.py is as it was (comments included) and is stale for its code once it
is not, since what it ran cannot be told.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import axes, layout, libraries, status
from ..pipeline_module import RESOURCES
from . import fingerprints, gathers
from .entries import Entry
from .provenance_cache import ProvenanceCache, Row, recorded_parts
from .recorded import RECORDED, Document, MissingProvenance

# Registry keys that say how and where a permutation builds, never what: a change rebuilds nothing.
NOT_BUILT_FROM = frozenset({"cost", RESOURCES})

INPUT_CHANGED = "input changed"
PARAM_CHANGED = "parameter changed"
CODE_CHANGED = "code changed"
LIBRARY_CHANGED = "library changed"
MEMBER_CHANGED = "member changed"
GATHER_CHANGED = "gather changed"
NO_PROVENANCE = "no provenance"
# What a record made before per-function fingerprints says when pipeline.py changed since.
LEGACY = "recorded before per-function code fingerprints"
# A reason names at most this many changed items, then how many more.
SHOWN = 5

# Why an artifact is stale, empty if it is not. A tuple: the reasons of one input's files or one
# registry entry are made once and shared by every artifact they apply to, never copied.
Reasons = tuple[str, ...]


def listed(names: list[str]) -> str:
    """``a, b, c`` or, past SHOWN names, ``a, b, c, d, e and 7 more``."""
    if len(names) <= SHOWN:
        return ", ".join(names)
    return f"{', '.join(names[:SHOWN])} and {len(names) - SHOWN:,} more"


class Today:
    """What a rebuild would use now, each part computed once however many artifacts share it."""

    def __init__(self) -> None:
        self.mode = fingerprints.fingerprint_mode()
        self.ignored = fingerprints.ignored_libraries()
        self._inputs: dict[str, list[Document]] = {}
        self._params: dict[str, Document] = {}
        # Artifacts of one input record the same files, those of one parameter the same entry and
        # mostly the same code: each distinct record is compared with today's once.
        self._input_reasons = functools.cache(self._compare_inputs)
        self._param_reasons = functools.cache(self._compare_param)
        self.code_reasons = functools.cache(self._compare_code)
        self.library_reasons = functools.cache(self._compare_libraries)
        self._built_reasons = functools.cache(self._compare_built)

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

    def recorded_reasons(self, recorded: Row, input_id: str, param: str) -> Reasons:
        inputs, param_entry, ran, found, _ = recorded
        return self._input_reasons(inputs, input_id) + self._built_reasons(
            param_entry, param, ran, found
        )

    def _compare_built(self, param_entry: str, param: str, ran: str, found: str) -> Reasons:
        """The reasons that artifacts of one parameter share: its entry, its code, its
        libraries; asked once per distinct record, however many artifacts hold it."""
        return (
            self._param_reasons(param_entry, param)
            + self.code_reasons(ran)
            + (self.library_reasons(found))
        )

    def source_reasons(self, recorded: Document, input_id: str, param: str) -> Reasons:
        """Why what a stage was begun from (its inputs, its registry entry) is not today's."""
        inputs, param_entry, *_ = recorded_parts(recorded)
        return self._input_reasons(inputs, input_id) + self._param_reasons(param_entry, param)

    def gather_reasons(
        self, recorded: Row, declared: Document, lines: list[str], read: Callable[[], Document]
    ) -> Reasons:
        """Why a gather is stale: its members (their fingerprints today as ``lines``; ``read``
        gives its whole record, to name the members that changed), declaration, code, libraries."""
        _, then, ran, found, members = recorded
        reasons: Reasons = ()
        summary = json.loads(members) or {}
        if summary.get("digest") != gathers.digest(lines):
            reasons = (f"{MEMBER_CHANGED}: {listed(changed_members(read(), lines))}",)
        keys = changed_keys(json.loads(then), declared)
        if keys:
            reasons += (f"{GATHER_CHANGED}: {', '.join(keys)}",)
        return reasons + self.code_reasons(ran) + self.library_reasons(found)

    def _compare_inputs(self, recorded: str, input_id: str) -> Reasons:
        files = changed_inputs(json.loads(recorded), self.inputs(input_id))
        return (f"{INPUT_CHANGED}: {listed(files)}",) if files else ()

    def _compare_param(self, recorded: str, param: str) -> Reasons:
        keys = changed_keys(json.loads(recorded), self.param(param))
        return (f"{PARAM_CHANGED}: {', '.join(keys)}",) if keys else ()

    def _compare_code(self, recorded: str) -> Reasons:
        """``code changed: fit (pipeline.py), WINDOW (helpers.py, gone)``, item by item."""
        ran: Any = json.loads(recorded)
        if not isinstance(ran, dict):  # a whole-file sha256 of pipeline.py, or none recorded
            if ran == fingerprints.legacy_code_fingerprint():
                return ()
            return (f"{CODE_CHANGED}: {fingerprints.PIPELINE_SHOWN} ({LEGACY})",)
        changed = []
        for shown, items in ran.items():
            for name, digest in items.items():
                now = fingerprints.code_digest(shown, name)
                if now is None:
                    changed.append(f"{name} ({shown}, gone)")
                elif now != digest:
                    changed.append(f"{name} ({shown})")
        return (f"{CODE_CHANGED}: {listed(changed)}",) if changed else ()

    def _compare_libraries(self, recorded: str) -> Reasons:
        """``library changed: statsmodels 0.14.4 -> 0.15.0``, but for the ignored ones."""
        if self.ignored is None:
            return ()
        changed = []
        for name, version in json.loads(recorded).items():
            if libraries.normal(name) in self.ignored:
                continue
            now = libraries.version(name)
            if now != version:
                changed.append(f"{name} {version} -> {now or 'not installed'}")
        return (f"{LIBRARY_CHANGED}: {', '.join(changed)}",) if changed else ()


def changed_members(recorded: Document, lines: list[str]) -> list[str]:
    """The members that differ from a gather's record: changed, ``(new)`` or ``(gone)``."""
    files = (recorded.get("members") or {}).get("files") or []
    before = {
        str(f.get("path")): gathers.line(str(f.get("path")), f.get("size"), f.get("mtime_ns"))
        for f in files
        if isinstance(f, dict)
    }
    after = {text.rsplit(" ", 2)[0]: text for text in lines}
    changed = [
        path if path in before else f"{path} (new)"
        for path, text in after.items()
        if before.get(path) != text
    ]
    changed.extend(f"{path} (gone)" for path in before if path not in after)
    return sorted(changed) or ["their record"]


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


def _mark(entry: Entry, reasons: Reasons) -> None:
    if reasons:
        entry["stale"] = reasons
        entry["status"] = status.with_staleness(entry["status"])


def mark_stale(entries: list[Entry], output_dir: Path, gathered: list[Entry] | None = None) -> None:
    """Give each built entry found out of date ``stale``, its reasons, and status STALE; the
    gathers' entries too, if given.

    A built artifact without provenance to trust is stale. An artifact with a rebuild pending
    keeps its REDO status (and its ``stale``): the rebuild is what it needs. Other entries are left
    as they are, no key added: a missing one is not built, a built one up to date.
    """
    today = Today()
    input_key, param_key = axes.INPUT_KEY, axes.PARAM_KEY
    built = [entry for entry in entries if entry["done"]]
    with ProvenanceCache(output_dir, stats=bool(gathered)) as cache:
        # At 100,000 entries each step counts: one loop, what it calls looked up once.
        judge, staleness = today.recorded_reasons, status.with_staleness
        ids = (entry["permutation_id"] for entry in built)
        for entry, recorded in zip(built, cache.each(ids), strict=True):
            reasons: Reasons
            if isinstance(recorded, MissingProvenance):
                reasons = (f"{NO_PROVENANCE}: {recorded}",)
            else:
                reasons = judge(recorded, entry[input_key], entry[param_key])
            if reasons:
                entry["stale"] = reasons
                entry["status"] = staleness(entry["status"])
        stats = cache.stats or {}
    if gathered:
        shown = layout.display_path(output_dir)
        prefix = "" if shown == "." else f"{shown}/"

        def lines_of(target: gathers.Target) -> list[str]:
            """The members' fingerprints from the stats just taken: no second stat."""
            return [
                gathers.line(f"{prefix}{layout.artifact_name(pid)}", *stats[pid])
                for pid in gathers.member_ids(target, entries)
                if pid in stats
            ]

        mark_gathers(gathered, output_dir, today, lines_of)


def mark_gathers(
    gathered: list[Entry],
    output_dir: Path,
    today: Today,
    lines_of: Callable[[gathers.Target], list[str]],
) -> None:
    """The gathers' staleness, each judged against its members' fingerprints (``lines_of``)."""
    with ProvenanceCache(layout.gathers_folder(output_dir)) as cache:
        for entry in gathered:
            if not entry["done"]:
                continue
            target = gathers.target_of(entry)
            artifact = Path(entry["output_path"])
            reasons: Reasons
            try:
                recorded = cache.recorded(entry["permutation_id"])
                reasons = today.gather_reasons(
                    recorded,
                    gathers.declaration(target),
                    lines_of(target),
                    lambda: RECORDED.read(artifact),  # noqa: B023 (called before the next one)
                )
            except MissingProvenance as why:
                reasons = (f"{NO_PROVENANCE}: {why}",)
            _mark(entry, reasons)
