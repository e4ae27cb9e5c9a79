"""Printing the manifest: filter, sort and limit, then a table, self-commands or one JSON document.

Everything here works on the entries (or, for the JSON document, the matrix) it is handed and
writes to the stream it is handed; it never looks at the file system, so what it prints is exactly
what the manifest builder saw.
"""

from __future__ import annotations

import shlex
from operator import itemgetter

from .. import settings
from . import axes
from .manifest import CELL_DONE, Cell, Entry, Matrix
from .pipeline_module import pipeline

# typing.TYPE_CHECKING without importing typing, which would add 4 ms to every info subcommand.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, TextIO

    from .slurm import SlurmJob

# The JSON document is encoded this many entries at a time: a 100,000-entry manifest then never
# exists twice in memory, once as entries and once as one huge string.
JSON_SLICE = 1000


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
    entries = sorted(entries, key=itemgetter("permutation_id" if sort == "name" else "sort_key"))
    return entries if limit is None else entries[:limit]


def command_parts(output_folder: str, *, force: bool = False) -> tuple[str, str, str]:
    """A self-command around its two ids: ``head + input id + middle + param name + tail``."""
    head = (
        f"{settings.COMMAND_RUNNER} -m {settings.PACKAGE}.builder build"
        f" --output-folder {shlex.quote(output_folder)} {axes.INPUT_FLAG} "
    )
    return head, f" {axes.PARAM_FLAG} ", " --force" if force else ""


def self_commands(entries: list[Entry], output_folder: str, *, force: bool = False) -> list[str]:
    """For each entry, the command, runnable from the project root, that builds exactly it.

    A stale artifact is done, so its command always carries ``--force``.
    """
    head, middle, tail = command_parts(output_folder, force=force)
    forced = command_parts(output_folder, force=True)[2]
    input_key, param_key = axes.INPUT_KEY, axes.PARAM_KEY
    return [
        f"{head}{e[input_key]}{middle}{e[param_key]}{forced if e['status'] == 'STALE' else tail}"
        for e in entries
    ]


def format_commands(entries: list[Entry], output_folder: str, *, force: bool = False) -> str:
    return "".join(f"{command}\n" for command in self_commands(entries, output_folder, force=force))


def format_table(entries: list[Entry]) -> str:
    """The spec's table: a ``=== Manifest (done/total) ===`` header and one row per entry.

    Live and failed builds add their phase (and a failed one its last error) after the label;
    stale artifacts, why they are stale.
    """
    total_done = sum(map(itemgetter("done"), entries))
    # %-formatting: half the time of an f-string with a format spec, on a row per permutation.
    rows = [
        "  [%s] %-30s %s" % (e["status"], e["permutation_id"], e["label"])  # noqa: UP031
        if e["status"] in ("DONE", "MISS")
        else _staged_row(e)
        for e in entries
    ]
    header = f"\n=== Manifest ({total_done}/{len(entries)}) ===\n"
    return "\n".join([header, *rows]) + "\n\n"


def _staged_row(entry: Entry) -> str:
    status = entry["status"]
    marker = status.split(" ", 1)[0]
    note = entry["error"] or "; ".join(entry.get("stale") or ())
    detail = f"{status}: {note}" if note and status != marker else note or status
    return f"  [{marker}] {entry['permutation_id']:<30s} {entry['label']}  {detail}"


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
# The keys of the manifest builder's entries; an entry's other keys (stale) are written after them.
ENTRY_KEYS = frozenset({*JSON_KEYS, "sort_key", "label"})


def json_fields(entry: Entry, command: str) -> dict[str, Any]:
    """One entry as the JSON document writes it: the schema the README documents, then its own keys.

    ``sort_key`` and ``label`` are left out: the entries come in the order asked for, and ``cost``
    with the document's ``cost_unit`` says what the label says.
    """
    fields = {key: entry[key] for key in JSON_KEYS}
    fields["cost"] = list(entry["sort_key"][:2])
    fields["command"] = command
    fields.update((key, value) for key, value in entry.items() if key not in ENTRY_KEYS)
    return fields


def json_document(
    entries: list[Entry], output_folder: str, *, force: bool = False
) -> Iterator[str]:
    """One JSON document, in pieces: the counts, then each entry's ``json_fields``."""
    import json  # only this output needs it

    commands = self_commands(entries, output_folder, force=force)
    yield json_head(output_folder, len(entries), sum(map(itemgetter("done"), entries)))
    for start in range(0, len(entries), JSON_SLICE):
        stop = start + JSON_SLICE
        objects = list(map(json_fields, entries[start:stop], commands[start:stop]))
        yield ("," if start else "") + json.dumps(objects, separators=(",", ":"))[1:-1]
    yield "]}\n"


def matrix_document(
    matrix: Matrix,
    output_folder: str,
    *,
    missing: bool = False,
    done: bool = False,
    sort: str = "size",
    limit: int | None = None,
    force: bool = False,
) -> Iterator[str]:
    """``json_document(select(matrix.entries(), ...))``, byte for byte, with no entry dict made.

    The cells come in sort_key order, so selecting them is a filter, a sort by id if asked, and a
    slice; each is then written by cell_encoder.
    """
    cells = matrix.cells()
    if missing:
        cells = [cell for cell in cells if not cell[CELL_DONE]]
    if done:
        cells = [cell for cell in cells if cell[CELL_DONE]]
    if sort == "name":
        cells.sort(key=itemgetter(0))
    if limit is not None:
        cells = cells[:limit]
    yield json_head(output_folder, len(cells), sum(map(itemgetter(CELL_DONE), cells)))
    encode = cell_encoder(matrix, command_parts(output_folder, force=force))
    for start in range(0, len(cells), JSON_SLICE):
        yield ("," if start else "") + ",".join(map(encode, cells[start : start + JSON_SLICE]))
    yield "]}\n"


def json_head(output_folder: str, total: int, done: int) -> str:
    """The document up to its first entry: where, which axes, the cost unit and the counts."""
    return (
        f'{{"output_folder":{json_string(output_folder)},'
        f'"input_axis":{json_string(axes.INPUT_AXIS)},'
        f'"param_axis":{json_string(axes.PARAM_AXIS)},'
        f'"cost_unit":{json_string(pipeline.COST_UNIT)},'
        f'"total":{total},"done":{done},"entries":['
    )


def json_string(text: str) -> str:
    """``json.dumps(text)``; plain ASCII, the common case, without importing json (2 ms)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    import json

    return json.dumps(text)


def cell_encoder(matrix: Matrix, command: tuple[str, str, str]) -> Callable[[Cell], str]:
    """What ``json_fields`` of a cell's entry is as JSON, at a fraction of json.dumps's time.

    Ids are safe file stems, with nothing to escape, so only what surrounds them is encoded, and
    once: the output folder, the extension, the self-command's parts (see command_parts). Statuses
    other than DONE and MISS, errors and costs that are not ints go through json.
    """
    input_json, param_json = json_string(axes.INPUT_KEY), json_string(axes.PARAM_KEY)
    folder = json_string(f"{matrix.output_dir}/")[:-1]  # the path up to the id, quote opened
    suffix = json_string("." + settings.ARTIFACT_EXTENSION)[1:]  # the rest, quote closed
    head, middle, tail = (json_string(part) for part in command)
    head, middle, tail = head[:-1], middle[1:-1], tail[1:]
    sizes, staged = matrix.artifacts, matrix.staged
    states = {
        True: '"done":true,"status":"DONE","error":null',
        False: '"done":false,"status":"MISS","error":null',
    }

    def state(permutation_id: str, done: bool) -> str:
        if permutation_id not in staged:
            return states[done]
        status, error = staged[permutation_id]
        return (
            f'"done":{"true" if done else "false"},"status":{json_string(status)},'
            f'"error":{"null" if error is None else json_string(error)}'
        )

    numbers: dict[tuple[type, object], str] = {}  # costs that are not ints, as JSON, made once

    def number(value: object) -> str:
        if type(value) is int:
            return str(value)
        text = numbers.get((type(value), value))
        if text is None:
            import json

            text = numbers[type(value), value] = json.dumps(value)
        return text

    def encode(cell: Cell) -> str:
        permutation_id, inp, param, cost, param_cost, done = cell
        size = sizes[permutation_id] if done else None
        if type(cost) is not int or type(param_cost) is not int:
            cost, param_cost = number(cost), number(param_cost)
        return (
            f'{{"permutation_id":"{permutation_id}",{input_json}:"{inp}",{param_json}:"{param}",'
            f"{state(permutation_id, done) if staged else states[done]},"
            f'"output_path":{folder}{permutation_id}{suffix},'
            f'"output_size":{"null" if size is None else size},'
            f'"cost":[{cost},{param_cost}],'
            f'"command":{head}{inp}{middle}{param}{tail}}}'
        )

    return encode


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

        lines = self_commands(chosen, output_folder, force=force)
        out.write(
            format_script(
                lines, slurm, project_name=settings.PROJECT_NAME, job_name=settings.PACKAGE
            )
        )
    elif commands:
        out.write(format_commands(chosen, output_folder, force=force))
    elif as_json:
        out.writelines(json_document(chosen, output_folder, force=force))
    else:
        out.write(format_table(chosen))
