"""One way into place: every file the builder publishes appears whole or not at all.

Like Luigi's ``AtomicLocalFile``: the content goes to a temporary sibling (or is a finished file
elsewhere on the same file system), is fsynced, takes the target's name in one ``os.replace``, and
the folder is fsynced so that the new name survives a power cut. Staging files a phase keeps, the
provenance sidecar, the final artifact, plans and the provenance cache all come through here.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def atomic_publish(target: Path, content: bytes | Path) -> Path:
    """Put ``content`` (bytes, or a finished file to move) at ``target`` in one atomic step.

    Bytes go to a sibling named after this process, so two writers never share one; a write
    that fails leaves no temporary file behind. The sibling is made afresh, never opened through
    whatever stands at its name (a link would carry the write elsewhere).
    """
    if isinstance(content, Path):
        partial = content
        fsync(partial)
    else:
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        partial.unlink(missing_ok=True)  # a leftover or a link: removed, never followed
        fresh = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            with open(os.open(partial, fresh, 0o666), "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
    os.replace(partial, target)
    fsync(target.parent)
    return target


def fsync(path: Path) -> None:
    """Flush a file's (or a folder's) bytes to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
