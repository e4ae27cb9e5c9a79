"""``show``'s two outputs of the document ``manifest/show`` makes: for a person, and as JSON."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import axes, failures, layout, status
from ..manifest.recorded import Document


def mebibytes(size: int | None) -> str:
    return "?" if size is None else f"{size / 2**20:.1f} MiB"


def _took(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds:.3f} s"


def _measured(trace: Document) -> str:
    """``0.061 s, 0.052 s CPU (85%), peak 27.3 MiB (children 3.1 MiB)``."""
    seconds, cpu = trace.get("seconds"), trace.get("cpu")
    share = f" ({100 * cpu / seconds:.0f}%)" if seconds and cpu is not None else ""
    text = f"{_took(seconds)}, {_took(cpu)} CPU{share}, peak {mebibytes(trace.get('peak_rss'))}"
    children = trace.get("peak_rss_children")
    return text + (f" (children {mebibytes(children)})" if children else "")


def _engine(trace: Document) -> str | None:
    """``slurm job 12_3, asked cpus=1 mem=150M time=0:01:00, waited 4 s in the queue``."""
    asked = trace.get("requested") or {}
    if trace.get("engine") is None and not asked:
        return None
    parts = [f"{trace.get('engine') or 'a plan'} job {trace.get('job') or '?'}"]
    if asked:
        parts.append("asked " + " ".join(f"{key}={value}" for key, value in asked.items()))
    if trace.get("queue_wait") is not None:
        parts.append(f"waited {trace['queue_wait']:.0f} s in the queue")
    return ", ".join(parts)


def _previous(trace: Document) -> str | None:
    """``attempt 1 stopped (oom), asked mem=150M, reached 170.2 MiB``."""
    before = trace.get("previous")
    if not before:
        return None
    asked = " ".join(f"{key}={value}" for key, value in (before.get("requested") or {}).items())
    text = f"attempt {before.get('attempt')} stopped ({before.get('reason')})"
    text += f", asked {asked}" if asked else ""
    return text + f", reached {mebibytes(before.get('peak_rss'))}"


def _format_stopped(document: Document) -> str:
    job = document[failures.JOB_KEY]  # recorded only by a build that ran in a SLURM job
    trace = document.get("trace") or {}
    fields = [
        ("status", document["status"]),
        ("reason", document["reason"]),
        ("error", document["error"]),
        *([("SLURM job", job)] if job else []),
        ("error log", layout.display_path(Path(document["error_log"]))),
    ]
    if trace:
        stop = trace.get("stopped") or {}
        where = f", stopped in {stop['where']}" if stop else ""
        fields.append(("measured", f"{_measured(trace)}{where}"))
        if _engine(trace):
            fields.append(("engine", _engine(trace)))
    shown = layout.display_path(Path(document["output_path"]))
    lines = [f"{document['permutation_id']}: {shown} (not built)"]
    lines += [f"  {label:<9}  {value}" for label, value in fields]
    phases = trace.get("phases") or []
    width = max((len(f"{p['phase']} {p['name']}") for p in phases), default=0)
    lines += [_phase_line(phase, width) for phase in phases]
    return "\n".join(lines) + "\n"


def _when(mtime_ns: Any) -> str:
    if not isinstance(mtime_ns, int):
        return "?"
    moment = datetime.fromtimestamp(mtime_ns / 1e9, timezone.utc)
    return moment.isoformat(timespec="seconds")


def _input_line(record: Document) -> str:
    if record.get("missing"):
        return f"    {record.get('path')}  (missing when the build started)"
    size, modified = record.get("size", 0), _when(record.get("mtime_ns"))
    line = f"    {record.get('path')}  {size:,} bytes  modified {modified}"
    return line + (f"  sha256 {record['sha256']}" if "sha256" in record else "")


def _phase_line(record: Document, width: int) -> str:
    """A phase's time, CPU time and peak memory, and when it completed (if recorded)."""
    seconds = record.get("seconds")
    took = "resumed" if seconds is None else f"{seconds:.3f} s"
    name = f"{record.get('phase')} {record.get('name')}"
    line = f"    {name:<{width}}  {took:>9}"
    if record.get("cpu") is not None:
        line += f"  {record['cpu']:.3f} s CPU  peak {mebibytes(record.get('peak_rss')):>10}"
    completed = record.get("completed_at")
    return line + (f"  completed {completed}" if completed else "")


def format_show(document: Document) -> str:
    """The human view of ``load``'s document."""
    recorded: Document | None = document["provenance"]
    if recorded is None:
        return _format_stopped(document)
    values = recorded.get("axes") or {}
    param_entry = json.dumps(recorded.get("param"), sort_keys=True)
    mode = recorded.get("fingerprint", "stat")
    how = "sha256 of the content" if mode == "content" else "size and mtime"
    fields: list[tuple[str, Any]]
    if recorded.get("gather"):
        fields = [("gather", f"{recorded['gather']} {param_entry}")]
    else:
        fields = [
            (axes.INPUT_AXIS, values.get(axes.INPUT_AXIS)),
            (axes.PARAM_AXIS, f"{values.get(axes.PARAM_AXIS)} {param_entry}"),
        ]
    fields += [
        *_code_fields(recorded),
        ("builder", f"{recorded.get('builder_version')} on Python {recorded.get('python')}"),
        ("built on", f"{recorded.get('host')} (pid {recorded.get('pid')})"),
        ("started", recorded.get("started_at")),
        ("finished", recorded.get("finished_at")),
    ]
    trace = document.get("trace")
    if trace is not None:
        fields.append(("measured", _measured(trace)))
        fields += [
            (label, text)
            for label, text in (("engine", _engine(trace)), ("after", _previous(trace)))
            if text
        ]
    stale = document["stale"]
    state = "STALE: " + "; ".join(stale) if stale else "up to date"
    if status.state_of(document["status"]) == status.REDO:  # the same words as the table's row
        why = f" ({document['reason']}): {document['error']}" if document["error"] else ""
        state += f"; {document['status']}{why or ': a rebuild is under way'}"
    width = max(len(label) for label, _ in [*fields, ("inputs", ""), ("accepted", "")])
    shown = layout.display_path(Path(document["output_path"]))
    lines = [f"{document['permutation_id']}: {shown}"]
    lines += [f"  {label:<{width}}  {value}" for label, value in fields]
    inputs = recorded.get("inputs") or []
    members = recorded.get("members")
    if isinstance(members, dict):
        lines.append(f"  {'members':<{width}}  {members.get('count')}, by size and mtime")
    else:
        lines.append(f"  {'inputs':<{width}}  {len(inputs)} file(s), fingerprinted by {how}")
        lines += [_input_line(record) for record in inputs]
    phases = recorded.get("phases") or []
    lines.append(f"  {'phases':<{width}}  {len(phases)}")
    name_width = max((len(f"{p.get('phase')} {p.get('name')}") for p in phases), default=0)
    lines += [_phase_line(record, name_width) for record in phases]
    lines += [f"  {'accepted':<{width}}  {line}" for line in recorded.get("accepted") or []]
    lines.append(f"  {'status':<{width}}  {state}")
    return "\n".join(lines) + "\n"


def _code_fields(recorded: Document) -> list[tuple[str, Any]]:
    """The code a build ran, a line per file, and the libraries; or the whole-file fingerprint
    recorded before per-function fingerprints."""
    ran = recorded.get("code")
    if not isinstance(ran, dict):
        old = recorded.get("pipeline") or {}
        return [("pipeline code", f"{old.get('path')} sha256 {old.get('sha256')}")]
    fields: list[tuple[str, Any]] = [
        ("code" if number == 0 else "", f"{shown}: {', '.join(items)}")
        for number, (shown, items) in enumerate(sorted(ran.items()))
    ] or [("code", "none recorded")]
    found = recorded.get("libraries") or {}
    shown = ", ".join(f"{name} {version}" for name, version in sorted(found.items()))
    return [*fields, ("libraries", shown or "none imported")]


def format_json(document: Document) -> str:
    return json.dumps(document, indent=1, sort_keys=True) + "\n"
