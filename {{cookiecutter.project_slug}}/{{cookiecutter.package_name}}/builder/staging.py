"""Where a permutation is built before it is done, and the lock that says who is building it.

Layout: ``<output>/_build/<permutation_id>/`` holds the staged artifact, its progress file (for
non-SQLite kinds), the three logs and ``<permutation_id>.lock``. The lock is an ``flock`` on that
file, so the kernel releases it when its builder dies, even by SIGKILL: a lock file nobody holds is
stale by construction, and its text (pid, host, start time) only serves messages.
"""

from __future__ import annotations

import fcntl
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from .. import settings

BUILD_FOLDER = "_build"
SQLITE_EXTENSIONS = frozenset({"db", "sqlite", "sqlite3", "db3"})

# A manifest probing the lock holds it shared for microseconds; a starting builder retries this
# long before it reports the permutation as busy.
_LOCK_ATTEMPTS = 10
_LOCK_RETRY_SECONDS = 0.05


def artifact_is_sqlite() -> bool:
    """SQLite artifacts keep their build progress inside themselves; other kinds beside."""
    return settings.ARTIFACT_EXTENSION.lower() in SQLITE_EXTENSIONS


def staging_root(output_dir: Path) -> Path:
    return output_dir / BUILD_FOLDER


def staging_dir(output_dir: Path, permutation_id: str) -> Path:
    return output_dir / BUILD_FOLDER / permutation_id


def artifact_name(permutation_id: str) -> str:
    return f"{permutation_id}.{settings.ARTIFACT_EXTENSION}"


def progress_file(stage: Path, permutation_id: str) -> Path:
    """The file holding ``_build_progress``: the staged artifact itself, or a file beside it."""
    if artifact_is_sqlite():
        return stage / artifact_name(permutation_id)
    return stage / f"{permutation_id}.progress.sqlite"


def lock_file(stage: Path, permutation_id: str) -> Path:
    return stage / f"{permutation_id}.lock"


def log_file(stage: Path, permutation_id: str, level: str) -> Path:
    return stage / f"{permutation_id}.{level}.log"


def live_holder(lock_path: Path) -> str | None:
    """Who holds the lock (its text) if a live builder does; None if nobody does."""
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.read(fd, 4096).decode(errors="replace").strip() or "an unknown builder"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class BuildLock:
    """An exclusive, crash-released lock on one permutation's staging dir."""

    def __init__(self, stage: Path, permutation_id: str) -> None:
        self.path = lock_file(stage, permutation_id)
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock and write our pid and host into it; False if a live builder holds it."""
        for _ in range(_LOCK_ATTEMPTS):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # the staging dir vanished under us: a builder finished
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                time.sleep(_LOCK_RETRY_SECONDS)
                continue
            if not self._still_at_path(fd):  # we locked a file another builder just removed
                os.close(fd)
                continue
            started = datetime.now(timezone.utc).isoformat(timespec="seconds")
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {os.uname().nodename} since {started}\n".encode())
            self._fd = fd
            return True
        return False

    def _still_at_path(self, fd: int) -> bool:
        try:
            return os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            return False

    def holder(self) -> str:
        return live_holder(self.path) or "another builder"

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
