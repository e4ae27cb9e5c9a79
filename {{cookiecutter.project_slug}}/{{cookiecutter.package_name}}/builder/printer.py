"""Printing the manifest: filter, sort and limit, then a table, self-commands or one JSON document.

Everything here works on the entries it is handed and writes to the stream it is handed; it never
looks at the file system, so what it prints is exactly what the manifest builder saw.
"""

from __future__ import annotations

import shlex
from operator import itemgetter

from .. import settings
from . import axes
from .manifest import Entry

# typing.TYPE_CHECKING without importing typing, which would add 4 ms to every info subcommand.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import ModuleType
    from typing import TextIO

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


def json_document(
    entries: list[Entry], output_folder: str, *, force: bool = False
) -> Iterator[str]:
    """One JSON document, in pieces: counts, then every entry with every field and its command."""
    import json  # only this output needs it

    head = {
        "output_folder": output_folder,
        "input_axis": axes.INPUT_AXIS,
        "param_axis": axes.PARAM_AXIS,
        "total": len(entries),
        "done": sum(map(itemgetter("done"), entries)),
    }
    yield json.dumps(head)[:-1] + ', "entries": ['  # the head, left open for the entries
    # Entries made by the manifest builder all have its keys; any others take json.dumps.
    if entries and entries[0].keys() == ENTRY_KEYS and len(entries[0]["sort_key"]) == 4:
        encode = entry_encoder(json, command_parts(output_folder, force=force))

        def encode_slice(part: list[Entry]) -> str:
            return ", ".join(map(encode, part))

    else:

        def encode_slice(part: list[Entry]) -> str:
            commands = self_commands(part, output_folder, force=force)
            objects = [{**e, "command": c} for e, c in zip(part, commands, strict=True)]
            return json.dumps(objects)[1:-1]

    for start in range(0, len(entries), JSON_SLICE):
        yield (", " if start else "") + encode_slice(entries[start : start + JSON_SLICE])
    yield "]}\n"


# The keys of the manifest builder's entries, which entry_encoder writes.
ENTRY_KEYS = frozenset(
    {
        "permutation_id",
        axes.INPUT_KEY,
        axes.PARAM_KEY,
        "done",
        "status",
        "error",
        "output_path",
        "output_size",
        "sort_key",
        "label",
    }
)


def entry_encoder(json: ModuleType, command: tuple[str, str, str]) -> Callable[[Entry], str]:
    """What ``json.dumps({**entry, "command": ...})`` writes, in well under half its time.

    It relies on what the manifest builder guarantees: the keys of ENTRY_KEYS, ids that are safe
    file stems (nothing to escape) and a sort key of two costs and the two ids. So the self-command
    is its parts (see command_parts) encoded once around the raw ids, an int cost is written as
    Python writes it, and only the other strings go through the json module's C string encoder.
    """
    string = json.encoder.encode_basestring_ascii
    input_key, param_key = axes.INPUT_KEY, axes.PARAM_KEY
    input_json, param_json = string(input_key), string(param_key)
    # The command's parts encoded once, without the quotes that the raw ids go between.
    head, middle, tail = (string(part) for part in command)
    head, middle, tail = head[:-1], middle[1:-1], tail[1:]
    numbers: dict[tuple[type, object], str] = {}  # a cost that is not an int, as JSON

    def number(value: object) -> str:
        text = numbers.get((type(value), value))
        if text is None:
            text = numbers[type(value), value] = json.dumps(value)
        return text

    def encode(e: Entry) -> str:
        cost, param_cost, inp, param = e["sort_key"]
        if type(cost) is not int or type(param_cost) is not int:
            cost, param_cost = number(cost), number(param_cost)
        input_id, param_name = e[input_key], e[param_key]
        error, size = e["error"], e["output_size"]
        return (
            f'{{"permutation_id": "{e["permutation_id"]}", {input_json}: "{input_id}",'
            f' {param_json}: "{param_name}", "done": {"true" if e["done"] else "false"},'
            f' "status": {string(e["status"])},'
            f' "error": {"null" if error is None else string(error)},'
            f' "output_path": {string(e["output_path"])},'
            f' "output_size": {"null" if size is None else size},'
            f' "sort_key": [{cost}, {param_cost}, "{inp}", "{param}"],'
            f' "label": {string(e["label"])},'
            f' "command": {head}{input_id}{middle}{param_name}{tail}}}'
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
