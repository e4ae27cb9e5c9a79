"""What a build measured (``building/measure``), read back the same way from wherever it is kept.

A built artifact keeps its measurements in its provenance: ``trace`` (the whole build: ``start``,
``realtime``, ``cpu``, ``%cpu``, ``peak_rss``, ``peak_rss_children``, the ``engine`` it ran under
and the ``previous`` attempt it follows) and, in each phase's record, ``seconds``, ``cpu`` and
``peak_rss``. A stopped build keeps them in its lock record, noted as it went: ``measured``
(compact JSON: ``start``, each completed phase's ``[number, name, seconds, cpu, peak_rss]`` and
``stopped``, ``[where, seconds, cpu, peak_rss]``), ``peak_rss`` (the peak so far, as the sampler
last noted it) and ``engine`` (compact JSON, as the trace's). Both read into one shape,
``Trace`` (a JSON object, as ``show --json`` prints it); peaks are bytes, times seconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .. import failures, status

# The lock record's keys of a build's measurements (see the module's docstring).
MEASURED, PEAK, ENGINE, ATTEMPT = "measured", "peak_rss", "engine", "attempt"

Trace = dict[str, Any]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _whole(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def of_provenance(document: Mapping[str, Any]) -> Trace | None:
    """A built artifact's measurements; None for one built before builds were measured."""
    trace = document.get("trace")
    if not isinstance(trace, Mapping):
        return None
    phases = [
        {
            "phase": phase.get("phase"),
            "name": str(phase.get("name")),
            "seconds": _number(phase.get("seconds")),
            "cpu": _number(phase.get("cpu")),
            "peak_rss": _whole(phase.get("peak_rss")),
        }
        for phase in document.get("phases") or []
        if isinstance(phase, Mapping)
    ]
    return {
        "start": _number(trace.get("start")),
        "seconds": _number(trace.get("realtime")),
        "cpu": _number(trace.get("cpu")),
        "peak_rss": _whole(trace.get("peak_rss")),
        "peak_rss_children": _whole(trace.get("peak_rss_children")),
        "phases": phases,
        "stopped": None,
        **_engine(trace.get("engine")),
        "previous": trace.get("previous"),
    }


def _engine(engine: Any) -> dict[str, Any]:
    """The engine's fields of a trace: its name, job, requested resources and queue wait."""
    engine = engine if isinstance(engine, Mapping) else {}
    return {
        "engine": engine.get("name"),
        "job": engine.get("job"),
        "requested": engine.get("requested") or None,
        "queue_wait": _number(engine.get("queue_wait")),
    }


def of_record(record: Mapping[str, str]) -> Trace | None:
    """A stopped build's measurements, from its lock record; None if it noted none."""
    measured = _json(record.get(MEASURED))
    peak = _whole(_json(record.get(PEAK)))
    if not isinstance(measured, Mapping) and peak is None:
        return None
    measured = measured if isinstance(measured, Mapping) else {}
    phases = [
        {
            "phase": row[0],
            "name": str(row[1]),
            "seconds": _number(row[2]),
            "cpu": _number(row[3]),
            "peak_rss": _whole(row[4]),
        }
        for row in measured.get("phases") or []
        if isinstance(row, list) and len(row) == 5
    ]
    stopped = measured.get("stopped")
    stop = None
    if isinstance(stopped, list) and len(stopped) == 4:
        stop = dict(zip(("where", "seconds", "cpu", "peak_rss"), stopped, strict=True))
    segments = [*phases, *([stop] if stop else [])]
    peaks = [peak, *(_whole(segment["peak_rss"]) for segment in segments)]
    known = [value for value in peaks if value is not None]
    seconds = [_number(segment["seconds"]) for segment in segments]
    cpu = [_number(segment["cpu"]) for segment in segments]
    return {
        "start": _number(measured.get("start")),
        "seconds": sum(s for s in seconds if s is not None) if segments else None,
        "cpu": sum(c for c in cpu if c is not None) if segments else None,
        "peak_rss": max(known) if known else None,
        "peak_rss_children": None,
        "phases": phases,
        "stopped": stop,
        **_engine(_json(record.get(ENGINE))),
        "previous": None,
    }


def stopped(record: Mapping[str, str]) -> bool:
    """A stage's record is of a build that stopped (not of one that published its artifact)."""
    return "holder" in record and not record.get("phase", "").endswith(status.PUBLISHED)


def previous_attempt(record: Mapping[str, str]) -> dict[str, Any] | None:
    """What a build records of the stopped attempt it follows (its stage's record when it took the
    lock): why it stopped, what it was given and how high its memory got; None if none stopped."""
    if not stopped(record):
        return None
    measured = of_record(record) or {}
    return {
        "reason": failures.recorded(record),
        "requested": measured.get("requested"),
        "peak_rss": measured.get("peak_rss"),
        "attempt": attempt_of(record),
    }


def attempt_of(record: Mapping[str, str]) -> int:
    """Which attempt a lock record is of: 1 unless it says more."""
    value = record.get(ATTEMPT, "1")
    return int(value) if value.isdigit() else 1
