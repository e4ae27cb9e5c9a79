"""The spec's table: a ``=== Manifest (done/total) ===`` header and one row per entry."""

from __future__ import annotations

from ..manifest.entries import Entry
from ..manifest.selection import Selection
from ..status import DONE, MISS, REDO, is_live, state_of
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


def format_table(entries: list[Entry], selection: Selection, context: Context) -> list[str]:
    """The header counts the entries whose artifact is in place: DONE, REDO and STALE rows."""
    done = sum(entry["done"] for entry in entries)
    if entries and "estimated" in entries[0]:  # --measured: every row says more
        rows = [f"{row(e)}{measured(e)}\n" for e in entries]
    else:
        rows = [
            f"  [{e['status']}] {e['permutation_id']:<30s} {e['label']}\n"
            if e["status"] in PLAIN
            else f"{row(e)}\n"
            for e in entries
        ]
    return [f"\n=== Manifest ({done}/{len(entries)}) ===\n\n", *rows, "\n"]
