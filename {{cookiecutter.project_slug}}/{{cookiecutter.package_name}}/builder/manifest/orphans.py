"""Orphans: what the output folder holds for a pair, or a gather, that the matrix no longer has.

An input removed, a parameter dropped from the registry, a pair now excluded, a gather no longer
declared: their artifacts, stages (with their logs), provenance sidecars and gathers stay in the
output folder, where a glob over the artifacts would still take them. ``count`` tells how many from
the listings the manifest made anyway (nothing more when there is none); ``find`` names each one
and its files, reading the sidecars' and gathers' folders too; ``clean`` removes them.
"""

from __future__ import annotations

import os
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from ... import settings
from .. import layout
from .entries import Survey
from .listing import finished_artifacts
from .stages import staged


class Orphan(NamedTuple):
    """An id the matrix no longer has, its files and folders in the output folder, and why."""

    name: str
    paths: tuple[Path, ...]
    why: str


NOT_IN_MATRIX = "no such pair in the matrix"
DONE = itemgetter("done")
NOT_DECLARED = "no such gather"


def _unmatched_stages(found: Survey) -> set[str]:
    if not found.stages:
        return set()
    ids = {entry["permutation_id"] for entry in found.entries}
    return {name for name in found.stages if name not in ids}


def count(found: Survey, output_dir: Path) -> int:
    """How many ids have orphaned artifacts or stages: from the listings already made, so a
    matrix without orphans pays one sum and one ``stat`` (of the gathers' folder)."""
    artifacts = len(found.artifacts) - int(sum(map(DONE, found.entries)))
    stages = _unmatched_stages(found)
    total = artifacts + len(stages)
    if artifacts and stages:  # an id with both counts once
        ids = {entry["permutation_id"] for entry in found.entries}
        total = len({name for name in found.artifacts if name not in ids} | stages)
    folder = layout.gathers_folder(output_dir)
    if found.gathers or os.path.isdir(folder):
        total += len(_gather_orphans(found, folder))
    return total


def _sidecars(folder: Path, ids: set[str]) -> dict[str, Path]:
    """The provenance sidecars in a folder of artifacts whose id is not in ``ids``, by that id
    (none for SQLite). Only those become paths: a matrix's sidecars are as many as its built
    permutations, and a path each would cost ``report`` a third of a second at 100,000."""
    if layout.artifact_is_sqlite():
        return {}
    sidecars = folder / layout.PROVENANCE_FOLDER
    suffix = f".{settings.ARTIFACT_EXTENSION}.json"
    try:
        names = os.listdir(sidecars)
    except OSError:
        return {}
    cut = -len(suffix)
    return {
        name[:cut]: sidecars / name
        for name in names
        if name.endswith(suffix) and name[:cut] not in ids
    }


def _files(
    folder: Path, artifacts: set[str], stages: set[str], sidecars: dict[str, Path]
) -> dict[str, list[Path]]:
    """Each orphaned id's paths: its artifact, its stage, its sidecar."""
    files: dict[str, list[Path]] = {}
    for name in artifacts:
        files.setdefault(name, []).append(layout.artifact_path(folder, name))
    for name in stages:
        files.setdefault(name, []).append(layout.staging_dir(folder, name))
    for name, path in sidecars.items():
        files.setdefault(name, []).append(path)
    return files


def _gather_orphans(found: Survey, folder: Path) -> dict[str, list[Path]]:
    ids = {entry["permutation_id"] for entry in found.gathers}
    artifacts = {name for name in finished_artifacts(folder, sizes=False) if name not in ids}
    stages = {name for name in staged(folder) if name not in ids}
    return _files(folder, artifacts, stages, _sidecars(folder, ids))


def find(found: Survey, output_dir: Path) -> list[Orphan]:
    """Every orphan, by id, with all its files: sidecars and gathers' folder read too."""
    ids = {entry["permutation_id"] for entry in found.entries}
    artifacts = {name for name in found.artifacts if name not in ids}
    files = _files(output_dir, artifacts, _unmatched_stages(found), _sidecars(output_dir, ids))
    orphans = []
    for name, paths in files.items():
        excluded = found.excluded.get(name)
        why = f"excluded: {excluded[2]}" if excluded else NOT_IN_MATRIX
        orphans.append(Orphan(name, tuple(sorted(paths)), why))
    folder = layout.gathers_folder(output_dir)
    if found.gathers or os.path.isdir(folder):
        for name, paths in _gather_orphans(found, folder).items():
            orphans.append(Orphan(name, tuple(sorted(paths)), NOT_DECLARED))
    return sorted(orphans)
