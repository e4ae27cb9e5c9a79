"""Printing the manifest: filter, sort and limit, then a table, self-commands or one JSON document.

Everything here works on the entries it is handed and writes to the stream it is handed; it never
looks at the file system, so what it prints is exactly what the manifest builder saw.
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, TextIO

from .. import settings
from . import axes
from .manifest import Entry

if TYPE_CHECKING:
    from .slurm import SlurmJob


def select(
    entries: list[Entry],
    *,
    missing: bool = False,
    done: bool = False,
    sort: str = "size",
    limit: int | None = None,
    stale: bool = False,
) -> list[Entry]:
    """Filter (missing or done), sort (cheapest first, or by name), keep the first ``limit``.

    ``stale`` keeps the entries ``stale.mark_stale`` marked STALE, and with ``missing`` the missing
    ones too: everything a rebuild would touch.
    """
    if stale:
        entries = [e for e in entries if e["status"] == "STALE" or (missing and not e["done"])]
    elif missing:
        entries = [e for e in entries if not e["done"]]
    if done:
        entries = [e for e in entries if e["done"]]
    if sort == "name":
        entries = sorted(entries, key=lambda e: e["permutation_id"])
    else:
        entries = sorted(entries, key=lambda e: e["sort_key"])
    return entries if limit is None else entries[:limit]


def self_command(entry: Entry, output_folder: str, *, force: bool = False) -> str:
    """The command, runnable from the project root, that builds exactly this permutation.

    A stale artifact is done, so its command always carries ``--force``.
    """
    force = force or entry["status"] == "STALE"
    return (
        f"{settings.COMMAND_RUNNER} -m {settings.PACKAGE}.builder build"
        f" --output-folder {shlex.quote(output_folder)}"
        f" {axes.INPUT_FLAG} {entry[axes.INPUT_KEY]}"
        f" {axes.PARAM_FLAG} {entry[axes.PARAM_KEY]}"
        f"{' --force' if force else ''}"
    )


def format_commands(entries: list[Entry], output_folder: str, *, force: bool = False) -> str:
    return "".join(self_command(e, output_folder, force=force) + "\n" for e in entries)


def format_table(entries: list[Entry]) -> str:
    """The spec's table: a ``=== Manifest (done/total) ===`` header and one row per entry.

    Live and failed builds add their phase (and a failed one its last error) after the label;
    stale artifacts, why they are stale.
    """
    total_done = sum(1 for e in entries if e["done"])
    rows = [f"\n=== Manifest ({total_done}/{len(entries)}) ===\n"]
    for e in entries:
        status = e["status"]
        if status == "DONE" or status == "MISS":
            rows.append(f"  [{status}] {e['permutation_id']:<30s} {e['label']}")
            continue
        marker = status.split(" ", 1)[0]
        note = e["error"] or "; ".join(e.get("stale") or ())
        detail = f"{status}: {note}" if note and status != marker else note or status
        rows.append(f"  [{marker}] {e['permutation_id']:<30s} {e['label']}  {detail}")
    return "\n".join(rows) + "\n\n"


def format_json(entries: list[Entry], output_folder: str, *, force: bool = False) -> str:
    """One JSON document: counts, then every entry with every field and its self-command."""
    document = {
        "output_folder": output_folder,
        "input_axis": axes.INPUT_AXIS,
        "param_axis": axes.PARAM_AXIS,
        "total": len(entries),
        "done": sum(1 for e in entries if e["done"]),
        "entries": [{**e, "command": self_command(e, output_folder, force=force)} for e in entries],
    }
    return json.dumps(document) + "\n"


def print_manifest(
    entries: list[Entry],
    output_folder: str,
    out: TextIO,
    *,
    missing: bool = False,
    done: bool = False,
    sort: str = "size",
    limit: int | None = None,
    commands: bool = False,
    force: bool = False,
    as_json: bool = False,
    stale: bool = False,
    slurm: SlurmJob | None = None,
) -> None:
    """Select the entries, then write them as commands, JSON, a SLURM script or a table."""
    chosen = select(entries, missing=missing, done=done, sort=sort, limit=limit, stale=stale)
    if slurm is not None:
        from .slurm import format_script  # re and dataclasses only when asked for

        lines = [self_command(e, output_folder, force=force) for e in chosen]
        out.write(
            format_script(
                lines, slurm, project_name=settings.PROJECT_NAME, job_name=settings.PACKAGE
            )
        )
    elif commands:
        out.write(format_commands(chosen, output_folder, force=force))
    elif as_json:
        out.write(format_json(chosen, output_folder, force=force))
    else:
        out.write(format_table(chosen))
