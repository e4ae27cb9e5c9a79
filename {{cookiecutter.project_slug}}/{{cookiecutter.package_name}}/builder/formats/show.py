"""``show``'s two outputs of the document ``manifest/show`` makes: for a person, and as JSON."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import axes, failures, layout, status
from ..manifest.recorded import Document


def _format_stopped(document: Document) -> str:
    fields = [
        ("status", document["status"]),
        ("reason", document["reason"]),
        ("error", document["error"]),
        ("SLURM job", document[failures.JOB_KEY] or "none recorded"),
        ("error log", layout.display_path(Path(document["error_log"]))),
    ]
    shown = layout.display_path(Path(document["output_path"]))
    lines = [f"{document['permutation_id']}: {shown} (not built)"]
    lines += [f"  {label:<9}  {value}" for label, value in fields]
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
    seconds = record.get("seconds")
    took = "resumed" if seconds is None else f"{seconds:.3f} s"
    name = f"{record.get('phase')} {record.get('name')}"
    return f"    {name:<{width}}  {took:>9}  completed {record.get('completed_at')}"


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
