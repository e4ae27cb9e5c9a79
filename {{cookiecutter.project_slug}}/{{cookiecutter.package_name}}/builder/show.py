"""``show <permutation_id>``: a built artifact's provenance, and whether it is stale today; or,
for a build that stopped, why (``failures``: SLURM is asked about a job it may know more of)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import axes, failures, layout, status
from .ids import UsageError, check_safe_stem
from .kinds import KIND, Document, MissingProvenance
from .manifest import discover_inputs, param_names, permutation_entry
from .stale import Today


def resolve(permutation_id: str) -> tuple[str, str]:
    """The (input id, parameter name) pair behind a permutation id, or a UsageError."""
    check_safe_stem(permutation_id, "permutation id")
    params = set(param_names())
    for inp in discover_inputs():
        param = permutation_id[len(inp) + 1 :]
        if permutation_id.startswith(f"{inp}_") and param in params:
            return inp, param
    raise UsageError(f"unknown permutation id {permutation_id!r}; `manifest` lists every id")


def load(output_dir: Path, permutation_id: str) -> Document:
    """The artifact's path, its recorded provenance and today's staleness reasons (empty: fresh)."""
    inp, param = resolve(permutation_id)
    entry = permutation_entry(output_dir, inp, param)
    failures.learn([entry])
    if not entry["done"] and entry.get("reason") is not None:
        return _stopped(entry, output_dir)
    if not entry["done"]:
        raise UsageError(
            f"{permutation_id} is not built ({entry['status']}); only an artifact has provenance"
        )
    try:
        recorded = KIND.read_provenance(Path(entry["output_path"]))
    except MissingProvenance as why:
        raise UsageError(
            f"{permutation_id} has no provenance ({why}); rebuild it with --force to record one"
        ) from None
    stale = Today().reasons(recorded, inp, param)
    return {
        "permutation_id": permutation_id,
        "built": True,
        "output_path": entry["output_path"],
        "status": status.with_staleness(entry["status"]) if stale else entry["status"],
        "error": entry["error"],
        "reason": entry.get("reason"),  # a rebuild that stopped (REDO)
        "stale": stale,
        "provenance": recorded,
    }


def _stopped(entry: Document, output_dir: Path) -> Document:
    """A stopped build's document: where and why it stopped, and its error log; no provenance,
    and no staleness (null, as ``manifest --stale`` gives one not built), since nothing is built."""
    permutation_id = entry["permutation_id"]
    stage = layout.staging_dir(output_dir, permutation_id)
    return {
        "permutation_id": permutation_id,
        "built": False,
        "output_path": entry["output_path"],
        "status": entry["status"],
        "error": entry["error"],
        "reason": entry["reason"],
        failures.JOB_KEY: entry.get(failures.JOB_KEY),
        "error_log": str(layout.log_file(stage, permutation_id, "error")),
        "stale": None,
        "provenance": None,
    }


def _format_stopped(document: Document) -> str:
    job = document[failures.JOB_KEY]  # recorded only by a build that ran in a SLURM job
    fields = [
        ("status", document["status"]),
        ("reason", document["reason"]),
        ("error", document["error"]),
        *([("SLURM job", job)] if job else []),
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
    code = recorded.get("pipeline") or {}
    param_entry = json.dumps(recorded.get("param"), sort_keys=True)
    mode = recorded.get("fingerprint", "stat")
    how = "sha256 of the content" if mode == "content" else "size and mtime"
    fields = [
        (axes.INPUT_AXIS, values.get(axes.INPUT_AXIS)),
        (axes.PARAM_AXIS, f"{values.get(axes.PARAM_AXIS)} {param_entry}"),
        ("pipeline code", f"{code.get('path')} sha256 {code.get('sha256')}"),
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
    width = max(len(label) for label, _ in [*fields, ("inputs", "")])
    shown = layout.display_path(Path(document["output_path"]))
    lines = [f"{document['permutation_id']}: {shown}"]
    lines += [f"  {label:<{width}}  {value}" for label, value in fields]
    inputs = recorded.get("inputs") or []
    lines.append(f"  {'inputs':<{width}}  {len(inputs)} file(s), fingerprinted by {how}")
    lines += [_input_line(record) for record in inputs]
    phases = recorded.get("phases") or []
    lines.append(f"  {'phases':<{width}}  {len(phases)}")
    name_width = max((len(f"{p.get('phase')} {p.get('name')}") for p in phases), default=0)
    lines += [_phase_line(record, name_width) for record in phases]
    lines.append(f"  {'status':<{width}}  {state}")
    return "\n".join(lines) + "\n"


def format_json(document: Document) -> str:
    return json.dumps(document, indent=1, sort_keys=True) + "\n"
