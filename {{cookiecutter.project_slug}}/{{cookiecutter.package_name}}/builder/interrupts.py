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


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def handle_sigterm() -> None:
    signal.signal(signal.SIGTERM, _raise_terminated)


def signal_name(stop: KeyboardInterrupt) -> str:
    return "SIGTERM" if isinstance(stop, Terminated) else "SIGINT"


def exit_code(stop: KeyboardInterrupt) -> int:
    return 128 + (signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT)
