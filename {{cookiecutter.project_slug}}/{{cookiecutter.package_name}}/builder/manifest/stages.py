"""What each staging dir says, read from its lock without taking it: the read side of ``staging``.

A stage's lock (``building/staging``) is an ``flock`` its builder holds while it builds, on a file
whose text is the builder's status record: ``key: value`` lines. Reading both costs a shared,
non-blocking ``flock`` probe and one ``pread``: the staged artifact is never opened, so a busy or
crashed database cannot make the manifest slow or wrong.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .. import layout, status

# A record's size at most: its measurements (``measured``) grow with the pipeline's phases.
RECORD_BYTES = 1 << 16


def read_lock(lock_path: Path) -> tuple[bool, dict[str, str]]:
    """Whether a live builder holds the lock, and the status record in it (empty if none)."""
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except OSError:
        return False, {}
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            live = True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            live = False
        return live, record_of(fd)
    finally:
        os.close(fd)


def record_of(fd: int) -> dict[str, str]:
    text = os.pread(fd, RECORD_BYTES, 0).decode(errors="replace")
    fields = (line.partition(": ") for line in text.splitlines())
    return {key: value for key, sep, value in fields if sep}


def read_stage(output_dir: Path, permutation_id: str) -> status.Stage:
    """What a staging dir's lock says: the staged artifact is never opened, so a busy or crashed
    database cannot make the manifest slow or wrong."""
    stage = layout.staging_dir(output_dir, permutation_id)
    return status.Stage(*read_lock(layout.lock_file(stage, permutation_id)))


def staged(output_dir: Path) -> dict[str, status.Stage]:
    """Every staging dir's stage, from one listing of ``<output>/_build``."""
    try:
        with os.scandir(layout.staging_root(output_dir)) as listing:
            names = [item.name for item in listing if item.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as error:
        raise layout.unreadable(output_dir, error) from None
    # A name starting with '.' is a staging dir being discarded, never a permutation id.
    return {name: read_stage(output_dir, name) for name in names if name[0] != "."}
