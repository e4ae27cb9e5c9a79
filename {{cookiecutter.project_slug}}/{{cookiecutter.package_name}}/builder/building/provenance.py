"""Provenance: what each artifact was built from, recorded in it (or beside it) before it is final.

A build records its axis values, a fingerprint of each input file the pipeline names with
``input_files()``, the parameter's registry entry, the code its phases ran and the libraries that
code imports (``tracing``: ``code`` maps each project file to its items' digests, ``libraries``
each distribution to its version), the builder version, phase timings, host and timestamps.
``kinds`` writes it where ``manifest/recorded`` reads it. The fingerprint of inputs and registry
entry is taken when a stage is begun, and each phase's code when it completes, all kept in the
progress store, so a resumed build records what its phases were really built from.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from .. import BUILDER_VERSION, axes, layout
from ..manifest.fingerprints import fingerprint_inputs, fingerprint_mode, registry_entry
from ..manifest.recorded import Document
from ..pipeline_module import PIPELINE_FILE
from ..tracing import Record


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def begin(entry: dict[str, Any]) -> Document:
    """What a stage is built from, fingerprinted when it is begun and kept while it is resumed.

    Fingerprinting before the phases run errs on the safe side: an input edited while a phase
    reads it is recorded as it was, so ``manifest --stale`` reports the edit.
    """
    input_id, param = entry[axes.INPUT_KEY], entry[axes.PARAM_KEY]
    mode = fingerprint_mode()
    return {
        "fingerprint": mode,
        "inputs": fingerprint_inputs(input_id, mode),
        "param": registry_entry(param),
        "pipeline": {"path": layout.display_path(PIPELINE_FILE)},
        "started_at": now(),
    }


def merged(records: list[Record]) -> Document:
    """The code and libraries of several phases' records, as one."""
    files: dict[str, dict[str, str]] = {}
    found: dict[str, str] = {}
    for record in records:
        for shown, items in record.get("code", {}).items():
            files.setdefault(shown, {}).update(items)
        found.update(record.get("libraries", {}))
    return {
        "code": {shown: dict(sorted(items.items())) for shown, items in sorted(files.items())},
        "libraries": dict(sorted(found.items())),
    }


class Recorder:
    """Collects one build's provenance from the fingerprint its stage was begun with."""

    def __init__(self, identity: Document, begun: Document) -> None:
        self.document: Document = {
            **identity,
            **begun,
            "builder_version": BUILDER_VERSION,
            "python": platform.python_version(),
            "host": os.uname().nodename,
            "pid": os.getpid(),
        }
        self.phases: list[Document] = []
        self.ran: list[Record] = []

    def resumed(self, number: int, name: str, completed_at: str, ran: Record) -> None:
        """A phase an earlier, interrupted run completed: its time is not known, its end is."""
        self.phases.append(
            {"phase": number, "name": name, "seconds": None, "completed_at": completed_at}
        )
        self.ran.append(ran)

    def noted(self, ran: Record) -> None:
        """What a phase that completed now ran."""
        self.ran.append(ran)

    @contextmanager
    def timing(self, number: int, name: str) -> Iterator[None]:
        """Time a phase; recorded only if it completes."""
        started = time.monotonic()
        yield
        seconds = round(time.monotonic() - started, 3)
        self.phases.append(
            {"phase": number, "name": name, "seconds": seconds, "completed_at": now()}
        )

    def finished(self) -> Document:
        return {
            **self.document,
            **merged(self.ran),
            "phases": list(self.phases),
            "finished_at": now(),
        }
