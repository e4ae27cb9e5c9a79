"""Provenance: what each artifact was built from, recorded in it (or beside it) before it is final.

A build records its axis values, a fingerprint of each input file the pipeline names with
``input_files()``, the parameter's registry entry, a fingerprint of the pipeline's code
(``manifest/fingerprints``), the builder version, phase timings, host and timestamps. ``kinds``
writes it where ``manifest/recorded`` reads it. The fingerprint of inputs, registry entry and code
is taken when a stage is begun and kept in its progress store, so a resumed build records what its
phases were really built from.
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
from ..manifest.fingerprints import (
    code_fingerprint,
    fingerprint_inputs,
    fingerprint_mode,
    registry_entry,
)
from ..manifest.recorded import Document
from ..pipeline_module import PIPELINE_FILE


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
        "pipeline": {"path": layout.display_path(PIPELINE_FILE), "sha256": code_fingerprint()},
        "started_at": now(),
    }


class Recorder:
    """Collects one build's provenance from the fingerprint its stage was begun with."""

    def __init__(self, entry: dict[str, Any], begun: Document) -> None:
        input_id, param = entry[axes.INPUT_KEY], entry[axes.PARAM_KEY]
        self.document: Document = {
            "permutation_id": entry["permutation_id"],
            "axes": {axes.INPUT_AXIS: input_id, axes.PARAM_AXIS: param},
            **begun,
            "builder_version": BUILDER_VERSION,
            "python": platform.python_version(),
            "host": os.uname().nodename,
            "pid": os.getpid(),
        }
        self.phases: list[Document] = []

    def resumed(self, number: int, name: str, completed_at: str) -> None:
        """A phase an earlier, interrupted run completed: its time is not known, its end is."""
        self.phases.append(
            {"phase": number, "name": name, "seconds": None, "completed_at": completed_at}
        )

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
        return {**self.document, "phases": list(self.phases), "finished_at": now()}
