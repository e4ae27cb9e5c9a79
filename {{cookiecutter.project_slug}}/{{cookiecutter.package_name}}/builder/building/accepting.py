"""Accepting a stale artifact as it is: today's inputs, registry entry, code and libraries written
as its provenance, without a rebuild (like ``make -t``, ``snakemake --touch``, ``dvc commit``).

Each artifact is accepted under its permutation's lock, so no builder rebuilds it meanwhile: a
SQLite artifact's provenance is rewritten in one transaction, in place; a sidecar is replaced
atomically (``kinds``). The record keeps, in ``accepted``, a line saying when it was accepted and
what it was stale for. The code it records is what it recorded before, at today's digests (an item
that is gone is dropped); an artifact that recorded no code per function (made by hand, or by a
builder before per-function fingerprints) records what its phases may run, read from their source.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from .. import BUILDER_VERSION, layout, libraries, tracing
from ..manifest import fingerprints
from ..manifest.entries import Entry
from ..manifest.recorded import RECORDED, Document, MissingProvenance
from . import provenance, staging, targets
from .kinds import KIND
from .outcome import BUSY, FAILED, Outcome


def _code(recorded: Document, target: targets.Target) -> Document:
    """The recorded items at today's digests, and the libraries at today's versions."""
    ran = recorded.get("code")
    if not isinstance(ran, dict):
        return tracing.collect(target.also, target.phases, static=True)
    files: dict[str, dict[str, str]] = {}
    for shown, items in ran.items():
        for name in items:
            digest = fingerprints.code_digest(shown, name)
            if digest is not None:
                files.setdefault(shown, {})[name] = digest
    found = {}
    for name in recorded.get("libraries") or {}:
        version = libraries.version(name)
        if version is not None:
            found[name] = version
    return {"code": files, "libraries": found}


def _today(target: targets.Target) -> Document:
    """What a permutation's (or a gather's) build would record as built from, now."""
    begun = target.begin()
    begun.pop("started_at")
    return begun


def accepted(recorded: Document, target: targets.Target, reasons: tuple[str, ...]) -> Document:
    """The new provenance: the old one with today's sources and code, and one more ``accepted``."""
    line = f"{provenance.now()}: accepted; it was stale for {'; '.join(reasons)}"
    lines = [*(recorded.get("accepted") or []), line]
    document: Document = {
        **target.identity,
        "builder_version": BUILDER_VERSION,
        **recorded,
        **_today(target),
        **_code(recorded, target),
        "accepted": lines,
    }
    document.pop("artifact", None)  # a sidecar's own: rewritten by the kind
    return document


def accept(entry: Entry, output_dir: Path, reasons: tuple[str, ...]) -> Outcome:
    """Accept one stale artifact under its lock."""
    target = targets.of(entry, output_dir)
    permutation_id, folder = target.permutation_id, target.output_dir
    stage = layout.staging_dir(folder, permutation_id)
    final = layout.artifact_path(folder, permutation_id)
    ours = not stage.exists()
    lock = staging.BuildLock(stage, permutation_id)
    try:
        if not lock.acquire():
            return Outcome(permutation_id, "busy", f"is being built by {lock.holder}", BUSY)
        try:
            recorded = RECORDED.read(final)
        except MissingProvenance:
            recorded = {}
        try:
            KIND.rewrite(final, accepted(recorded, target, reasons))
        except Exception as error:  # a file that is not what its extension says
            message = f"cannot record its provenance: {type(error).__name__}: {error}"
            return Outcome(permutation_id, "failed", message, FAILED)
        return Outcome(permutation_id, "accepted", f"stale for {'; '.join(reasons)}")
    finally:
        lock.release()
        if ours:
            with contextlib.suppress(OSError):
                staging.discard(stage)
