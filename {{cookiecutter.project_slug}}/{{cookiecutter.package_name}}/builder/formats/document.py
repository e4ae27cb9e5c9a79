"""``manifest --json``: one JSON document, made by the json module from the entries, with the
gathers, the orphans and the excluded pairs after them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .. import axes, layout
from ..manifest.entries import Entry
from ..manifest.selection import Selection
from ..pipeline_module import pipeline
from . import Context
from .commands import command_head, self_commands

# The entry keys the document writes as they are (json_fields, in this order); sort_key and label
# become "cost".
JSON_KEYS = (
    "permutation_id",
    axes.INPUT_KEY,
    axes.PARAM_KEY,
    "done",
    "status",
    "error",
    "reason",
    "output_path",
    "output_size",
)
# An entry's keys beyond these (``slurm_job``, ``stale``) are written after them. Every entry has
# the COMMON_KEYS; a stopped build's has its ``reason`` too, a stale artifact's its ``stale``.
ENTRY_KEYS = frozenset({*JSON_KEYS, "sort_key", "label"})
COMMON_KEYS = ENTRY_KEYS - {"reason"}
# Entries are encoded this many at a time: the field dicts of a large manifest never all exist at
# once, and a slice's die young, before they fill the collector's first generation (700 objects
# by default), so encoding starts no collection over the manifest's entries: at 100,000 entries
# the document takes about 15% less time than in slices of 1,000.
SLICE = 100


def json_fields(entry: Entry, command: str, *, stale: bool = False) -> dict[str, Any]:
    """One entry as the document writes it: the schema docs/json.md documents, then its own keys.

    ``sort_key`` and ``label`` are left out: the entries come in the order asked for, and ``cost``
    with the document's ``cost_unit`` says what the label says. When staleness was asked for,
    every entry says it: a stale one's reasons, none for one up to date, null for one not built.
    """
    sort_key = entry["sort_key"]
    fields = {
        "permutation_id": entry["permutation_id"],
        axes.INPUT_KEY: entry[axes.INPUT_KEY],
        axes.PARAM_KEY: entry[axes.PARAM_KEY],
        "done": entry["done"],
        "status": entry["status"],
        "error": entry["error"],
        "reason": entry.get("reason"),  # a stopped build's only
        "output_path": entry["output_path"],
        "output_size": entry["output_size"],
        "cost": [sort_key[0], sort_key[1]],
        "command": command,
    }
    if len(entry) > len(COMMON_KEYS):
        fields.update((key, value) for key, value in entry.items() if key not in ENTRY_KEYS)
    if stale and "stale" not in fields:
        fields["stale"] = [] if entry["done"] else None
    return fields


def format_json(entries: list[Entry], selection: Selection, context: Context) -> Iterator[str]:
    """The document: where, which axes, the cost unit, the counts, then each entry's fields.

    A folder that commands cannot hold is refused here, before the first piece is written.
    """
    command_head(context.command_folder)
    return _pieces(entries, context)


def _pieces(entries: list[Entry], context: Context) -> Iterator[str]:
    head = {
        "output_folder": context.command_folder,
        "input_axis": axes.INPUT_AXIS,
        "param_axis": axes.PARAM_AXIS,
        "cost_unit": pipeline.COST_UNIT,
        "total": len(entries),
        "done": sum(entry["done"] for entry in entries),
        "entries": [],
    }
    compact = json.JSONEncoder(separators=(",", ":")).encode
    yield compact(head)[:-2]  # up to the entries' opening bracket
    for start in range(0, len(entries), SLICE):
        chosen = entries[start : start + SLICE]
        commands = zip(chosen, self_commands(chosen, context), strict=True)
        objects = [json_fields(entry, command, stale=context.stale) for entry, command in commands]
        yield ("," if start else "") + compact(objects)[1:-1]
    yield "]," + compact(_rest(context))[1:] + "\n"


def gather_fields(entry: Entry, stale: bool) -> dict[str, Any]:
    """A gather as the document writes it."""
    fields = {
        "gather_id": entry["permutation_id"],
        "gather": entry["gather"],
        axes.INPUT_KEY: entry[axes.INPUT_KEY],
        axes.PARAM_KEY: entry[axes.PARAM_KEY],
        "done": entry["done"],
        "status": entry["status"],
        "error": entry["error"],
        "reason": entry.get("reason"),
        "output_path": entry["output_path"],
        "output_size": entry["output_size"],
        "label": entry["label"],
    }
    if stale:
        fields["stale"] = (
            list(entry["stale"]) if "stale" in entry else [] if entry["done"] else None
        )
    return fields


def orphan_fields(context: Context) -> list[dict[str, Any]]:
    """Each orphan as the document writes it: its id, why, its paths (none when only counted)."""
    orphans = [] if isinstance(context.orphans, int) else context.orphans
    return [
        {
            "id": orphan.name,
            "why": orphan.why,
            "paths": [layout.display_path(path) for path in orphan.paths],
        }
        for orphan in orphans
    ]


def excluded_fields(context: Context) -> list[dict[str, Any]]:
    """Each excluded pair as the document writes it, with its reason."""
    return [
        {"permutation_id": pid, axes.INPUT_KEY: inp, axes.PARAM_KEY: param, "reason": reason}
        for pid, (inp, param, reason) in context.excluded.items()
    ]


def _rest(context: Context) -> dict[str, Any]:
    """What follows the entries: the gathers, the orphans and the excluded pairs."""
    return {
        "gathers": [gather_fields(entry, context.stale) for entry in context.gathers],
        "orphans": orphan_fields(context),
        "excluded": excluded_fields(context),
    }
