"""The spec's table: a ``=== Manifest (done/total) ===`` header and one row per entry; then the
gathers' rows; or, when asked, the orphans or the excluded pairs."""

from __future__ import annotations

from collections.abc import Sequence

from .. import layout
from ..manifest.entries import Entry
from ..manifest.orphans import Orphan
from ..manifest.selection import Selection
from ..status import DONE, EXCLUDED, MISS, ORPHAN, REDO, STALE, is_live, state_of
from . import Context

PLAIN = frozenset({DONE, MISS})  # rows with nothing after the label: the common case, inline


def row(entry: Entry) -> str:
    """``[STATE] id label``, then where a staged build is (and a stopped one's reason and error),
    or why an artifact is stale."""
    status = entry["status"]
    state = state_of(status)
    line = f"  [{state}] {entry['permutation_id']:<30s} {entry['label']}"
    if state in (DONE, MISS):
        return line
    where = status[len(state) + 1 :]
    why = f" ({entry['reason']}): {entry['error']}" if entry["error"] else ""
    if state == REDO:
        what = "rebuilding" if is_live(status, entry["error"]) else "rebuild stopped"
        detail = f"{what} {where}{why}"
        if entry.get("stale"):  # a stale artifact whose rebuild failed: both
            detail += f"; stale: {'; '.join(entry['stale'])}"
    elif where:
        detail = f"{status}{why}"
    else:
        detail = "; ".join(entry.get("stale") or ()) or status
    return f"{line}  {detail}"


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f} s"


def measured(entry: Entry) -> str:
    """``  est 0.31 s, took 0.29 s, 0.25 s CPU, peak 27.1 MiB``: the estimate against what the
    build measured (``manifest --measured``)."""
    text = f"  est {_seconds(entry['estimated'])}"
    took = entry.get("measured")
    if took is None:
        return text
    peak = "?" if took["peak_rss"] is None else f"{took['peak_rss'] / 2**20:.1f} MiB"
    return f"{text}, took {_seconds(took['seconds'])}, {_seconds(took['cpu'])} CPU, peak {peak}"


def _rows(entries: Sequence[Entry]) -> list[str]:
    """Each entry's row; the common ones (DONE, MISS, STALE) inline, a stale artifact's reasons
    joined once for every artifact that shares them; with ``--measured``, estimate and measure."""
    if entries and "estimated" in entries[0]:  # --measured: every row says more
        return [f"{row(e)}{measured(e)}\n" for e in entries]
    joined: dict[tuple[str, ...], str] = {}
    return [
        f"  [{e['status']}] {e['permutation_id']:<30s} {e['label']}\n"
        if e["status"] in PLAIN
        else f"  [{STALE}] {e['permutation_id']:<30s} {e['label']}  {_joined(joined, e)}\n"
        if e["status"] == STALE
        else f"{row(e)}\n"
        for e in entries
    ]


def _joined(joined: dict[tuple[str, ...], str], entry: Entry) -> str:
    reasons = entry["stale"]
    if reasons not in joined:
        joined[reasons] = "; ".join(reasons)
    return joined[reasons]


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _notes(context: Context) -> list[str]:
    """Under the header: what the matrix leaves out, when it leaves something out."""
    notes = []
    count = context.orphans if isinstance(context.orphans, int) else len(context.orphans)
    if count:
        notes.append(
            f"  {_plural(count, 'orphan')} in the output folder: `manifest --orphans` lists"
            f" {'it' if count == 1 else 'them'}, `clean` removes {'it' if count == 1 else 'them'}\n"
        )
    if context.excluded:
        excluded = len(context.excluded)
        notes.append(
            f"  {_plural(excluded, 'pair')} excluded by the pipeline, not counted:"
            " `manifest --excluded` lists them\n"
        )
    return notes


def orphan_row(orphan: Orphan) -> str:
    paths = ", ".join(layout.display_path(path) for path in orphan.paths)
    return f"  [{ORPHAN}] {orphan.name:<30s} {orphan.why}: {paths}\n"


def format_table(entries: list[Entry], selection: Selection, context: Context) -> list[str]:
    """The header counts the entries whose artifact is in place: DONE, REDO and STALE rows; the
    gathers have a header and rows of their own."""
    if context.listing == "orphans":
        found = context.orphans if not isinstance(context.orphans, int) else ()
        return [f"\n=== Orphans ({len(found)}) ===\n\n", *map(orphan_row, found), "\n"]
    if context.listing == "excluded":
        rows = [
            f"  [{EXCLUDED}] {pid:<30s} {inp} + {param}: {reason}\n"
            for pid, (inp, param, reason) in context.excluded.items()
        ]
        return [f"\n=== Excluded ({len(rows)}) ===\n\n", *rows, "\n"]
    done = sum(entry["done"] for entry in entries)
    head = [f"\n=== Manifest ({done}/{len(entries)}) ===\n", *_notes(context), "\n"]
    if not context.gathers:
        return [*head, *_rows(entries), "\n"]
    gathered = sum(entry["done"] for entry in context.gathers)
    title = f"=== Gathers ({gathered}/{len(context.gathers)}) ===\n\n"
    return [*head, *_rows(entries), "\n", title, *_rows(context.gathers), "\n"]
