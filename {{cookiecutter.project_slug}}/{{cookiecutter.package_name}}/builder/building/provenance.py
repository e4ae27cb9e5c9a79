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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from .. import BUILDER_VERSION, axes, layout, scheduler
from ..manifest.fingerprints import fingerprint_inputs, fingerprint_mode, registry_entry
from ..manifest.measured import previous_attempt
from ..manifest.recorded import Document
from ..pipeline_module import PIPELINE_FILE
from ..tracing import Record
from .measure import Meter


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
    """Collects one build's provenance from the fingerprint its stage was begun with, and what it
    measured: the ``trace`` (``measure``) and each phase's time, CPU and peak memory."""

    def __init__(
        self,
        identity: Document,
        begun: Document,
        meter: Meter | None = None,
        previous: Mapping[str, str] | None = None,
    ) -> None:
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
        self.meter = meter or Meter()
        # The stopped attempt this build follows (its stage's record), if any.
        self.previous = previous_attempt(previous or {})

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
        """Measure a phase; recorded only if it completes."""
        self.meter.phase_begins()
        yield
        used = self.meter.phase_done(number, name)
        self.phases.append({"phase": number, "name": name, **used.fields(), "completed_at": now()})

    def trace(self) -> Document:
        """The whole build's measurements, Nextflow's trace fields among them."""
        total = self.meter.total()
        trace: Document = {
            "start": round(self.meter.started_at, 3),
            "realtime": round(total.seconds, 3),
            "cpu": round(total.cpu, 3),
            "%cpu": round(100 * total.cpu / total.seconds, 1) if total.seconds > 0 else None,
            "peak_rss": total.peak_rss,
            "peak_rss_children": total.peak_rss_children,
            "memory": self.meter.method,
        }
        engine = scheduler.describe()
        if engine is not None:
            trace["engine"] = engine
        if self.previous is not None:
            trace["previous"] = self.previous
        return trace

    def finished(self) -> Document:
        return {
            **self.document,
            **merged(self.ran),
            "phases": list(self.phases),
            "trace": self.trace(),
            "finished_at": now(),
        }
