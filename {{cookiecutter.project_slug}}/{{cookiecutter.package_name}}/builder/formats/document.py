"""``manifest --json``: one JSON document, made by the json module from the entries."""

from __future__ import annotations

import json
from typing import Any

from .. import axes
from ..manifest import Entry
from ..pipeline_module import pipeline
from ..selection import Selection
from . import Context
from .commands import self_commands

# The entry keys the document writes as they are; sort_key and label become "cost".
JSON_KEYS = (
    "permutation_id",
    axes.INPUT_KEY,
    axes.PARAM_KEY,
    "done",
    "status",
    "error",
    "output_path",
    "output_size",
)
# An entry's keys beyond these (``stale``) are written after them.
ENTRY_KEYS = frozenset({*JSON_KEYS, "sort_key", "label"})
# Entries are encoded this many at a time, so that the field dicts of a large manifest never all
# exist at once.
SLICE = 1000


def json_fields(entry: Entry, command: str) -> dict[str, Any]:
    """One entry as the document writes it: the schema the README documents, then its own keys.

    ``sort_key`` and ``label`` are left out: the entries come in the order asked for, and ``cost``
    with the document's ``cost_unit`` says what the label says.
    """
    fields = {key: entry[key] for key in JSON_KEYS}
    fields["cost"] = list(entry["sort_key"][:2])
    fields["command"] = command
    fields.update((key, value) for key, value in entry.items() if key not in ENTRY_KEYS)
    return fields


def format_json(entries: list[Entry], selection: Selection, context: Context) -> str:
    """The document: where, which axes, the cost unit, the counts, then each entry's fields."""
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
    commands = self_commands(entries, context)
    parts = [compact(head)[:-2]]  # up to the entries' opening bracket
    for start in range(0, len(entries), SLICE):
        stop = start + SLICE
        objects = list(map(json_fields, entries[start:stop], commands[start:stop]))
        parts.append(("," if start else "") + compact(objects)[1:-1])
    parts.append("]}\n")
    return "".join(parts)
