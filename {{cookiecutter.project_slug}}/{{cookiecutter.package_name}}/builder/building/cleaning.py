"""What ``clean`` removes from an output folder, and removing it safely.

Always the orphans (``manifest/orphans``); on request the stages of stopped builds (FAIL, and a
stopped REDO's), the plan files, and the stages a killed discard left renamed (``.<id>.<pid>
.discarded``). Every path comes from a listing of the output folder and is checked to lie inside
it; a symbolic link is removed as a link, never followed, and the builder's own folders are not
listed through one; a stage is removed only under its lock, so a live builder's stage is refused.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NamedTuple

from .. import layout, status
from ..manifest.entries import Survey
from ..manifest.orphans import find
from ..manifest.stages import read_lock
from . import staging

ORPHAN, FAILED, PLAN, DISCARDED = "orphan", "failed stage", "plan file", "discarded stage"


class Removal(NamedTuple):
    path: Path
    what: str  # ORPHAN, FAILED, PLAN or DISCARDED
    why: str
    name: str  # the id it belongs to (a plan's, a discarded stage's: its file name)
    stage_of: str | None = None  # the id whose lock guards it, for a stage


def summary(chosen: list[Removal]) -> str:
    """``3 orphans (6 paths), 1 plan file``: each kind's count of ids, and of paths if more."""
    parts = []
    for what in (ORPHAN, FAILED, PLAN, DISCARDED):
        paths = [r for r in chosen if r.what == what]
        if paths:
            count = len({r.name for r in paths})
            text = f"{count} {what}{'s' if count > 1 else ''}"
            parts.append(text + (f" ({len(paths)} paths)" if len(paths) > count else ""))
    return ", ".join(parts)


def _linked(folder: Path) -> bool:
    return folder.is_symlink()


class Plan(NamedTuple):
    removals: list[Removal]
    refused: list[str]  # one line each: a folder that is a link, an orphan a live builder locks
    busy: int  # how many of those a live builder locks


def removals(
    found: Survey, output_dir: Path, *, failed: bool, plans: bool, discarded: bool
) -> Plan:
    """What would be removed, and what is refused."""
    refused: list[str] = []
    busy = 0
    for own in (layout.BUILD_FOLDER, layout.PROVENANCE_FOLDER, layout.PLAN_FOLDER):
        for folder in (output_dir / own, layout.gathers_folder(output_dir) / own):
            if _linked(folder):
                refused.append(f"{layout.display_path(folder)} is a symbolic link: not followed")
    if _linked(layout.gathers_folder(output_dir)):
        refused.append(f"{layout.display_path(layout.gathers_folder(output_dir))} is a link")
    chosen: list[Removal] = []
    for orphan in find(found, output_dir):
        stage = layout.staging_dir(output_dir, orphan.name)
        if stage in orphan.paths and read_lock(layout.lock_file(stage, orphan.name))[0]:
            refused.append(f"{orphan.name}: a live builder holds its lock; left as it is")
            busy += 1
            continue
        for path in orphan.paths:
            is_stage = path.parent.name == layout.BUILD_FOLDER
            stage_of = orphan.name if is_stage else None
            chosen.append(Removal(path, ORPHAN, orphan.why, orphan.name, stage_of))
    if failed:
        for entry in [*found.entries, *found.gathers]:
            state = status.state_of(entry["status"])
            if entry["error"] is not None and state in (status.FAIL, status.REDO):
                folder = Path(entry["output_path"]).parent
                stage = layout.staging_dir(folder, entry["permutation_id"])
                name = entry["permutation_id"]
                chosen.append(Removal(stage, FAILED, entry["error"], name, name))
    if plans:
        plan_files = _listed(output_dir / layout.PLAN_FOLDER, ".plan")
        chosen += [Removal(p, PLAN, "a selection frozen for arrays", p.name) for p in plan_files]
    if discarded:
        for folder in (output_dir, layout.gathers_folder(output_dir)):
            root = layout.staging_root(folder)
            chosen += [
                Removal(path, DISCARDED, "left by a killed build", path.name)
                for path in _listed(root, ".discarded")
                if path.name.startswith(".")
            ]
    safe = [
        r for r in chosen if _inside(r.path, output_dir) and not _through_link(r.path, output_dir)
    ]
    return Plan(safe, refused, busy)


def _listed(folder: Path, suffix: str) -> list[Path]:
    if _linked(folder):
        return []
    try:
        return sorted(folder / name for name in os.listdir(folder) if name.endswith(suffix))
    except OSError:
        return []


def _inside(path: Path, output_dir: Path) -> bool:
    absolute = Path(os.path.abspath(path))
    return absolute != output_dir and absolute.is_relative_to(output_dir)


def _through_link(path: Path, output_dir: Path) -> bool:
    """Whether a folder between the output folder and the path is a link (never listed through)."""
    folder = Path(os.path.abspath(path)).parent
    while folder != output_dir and folder.is_relative_to(output_dir):
        if folder.is_symlink():
            return True
        folder = folder.parent
    return False


def remove(removal: Removal) -> str | None:
    """Remove one path; None if done, else why not (a live builder's stage, an error)."""
    path = removal.path
    try:
        if removal.stage_of is not None and path.is_dir() and not path.is_symlink():
            return _remove_stage(path, removal.stage_of)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)  # removes links inside it, never follows them
        else:
            path.unlink(missing_ok=True)
    except OSError as error:
        return f"cannot remove it: {error.strerror}"
    return None


def _remove_stage(stage: Path, permutation_id: str) -> str | None:
    lock_path = layout.lock_file(stage, permutation_id)
    live, _ = read_lock(lock_path)
    if live:
        return "a live builder holds its lock"
    lock = staging.BuildLock(stage, permutation_id)
    if not lock.acquire():
        return f"a live builder holds its lock ({lock.holder})"
    try:
        staging.discard(stage)
    finally:
        lock.release()
    return None
