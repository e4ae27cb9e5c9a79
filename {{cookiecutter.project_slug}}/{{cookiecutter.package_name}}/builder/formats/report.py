"""``report``: one self-contained HTML page of the manifest's entries, a pure format as the others.

Everything is in the file: style, script and data, with no network, CDN or font. The data is the
JSON document's entries (``document.json_fields``: any key an entry gains shows in its detail, so
rows of kinds the manifest adds later show without a change here) and each one's ``trace``
(``manifest/measured``) and ``error_tail``, packed in columns in a ``<script
type="application/json">`` that the page parses once:

- a column of few distinct texts (or lists of texts: stale reasons) keeps each once and an index
  per row (``dict``); a column mostly empty keeps only the rows that have a value (``sparse``);
  others are plain lists;
- what each row can rebuild is left out: the artifact's path and the build command, unless they
  differ from what the folder, the ids and the status make (``--force`` for a stale artifact);
  the permutation id, if it is ``<input>_<param>``;
- a trace keeps seconds to the millisecond, memory in MiB to a tenth, and its start as seconds
  after the earliest one.

Beside the permutations, as ``manifest --json`` writes them and packed the same way, each in a
table of its own: the gathers (their fields, traces, error tails, and how many members a built one
was built from), the pairs the pipeline excludes (each with its reason: the grid marks them as
the terminal grid does, in no total) and the orphans (each with why and its paths).

The page (``report.html``: its style and script, with ``@DATA@`` where the data goes) draws only
the rows of the grid in view, and the distributions and the timeline when
they are opened, so the file grows by about 100 bytes a permutation and a browser opens 100,000 of
them in about a second. The grid's letters and colours are the terminal grid's (``grid``).
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ... import settings
from .. import axes, layout
from ..manifest.entries import Entry
from ..manifest.selection import Selection
from ..status import STALE
from . import Context
from .commands import command_head, self_commands
from .document import excluded_fields, gather_fields, json_fields, orphan_fields
from .grid import COLOURS, DONE_SYMBOLS, EXCLUDED, MEANINGS, SYMBOLS, axis_order

DIM = "2"  # the terminal's dim cells (missing, excluded): pale, with dark letters
# The terminal grid's colours (ANSI codes) as the page draws them.
CSS_COLOURS = {
    "31": "#cf222e",
    "32": "#2da44e",
    "33": "#d4a72c",
    "35": "#8250df",
    "36": "#1b9aaa",
    DIM: "#d0d7de",
}
# Keys of an entry the page shows apart from its JSON fields.
APART = ("trace", "error_tail")
# The trace's fields, as columns (phases and numbers are packed apart).
TRACE_NUMBERS = ("seconds", "cpu", "queue_wait")
TRACE_MEMORY = ("peak_rss", "peak_rss_children")
TRACE_OTHER = (
    "engine",
    "job",
    "requested",
    "previous",
    "stopped",
    "host",
    "pid",
    "builder",
    "python",
    "code",
    "finished_at",
)
MIB = 2**20


def pack(values: list[Any]) -> dict[str, Any]:
    """One column: ``dict`` (few distinct texts, or lists of texts: a stale artifact's reasons,
    which many share), ``sparse`` (mostly null) or ``list``."""
    present = len(values) - values.count(None)
    if present * 3 < len(values):
        rows = [row for row, value in enumerate(values) if value is not None]
        return {"t": "sparse", "i": rows, "v": [values[row] for row in rows]}
    kinds = set(map(type, values)) - {type(None)}
    if kinds == {str} or (kinds <= {list, tuple} and all(map(_texts_or_none, values))):
        keys = [tuple(value) if isinstance(value, list | tuple) else value for value in values]
        distinct = [key for key in dict.fromkeys(keys) if key is not None]
        number = {key: index for index, key in enumerate(distinct)}
        if len(number) * 2 <= present:
            shown = [list(key) if isinstance(key, tuple) else key for key in distinct]
            return {"t": "dict", "s": shown, "v": [number.get(key) for key in keys]}
    if kinds == {bool}:
        return {"t": "bool", "v": [None if value is None else int(value) for value in values]}
    return {"t": "list", "v": values}


def _texts_or_none(value: Sequence[Any] | None) -> bool:
    return value is None or all(isinstance(item, str) for item in value)


def _rounded(value: Any, digits: int) -> Any:
    return round(value, digits) if isinstance(value, int | float) else None


def _since(trace: dict[str, Any] | None, origin: float) -> float | None:
    start = trace.get("start") if trace else None
    return start - origin if isinstance(start, int | float) else None


def _mebibytes(value: Any) -> Any:
    return round(value / MIB, 1) if isinstance(value, int | float) else None


def trace_columns(traces: list[dict[str, Any] | None]) -> dict[str, Any]:
    """The traces as columns: starts after the earliest, numbers rounded, phases compact
    (``[name index, seconds, cpu, MiB]``, names kept once)."""
    starts = [t["start"] for t in traces if t and isinstance(t.get("start"), int | float)]
    origin = min(starts, default=0.0)
    names: dict[str, int] = {}
    phases = []
    for trace in traces:
        rows = None
        if trace and trace.get("phases"):  # numbers as the trace rounded them, memory in MiB
            rows = [
                [
                    names.setdefault(str(phase["name"]), len(names)),
                    phase["seconds"],
                    phase["cpu"],
                    None if phase["peak_rss"] is None else round(phase["peak_rss"] / MIB, 1),
                ]
                for phase in trace["phases"]
            ]
        phases.append(rows)
    columns: dict[str, Any] = {
        "start": pack([_rounded(_since(t, origin), 3) for t in traces]),
        "phases": pack(phases),
    }
    for key in TRACE_NUMBERS:
        columns[key] = pack([_rounded(t.get(key), 3) if t else None for t in traces])
    for key in TRACE_MEMORY:
        columns[key] = pack([_mebibytes(t.get(key)) if t else None for t in traces])
    for key in TRACE_OTHER:
        values = [t.get(key) if t else None for t in traces]
        # Objects (a requested set, an engine) are kept as text, so that equal ones share.
        texts = [
            v if v is None or isinstance(v, str | int | float) else json.dumps(v, sort_keys=True)
            for v in values
        ]
        columns[key] = pack(texts)
    return {"origin": origin, "phase_names": list(names), "columns": columns}


def columns_of(fields: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows of fields as the page reads them: their keys, in the order they first come, each key
    a packed column."""
    keys: list[str] = []
    for field in fields:
        keys += [key for key in field if key not in keys and key not in APART]
    return {
        "n": len(fields),
        "keys": keys,
        "columns": {key: pack([field.get(key) for field in fields]) for key in keys},
    }


def rows_of(fields: list[dict[str, Any]], entries: Sequence[Entry]) -> dict[str, Any]:
    """The entries' fields as columns (``columns_of``), with their traces and error tails."""
    return {
        **columns_of(fields),
        "trace": trace_columns([entry.get("trace") for entry in entries]),
        "error_tail": pack([entry.get("error_tail") for entry in entries]),
    }


def _error_log(folder: str) -> str:
    """Where a stopped build's error log is, its id as @ID@ (the layout's, from the folder)."""
    return str(layout.log_file(layout.staging_dir(Path(folder), "@ID@"), "@ID@", "error"))


def _artifact(folder: str, artifact_id: str) -> str:
    return f"{folder}/{artifact_id}.{settings.ARTIFACT_EXTENSION}"


def gathers_of(context: Context, folder: str) -> dict[str, Any]:
    """The gathers' rows, as ``manifest --json`` writes them with how many members a built one
    was built from; where their error logs are, and where the page shows their artifacts."""
    fields = []
    for entry in context.gathers:
        field = {**gather_fields(entry, context.stale), "members": entry.get("members")}
        if field["output_path"] == _artifact(folder, field["gather_id"]):
            field["output_path"] = None
        fields.append(field)
    return {
        **rows_of(fields, context.gathers),
        "error_log": _error_log(folder),
        "shown_folder": f"{context.command_folder}/{layout.GATHER_FOLDER}",
    }


def data_of(entries: list[Entry], selection: Selection, context: Context) -> dict[str, Any]:
    """Everything the page shows, as one JSON-able document: the permutations' rows at its top,
    the gathers', the excluded pairs' and the orphans' each in a table of its own."""
    commands = self_commands(entries, context)
    fields = [
        json_fields(entry, command, stale=context.stale)
        for entry, command in zip(entries, commands, strict=True)
    ]
    folder = entries[0]["output_path"].rsplit("/", 1)[0] if entries else ""
    for field in fields:  # what a row can rebuild is left out
        inp, param = field.get(axes.INPUT_KEY), field.get(axes.PARAM_KEY)
        if field["permutation_id"] == f"{inp}_{param}":
            field["permutation_id"] = None
        if field.get("output_path") == _artifact(folder, f"{inp}_{param}"):
            field["output_path"] = None
        forced = context.force or field["status"] == STALE  # as self_commands makes it
        expected = f"{command_head(context.command_folder)} {axes.INPUT_FLAG} {inp}"
        expected += f" {axes.PARAM_FLAG} {param}{' --force' if forced else ''}"
        if field.get("command") == expected:
            field["command"] = None
    excluded = excluded_fields(context)
    for field in excluded:
        del field["permutation_id"]  # always <input>_<param>
    orphans = context.orphans
    return {
        **rows_of(fields, entries),
        "title": settings.PROJECT_NAME,
        "input_key": axes.INPUT_KEY,
        "param_key": axes.PARAM_KEY,
        "input_axis": axes.INPUT_AXIS,
        "param_axis": axes.PARAM_AXIS,
        # The grid's rows and columns in the terminal grid's order: a value that a pair excluded
        # leaves out of the first row still comes where its cost puts it.
        "inputs": axis_order(entries, axes.INPUT_KEY, 0, selection.sort),
        "params": axis_order(entries, axes.PARAM_KEY, 1, selection.sort),
        "folder": folder,
        "command_folder": context.command_folder,
        "command_head": command_head(context.command_folder),
        "input_flag": axes.INPUT_FLAG,
        "param_flag": axes.PARAM_FLAG,
        "extension": settings.ARTIFACT_EXTENSION,
        "force": context.force,
        "symbols": SYMBOLS,
        "meanings": MEANINGS,
        "colours": {symbol: CSS_COLOURS.get(code, "#999") for symbol, code in COLOURS.items()},
        "dim": sorted(symbol for symbol, code in COLOURS.items() if code == DIM),
        "excluded_mark": EXCLUDED,
        "done_symbols": sorted(DONE_SYMBOLS),
        "generated": context.generated,
        "error_log": _error_log(folder),
        "gathers": gathers_of(context, f"{folder}/{layout.GATHER_FOLDER}"),
        "excluded": columns_of(excluded),
        "orphans": columns_of(orphan_fields(context)),
        "orphan_count": orphans if isinstance(orphans, int) else len(orphans),
    }


def script_json(document: Any) -> str:
    """JSON that a ``<script>`` element holds as it is: no ``<`` to end it early."""
    return json.dumps(document, separators=(",", ":")).replace("<", "\\u003c")


@functools.cache
def page() -> str:
    """The page's HTML, style and script (``report.html`` beside this module), ``@TITLE@`` and
    ``@DATA@`` to fill in."""
    return Path(__file__).with_name("report.html").read_text(encoding="utf-8")


def format_report(entries: list[Entry], selection: Selection, context: Context) -> list[str]:
    """The page, in three pieces: what precedes the data, the data, what follows it."""
    head, tail = page().split("@DATA@")
    title = html.escape(f"{settings.PROJECT_NAME}: build report")
    return [head.replace("@TITLE@", title), script_json(data_of(entries, selection, context)), tail]
