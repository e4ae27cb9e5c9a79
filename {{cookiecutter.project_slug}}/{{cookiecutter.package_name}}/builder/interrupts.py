"""Stop signals stop the builder the same way: unwinding, so logs and locks close properly.

Ctrl-C (SIGINT) raises ``KeyboardInterrupt``; a scheduler's SIGTERM (a cancel, a time limit), a
lost terminal's SIGHUP and SIGQUIT raise its subclass ``Terminated``, which knows its signal. So
one ``except KeyboardInterrupt`` handles them all, the record names the signal, and the exit code is
the shell's convention: 128 + the signal's number (130 for SIGINT, 143 for SIGTERM). A signal that
was ignored when the builder started (``nohup``) stays ignored.

``received`` tells a stop that a signal sent from a ``KeyboardInterrupt`` a phase raised itself:
the first stops the build, the second is the phase's failure like any other exception.
"""

from __future__ import annotations

import signal
from types import FrameType

STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT})


class Terminated(KeyboardInterrupt):
    """SIGTERM, SIGHUP or SIGQUIT, raised where the program is, like Ctrl-C."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__()
        self.signum = signum


# The stop signal received, if any: a stop raised inside a SQLite callback is swallowed by sqlite3
# (the statement fails as "interrupted"), so the builder looks here to tell a stop from a failure.
received: KeyboardInterrupt | None = None


def stop_of(signum: int) -> KeyboardInterrupt:
    """What a stop signal raises; ``received`` remembers it."""
    global received
    received = KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)
    return received


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise stop_of(signum)


def handle_stops() -> None:
    """From here on, each stop signal raises where the program is (unless it was ignored)."""
    for stop in STOP_SIGNALS:
        handler = signal.getsignal(stop)
        if handler in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(stop, _raise_stop)


def signal_of(stop: KeyboardInterrupt) -> int:
    return stop.signum if isinstance(stop, Terminated) else signal.SIGINT


def signal_name(stop: KeyboardInterrupt) -> str:
    return signal.Signals(signal_of(stop)).name


def exit_code(stop: KeyboardInterrupt) -> int:
    return 128 + signal_of(stop)
