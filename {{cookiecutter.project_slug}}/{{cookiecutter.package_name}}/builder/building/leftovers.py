"""Processes a build's phases leave running: ended when the build ends, never left to hold on.

A phase may start processes (``os.fork``, ``subprocess``, a library's helpers) and return, fail or
be stopped while they still run. They must not outlive their build: one that keeps writing into a
stage that the next build resumes would break what the lock promises. So a builder makes itself a
child subreaper (Linux's ``prctl``): what its phases leave, even a daemon that forked twice, is
re-parented to it rather than to init. When a build ends, however it ends, the builder ends the
children it did not have when the build began (SIGTERM, then SIGKILL after ``GRACE_SECONDS``) before
it lets go of the lock; a ``--jobs`` pool does the same for a worker that died.

A builder killed outright ends nothing. Its lock is released all the same (``staging`` closes the
lock's descriptor in forked children), and a lock that only such leftovers still hold (a child
forked past Python, by C code) is reported as theirs, with their pids (``manifest/stages``).

Children are found in ``/proc``; where there is none (not Linux), nothing is ended.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable

from ..manifest.stages import stat_fields

GRACE_SECONDS = 1.0  # between SIGTERM and SIGKILL
GIVE_UP_SECONDS = 5.0  # leftovers that keep coming back are reported, not waited for
_PR_SET_CHILD_SUBREAPER = 36
_adopting = False


def adopt_orphans() -> None:
    """Make this process the parent of its descendants' orphans (Linux; once per process)."""
    global _adopting
    if _adopting:
        return
    _adopting = True
    os.register_at_fork(after_in_child=_as_a_process_of_its_own)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: orphans go to init, as without a builder
        pass


def has_children() -> bool:
    """Whether this process has a child (and reaps one that has exited): one system call."""
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return False
    return True


def children() -> set[int]:
    """The pids of this process's children, zombies included, from ``/proc``."""
    me = os.getpid()
    found = set()
    with contextlib.suppress(OSError), os.scandir("/proc") as listing:
        for item in listing:
            if not item.name.isdigit():
                continue
            try:
                fields = stat_fields(item.name)
            except OSError:
                continue
            if int(fields[1]) == me:
                found.add(int(item.name))
    return found


def end(keep: set[int]) -> list[int]:
    """End this process's children but ``keep``, and those they leave in turn; the pids ended."""
    ended: list[int] = []
    started = time.monotonic()
    while True:
        left = children() - keep
        if not left:
            return ended
        waited = time.monotonic() - started
        if waited > GIVE_UP_SECONDS:
            return ended
        stop = signal.SIGTERM if waited < GRACE_SECONDS else signal.SIGKILL
        for pid in sorted(left):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, stop)
            if pid not in ended:
                ended.append(pid)
        time.sleep(0.02)
        _reap(left)


def _reap(pids: Iterable[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def _as_a_process_of_its_own() -> None:
    """In a child a phase forked: the builder's stop handlers would unwind the builder's code in
    it, so the child gets Python's defaults (what was ignored stays ignored)."""
    for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        handler = signal.getsignal(stop)
        if callable(handler) and handler is not signal.default_int_handler:
            default = signal.default_int_handler if stop == signal.SIGINT else signal.SIG_DFL
            signal.signal(stop, default)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


class Watch:
    """The children a build began with (none, as a rule): ``end`` ends any other."""

    def __init__(self) -> None:
        adopt_orphans()
        self.before = children() if has_children() else set()

    def end(self) -> list[int]:
        return end(self.before) if has_children() else []
