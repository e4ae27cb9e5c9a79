"""Three log files per build (debug, info, error) in its staging dir, and brief progress on stderr.

Handlers belong to one build: attached on entry, closed and removed on exit whatever happens, so a
process that builds many permutations never writes a line twice or leaks a file handle. The console
gets one line per record the builder marks with ``extra=PROGRESS`` (phase started, done, skipped),
plus anything logged at WARNING or above, never a traceback: those are for the files.

A build over many permutations (``overall``) chooses for its console and its pool workers' (spawned
processes inherit the environment) through ``CONSOLE_VARIABLE``: a comma list of ``phases`` (show
the phase lines; without it only warnings and errors) and ``live`` (a live progress line is on the
terminal: clear it before each line; the next redraw puts it back below). Unset: ``phases``.

A log file that cannot be written (a full disk) is said once, in one line, when the build ends;
it never floods stderr nor stops a run.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from types import TracebackType

from ... import settings
from .. import layout
from ..terminal import CLEAR_LINE

LOG_FORMAT = "%(asctime)s [%(levelname)s] %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
LEVELS = (("debug", logging.DEBUG), ("info", logging.INFO), ("error", logging.ERROR))
PROGRESS = {"console": True}
CONSOLE_VARIABLE = f"{settings.PACKAGE.upper()}_CONSOLE"


def for_console(record: logging.LogRecord) -> bool:
    return bool(getattr(record, "console", record.levelno >= logging.WARNING))


class ConsoleFormat(logging.Formatter):
    """``<permutation_id>: message``, one line, whatever exception the record carries."""

    def __init__(self, prefix: str, *, clear_line: bool = False) -> None:
        super().__init__()
        self.prefix = f"{CLEAR_LINE if clear_line else ''}{prefix}"

    def format(self, record: logging.LogRecord) -> str:
        return f"{self.prefix}: {record.getMessage()}"


class LogFile(logging.FileHandler):
    """A log file that, once writing it fails, remembers why and goes quiet."""

    error: BaseException | None = None

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        self.error = self.error or sys.exc_info()[1]

    def close(self) -> None:
        try:
            super().close()
        except OSError as error:  # the last flush, on a full disk
            self.error = self.error or error


class BuildLogs:
    """``with BuildLogs(stage, permutation_id) as log:`` gives a logger writing the three files."""

    def __init__(self, stage: Path, permutation_id: str, *, console: bool = True) -> None:
        self.stage = stage
        self.permutation_id = permutation_id
        self.console = console
        self.logger = logging.getLogger(f"{settings.PACKAGE}.build.{permutation_id}")
        self._handlers: list[logging.Handler] = []

    def __enter__(self) -> logging.Logger:
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        file_format = logging.Formatter(LOG_FORMAT, datefmt=DATE_FORMAT)
        file_format.converter = time.gmtime  # timestamps in UTC, comparable across hosts
        try:
            for level_name, level in LEVELS:
                path = layout.log_file(self.stage, self.permutation_id, level_name)
                self._attach(LogFile(path, encoding="utf-8"), level, file_format)
        except BaseException:  # a file that cannot be opened must not leave the others open
            self.__exit__(None, None, None)
            raise
        if self.console:
            shown = os.environ.get(CONSOLE_VARIABLE, "phases").split(",")
            console = logging.StreamHandler(sys.stderr)
            console.addFilter(for_console)
            level = logging.INFO if "phases" in shown else logging.WARNING
            self._attach(
                console, level, ConsoleFormat(self.permutation_id, clear_line="live" in shown)
            )
        return self.logger

    def _attach(self, handler: logging.Handler, level: int, fmt: logging.Formatter) -> None:
        handler.setLevel(level)
        handler.setFormatter(fmt)
        self.logger.addHandler(handler)
        self._handlers.append(handler)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for handler in self._handlers:
            handler.close()
            self.logger.removeHandler(handler)
        failed = [h for h in self._handlers if isinstance(h, LogFile) and h.error]
        if failed:
            print(
                f"warning: {self.permutation_id}: cannot write {failed[0].baseFilename}:"
                f" {failed[0].error}",
                file=sys.stderr,
            )
        self._handlers.clear()
