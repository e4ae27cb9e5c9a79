"""SIGINT and SIGTERM stop the builder the same way: unwinding, so logs and locks close properly.

Ctrl-C raises ``KeyboardInterrupt``; a scheduler's SIGTERM (a cancel, a time limit) raises its
subclass ``Terminated``, so one ``except KeyboardInterrupt`` handles both and the exit code is the
shell's convention for the signal: 130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import signal
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, like Ctrl-C."""


# The SIGTERM received, if any: a stop raised inside a SQLite callback is swallowed by sqlite3
# (the statement fails as "interrupted"), so the builder looks here to tell a stop from a failure.
received: Terminated | None = None


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    global received
    received = Terminated()
    raise received


def handle_sigterm() -> None:
    signal.signal(signal.SIGTERM, _raise_terminated)


def signal_name(stop: KeyboardInterrupt) -> str:
    return "SIGTERM" if isinstance(stop, Terminated) else "SIGINT"


def exit_code(stop: KeyboardInterrupt) -> int:
    return 128 + (signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT)
