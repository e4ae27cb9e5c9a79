"""Where a permutation is built before it is done, and the lock that says who is building it.

Layout: ``<output>/_build/<permutation_id>/`` holds the staged artifact, its progress file (for
non-SQLite kinds), the three logs and ``<permutation_id>.lock``. The lock is an ``flock`` on that
file, so the kernel releases it when its builder dies, even by SIGKILL: a lock file nobody holds is
stale by construction. Its descriptor is close-on-exec and closed in any child a phase forks, so no
process a phase started keeps it; one that still does (forked past Python, by C code) after its
builder died is reported as exactly that, with its pid (``manifest/stages``). The file's text is its
builder's status record, ``key: value`` lines that the manifest reads without opening the artifact:
``holder`` (pid, host, start), ``phase`` (the one running, as ``[k/N] name``) and, when the build
failed, ``error``. A dead build keeps its record, so it still says where and why it stopped.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from pathlib import Path

from .. import layout
from ..ids import UsageError
from ..layout import NOT_A_LOCK, UnsafeStage, refuse_link
from ..manifest.stages import dead_builder, record_of

# A manifest probing the lock holds it shared for microseconds; a starting builder retries this
# long before it reports the permutation as busy.
_LOCK_ATTEMPTS = 5
_LOCK_RETRY_SECONDS = 0.05
# The locks this process holds: a child that a phase forks closes their descriptors at once.
_held: set[BuildLock] = set()


def _close_held_locks() -> None:
    """In a forked child: let go of the locks' descriptors, which stay held by the parent alone
    (closing a copy of an ``flock``'s descriptor leaves the lock with the others)."""
    for lock in _held:
        lock.forget_in_child()
    _held.clear()


os.register_at_fork(after_in_child=_close_held_locks)


DISCARDED = ".discarded"  # the end of a discarded stage's name: .<id>.<pid>.discarded


def refuse_links(stage: Path, permutation_id: str, *, force: bool) -> None:
    """No symbolic link where a build writes: ``_build``, the stage, the stage's own files and, for
    kinds with sidecars, ``_provenance``. ``--force`` removes links in a stage, never follows."""
    folders = [stage.parent, stage]
    if not layout.artifact_is_sqlite():
        folders.append(stage.parent.parent / layout.PROVENANCE_FOLDER)
    for folder in folders:
        refuse_link(folder)
    lock = refuse_link(layout.lock_file(stage, permutation_id))  # taken before --force clears
    if lock.is_dir():
        raise UnsafeStage(f"{lock} {NOT_A_LOCK}")
    if force:
        return
    own = [
        layout.staged_artifact(stage, permutation_id),
        layout.progress_file(stage, permutation_id),
        layout.finishing_file(layout.staged_artifact(stage, permutation_id)),
        *(layout.log_file(stage, permutation_id, level) for level in layout.LOG_LEVELS),
    ]
    for path in own:
        if path.is_symlink():
            raise UnsafeStage(
                f"{path} is a symbolic link; the builder never writes through one:"
                " remove it or rerun with --force"
            )


def check_same_file_system(stage: Path, output_dir: Path) -> None:
    """The final move is one rename, which cannot cross file systems: say so before any phase."""
    if os.stat(stage).st_dev != os.stat(output_dir).st_dev:
        raise UnsafeStage(
            f"staging dir {stage} is on another file system than the output folder {output_dir};"
            " the finished artifact could not be moved into place atomically"
        )


def clear(stage: Path, *, keep: list[Path]) -> None:
    """Forget a partial build (but not ``keep``); a link is removed, never followed."""
    import shutil

    for path in stage.iterdir():
        if path in keep:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def discard(stage: Path) -> None:
    """Delete a staging dir, and ``_build`` with it if that is left empty.

    The dir is first renamed away in one step, so a builder arriving meanwhile creates a fresh
    lock file instead of locking one that is being deleted (its inode check then sees the change).
    """
    import shutil  # only builds discard; the manifest imports this module for the layout

    trash = stage.with_name(f".{stage.name}.{os.getpid()}{DISCARDED}")
    try:
        os.rename(stage, trash)
    except OSError:
        trash = stage
    shutil.rmtree(trash, ignore_errors=True)
    with contextlib.suppress(OSError):  # not empty: other permutations are staged or building
        os.rmdir(stage.parent)


def remove_discarded(staging_root: Path) -> None:
    """Delete what ``discard`` renamed away but did not delete (its builder was killed, or the
    deletion failed): nothing ever reads a discarded stage, so another deleting it too is harmless.
    """
    import shutil

    with contextlib.suppress(OSError), os.scandir(staging_root) as listing:
        for item in listing:
            if item.name.startswith(".") and item.name.endswith(DISCARDED):
                shutil.rmtree(item.path, ignore_errors=True)


def amend_record(lock_path: Path, **fields: str) -> bool:
    """Add to a stopped build's record what outlived its builder learned (why it was killed);
    False if the lock is held or gone (a builder is at work, or the stage was removed)."""
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _write_record(fd, {**record_of(fd), **fields})
    except OSError:  # held (BlockingIOError), or the disk is full
        return False
    finally:
        os.close(fd)
    return True


def _write_record(fd: int, fields: dict[str, str]) -> None:
    """Write a record over the old one from the start, then cut it to length, so a reader never
    sees an empty record; values are kept to one line."""
    text = "".join(f"{key}: {' '.join(value.split())}\n" for key, value in fields.items())
    os.pwrite(fd, text.encode(), 0)
    os.ftruncate(fd, len(text.encode()))


class BuildLock:
    """An exclusive, crash-released lock on one permutation's staging dir, and its status record."""

    def __init__(self, stage: Path, permutation_id: str) -> None:
        self.path = layout.lock_file(stage, permutation_id)
        self.holder = "another builder"  # after a failed acquire: who holds the lock
        self._fd: int | None = None
        self._fields: dict[str, str] = {}
        self._writing = threading.Lock()  # the build and its peak sampler both note

    def refusal(self) -> str:
        """Why the lock could not be taken: its live builder, or what a dead one left behind."""
        dead = dead_builder(self.path, {"holder": self.holder})
        if dead is None:
            return f"is being built by {self.holder}"
        pid, holders = dead
        return (
            f"is locked by processes that its dead builder (pid {pid}) left behind: pid {holders};"
            " end them, then build again"
        )

    def acquire(self) -> bool:
        """Take the lock and record our pid and host in it; False if a live builder holds it."""
        for _ in range(_LOCK_ATTEMPTS):
            fd = self._open()
            if fd is None:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.holder = record_of(fd).get("holder", self.holder)
                os.close(fd)
                time.sleep(_LOCK_RETRY_SECONDS)
                continue
            if not self._still_at_path(fd):  # we locked a file another builder just discarded
                os.close(fd)
                continue
            self._fd = fd
            _held.add(self)
            started = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
            self._fields = {}
            self.note(holder=f"pid {os.getpid()} on {os.uname().nodename} since {started}")
            return True
        return False

    def _open(self) -> int | None:
        """The lock file, created with its staging dir; None if a finishing builder removed it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise UsageError(f"cannot write to '{self.path.parent}': {error.strerror}") from None

    def _still_at_path(self, fd: int) -> bool:
        try:
            here, there = os.fstat(fd), os.stat(self.path)
        except FileNotFoundError:
            return False
        return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)

    def note(self, **fields: str) -> None:
        """Update the status record (``phase``, ``error``) that ``manifest`` shows for this build.

        New text is written over the old from the start, then cut to length, so a reader never
        sees an empty record; values are kept to one line.
        """
        with self._writing:
            if self._fd is None:
                return
            self._fields.update(fields)
            with contextlib.suppress(OSError):  # a full disk: the record is news, not the build
                _write_record(self._fd, self._fields)

    def release(self) -> None:
        _held.discard(self)
        self.forget()

    def forget_in_child(self) -> None:
        """``forget`` in a forked child, where the thread that held the writing lock at the fork
        (the peak sampler) does not exist: the child's copy of it starts afresh."""
        self._writing = threading.Lock()
        self.forget()

    def forget(self) -> None:
        """Close this process's descriptor of the lock; notes are no longer written."""
        with self._writing:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None
