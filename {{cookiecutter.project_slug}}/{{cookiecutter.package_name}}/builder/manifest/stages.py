"""What each staging dir says, read from its lock without taking it: the read side of ``staging``.

A stage's lock (``building/staging``) is an ``flock`` its builder holds while it builds, on a file
whose text is the builder's status record: ``key: value`` lines. Reading both costs a shared,
non-blocking ``flock`` probe and one ``pread``: the staged artifact is never opened, so a busy or
crashed database cannot make the manifest slow or wrong. What stands at a lock's place but is no
lock file (a link, a folder) is a stopped build that says what to remove; a lock that only the
leftovers of a dead builder hold (processes its phases forked past Python) is a stopped build that
names them. A build stopped between its final move and noting it reads as published, since the
file it was moving (its record names the inode) is in place.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
from pathlib import Path

from .. import layout, status
from ..failures import KILLED, REASON_KEY
from ..layout import LINK, NOT_A_LOCK

# A record's size at most: its measurements (``measured``) grow with the pipeline's phases.
RECORD_BYTES = 1 << 16
# What a lock record's holder says: ``pid 123 on node7 since 2024-01-01T00:00:00+00:00``.
_HOLDER = re.compile(r"pid ([0-9]+) on (\S+) since ")


def read_lock(lock_path: Path) -> tuple[bool, dict[str, str]]:
    """Whether a live builder holds the lock, and the status record in it (empty if none)."""
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as error:
        return False, ({"error": f"{lock_path} {LINK}"} if error.errno == errno.ELOOP else {})
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        return False, {"error": f"{lock_path} {NOT_A_LOCK}"}
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            live = True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            live = False
        record = record_of(fd)
    finally:
        os.close(fd)
    dead = dead_builder(lock_path, record) if live else None
    if dead is not None:  # no builder: a stopped build, whose leftovers keep it from going on
        pid, holders = dead
        left = f"the builder (pid {pid}) is dead; processes it left behind hold its lock"
        return False, {**record, "error": f"{left}: pid {holders}", REASON_KEY: KILLED}
    if not live and moved_into_place(record):
        published = record["phase"].replace(status.FINISHING, status.PUBLISHED)
        return False, {**record, "phase": published}
    return live, record


def moved_into_place(record: dict[str, str]) -> bool:
    """Whether a stopped build's artifact is in place, though its record still says finishing:
    the file at the final path is the one it was moving (a rename keeps the inode)."""
    inode, _, final = record.get(status.MOVING, "").partition(" ")
    if not record.get("phase", "").endswith(status.FINISHING) or not inode.isdigit():
        return False
    try:
        return os.lstat(final).st_ino == int(inode)
    except OSError:
        return False


def dead_builder(lock_path: Path, record: dict[str, str]) -> tuple[int, str] | None:
    """If a held lock's builder ran on this host and is dead: its pid, and the pids of what
    still holds the lock; else None (a live builder, or one on another host)."""
    holder = _HOLDER.match(record.get("holder", ""))
    if holder is None or holder[2] != os.uname().nodename:
        return None
    pid = int(holder[1])
    if is_alive(pid):
        return None
    return pid, ", ".join(map(str, holding(lock_path))) or "unknown"


def is_alive(pid: int) -> bool:
    """Whether ``pid`` is a process that runs (a zombie has let go of everything it held)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    try:
        return stat_fields(pid)[0] != b"Z"
    except OSError:
        return True


def stat_fields(pid: int | str) -> list[bytes]:
    """The fields of ``/proc/<pid>/stat`` after the command's name (state, parent pid, ...): the
    name is cut at its last ')', since it may hold spaces and parentheses itself."""
    with open(f"/proc/{pid}/stat", "rb") as proc_stat:
        return proc_stat.read().rpartition(b")")[2].split()


def holding(path: Path) -> list[int]:
    """The pids of the processes that have ``path`` open, from ``/proc`` (those it may read)."""
    target = str(path)
    found = []
    with contextlib.suppress(OSError), os.scandir("/proc") as listing:
        for item in listing:
            if not item.name.isdigit():
                continue
            with contextlib.suppress(OSError), os.scandir(f"/proc/{item.name}/fd") as fds:
                if any(_points_to(fd.path, target) for fd in fds):
                    found.append(int(item.name))
    return sorted(found)


def _points_to(link: str, target: str) -> bool:
    try:
        return os.readlink(link) == target
    except OSError:
        return False


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
