"""``show <permutation_id>``: a built artifact's provenance, and whether it is stale today; or,
for a build that stopped, why (``failures``: SLURM is asked about a job it may know more of);
either way what it measured (``measured``). ``formats/show`` writes the document this makes."""

from __future__ import annotations

from pathlib import Path

from .. import failures, layout, status
from ..ids import UsageError, check_safe_stem
from . import measured
from .entries import discover_inputs, param_names, permutation_entry
from .recorded import RECORDED, Document, MissingProvenance
from .stages import read_stage
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
        recorded = RECORDED.read(Path(entry["output_path"]))
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
        "trace": measured.of_provenance(recorded),
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
        "trace": measured.of_record(read_stage(output_dir, permutation_id).record),
    }
