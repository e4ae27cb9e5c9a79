"""``show <id>``: a built artifact's provenance, and whether it is stale today; or, for a build
that stopped, why (``failures``: SLURM is asked about a job it may know more of); either way what
it measured (``measured``). The id is a permutation's or a gather's. ``formats/show`` writes the
document this makes."""

from __future__ import annotations

from pathlib import Path

from .. import failures, layout, status
from ..ids import UsageError, check_safe_stem
from . import gathers, measured
from .entries import Entry, axis_values, discover_inputs, param_names, permutation_entry, survey
from .recorded import RECORDED, Document, MissingProvenance
from .stages import read_stage
from .stale import Today, mark_gathers


def resolve(permutation_id: str) -> tuple[str, str]:
    """The (input id, parameter name) pair behind a permutation id, or a UsageError."""
    check_safe_stem(permutation_id, "permutation id")
    params = set(param_names())
    for inp in discover_inputs():
        param = permutation_id[len(inp) + 1 :]
        if permutation_id.startswith(f"{inp}_") and param in params:
            return inp, param
    raise UsageError(f"unknown permutation id {permutation_id!r}; `manifest` lists every id")


def _gather(output_dir: Path, gather_id: str) -> Entry | None:
    """A gather's entry, marked stale if it is (its members stat-ed), or None if no such gather."""
    if not gathers.declared():
        return None
    inputs, params = axis_values()
    if gather_id not in {target.gather_id for target in gathers.targets(inputs, params)}:
        return None
    found = survey(output_dir, sizes=False)
    entry = next(e for e in found.gathers if e["permutation_id"] == gather_id)

    def lines_of(target: gathers.Target) -> list[str]:
        prints = gathers.fingerprints(gathers.members(target, found.entries))
        return [gathers.line(p["path"], p["size"], p["mtime_ns"]) for p in prints]

    mark_gathers([entry], output_dir, Today(), lines_of)
    return entry


def load(output_dir: Path, permutation_id: str) -> Document:
    """The artifact's path, its recorded provenance and today's staleness reasons (empty: fresh)."""
    check_safe_stem(permutation_id, "id")
    gathered = _gather(output_dir, permutation_id)
    if gathered is not None:
        return _document(gathered, None)
    inp, param = resolve(permutation_id)
    entry = permutation_entry(output_dir, inp, param)
    return _document(entry, (inp, param))


def _document(entry: Entry, pair: tuple[str, str] | None) -> Document:
    permutation_id = entry["permutation_id"]
    output_dir = Path(entry["output_path"]).parent
    failures.learn([entry])
    if not entry["done"] and entry.get("reason") is not None:
        return _stopped(entry, output_dir)
    if not entry["done"]:
        raise UsageError(
            f"{permutation_id} is not built ({entry['status']}); only an artifact has provenance"
        )
    try:
        recorded = RECORDED.read(Path(entry["output_path"]))
        stale = list(entry.get("stale", ())) if pair is None else Today().reasons(recorded, *pair)
    except MissingProvenance as why:
        raise UsageError(
            f"{permutation_id} has no provenance ({why}); rebuild it with --force to record one"
        ) from None
    if pair is None and stale and stale[0].startswith("no provenance"):
        raise UsageError(f"{permutation_id} has {stale[0]}; rebuild it with --force to record one")
    return {
        "permutation_id": permutation_id,
        "built": True,
        "output_path": entry["output_path"],
        "status": status.with_staleness(entry["status"]) if stale else entry["status"],
        "gather": entry.get("gather"),
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
