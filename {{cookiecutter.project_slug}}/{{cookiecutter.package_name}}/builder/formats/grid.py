"""The manifest as a matrix: a row per first-axis value, a column per second, a character a cell.

Built from the manifest's entries and nothing else, so it costs what ``manifest`` costs. Columns
are numbered, their numbers printed vertically in groups of ten, and named in a key below the grid
that also holds their totals: 40 columns fit in 80 characters. A pair the pipeline excludes has a
mark of its own and counts in no total; the gathers' totals follow the key. A grid too wide for the
terminal is transposed when that needs fewer pages, else split into pages of columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from .. import axes
from ..manifest.entries import Entry
from ..manifest.selection import Selection, select
from ..status import state_of
from ..terminal import DEFAULT_WIDTH
from . import Context

SYMBOLS = {"DONE": "#", "REDO": "R", "STALE": "S", "MISS": ".", "BUILD": "B", "FAIL": "F"}
EXCLUDED = "-"
MEANINGS = {
    "#": "done",
    "R": "done, rebuild pending",
    "S": "stale",
    ".": "missing",
    "B": "building",
    "F": "failed",
    EXCLUDED: "excluded",
}
COLOURS = {"#": "32", "R": "36", "S": "35", ".": "2", "B": "33", "F": "31", EXCLUDED: "2"}
DONE_SYMBOLS = frozenset("#RS")  # the artifact is in place: what the totals count
LABEL_MIN = 20  # row labels are cut to this when the columns need the room
KEY_HEIGHT = 10  # the column key goes side by side in blocks when longer than this
INDENT = "  "
GAP = "  "


@dataclass(frozen=True)
class Matrix:
    """The values on each side and one symbol per (row value, column value)."""

    row_axis: str
    column_axis: str
    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], str]
    transposed: bool = False

    def flipped(self) -> Matrix:
        cells = {(column, row): symbol for (row, column), symbol in self.cells.items()}
        return Matrix(self.column_axis, self.row_axis, self.columns, self.rows, cells, True)

    def done_in_row(self, row: str) -> int:
        return sum(self.cells[row, column] in DONE_SYMBOLS for column in self.columns)

    def done_in_column(self, column: str) -> int:
        return sum(self.cells[row, column] in DONE_SYMBOLS for row in self.rows)

    def in_row(self, row: str) -> int:
        """The row's cells that count: not the excluded ones."""
        return sum(self.cells[row, column] != EXCLUDED for column in self.columns)

    def in_column(self, column: str) -> int:
        return sum(self.cells[row, column] != EXCLUDED for row in self.rows)


def axis_order(entries: list[Entry], key: str, cost_at: int, sort: str) -> list[str]:
    """An axis's values among the entries: by name, or cheapest first as ``sort_key`` says (the
    report's grid orders its rows and columns so too)."""
    costs: dict[str, Any] = {}
    for entry in entries:
        costs.setdefault(entry[key], entry["sort_key"][cost_at])
    if sort == "name":
        return sorted(costs)
    return sorted(costs, key=lambda value: (costs[value], value))


def grid_matrix(
    chosen: list[Entry],
    everything: list[Entry],
    selection: Selection,
    excluded: Iterable[tuple[str, str, str]] = (),
) -> Matrix:
    """The rows and columns holding at least one chosen entry (a limit counts rows, not cells).

    Every cell of those rows and columns shows its own status, chosen or not, so a filter
    narrows the grid to where the matches are without hiding what surrounds them.
    """
    if selection.limit is not None:  # the first N rows of the selection before its limit
        chosen = select(everything, selection._replace(limit=None))
    rows = axis_order(chosen, axes.INPUT_KEY, 0, selection.sort)[: selection.limit]
    columns = axis_order(chosen, axes.PARAM_KEY, 1, selection.sort)
    row_set, column_set = set(rows), set(columns)
    cells = {
        (e[axes.INPUT_KEY], e[axes.PARAM_KEY]): SYMBOLS.get(state_of(e["status"]), "?")
        for e in everything
        if e[axes.INPUT_KEY] in row_set and e[axes.PARAM_KEY] in column_set
    }
    for inp, param, _ in excluded:
        if inp in row_set and param in column_set:
            cells[inp, param] = EXCLUDED
    return Matrix(axes.INPUT_AXIS, axes.PARAM_AXIS, rows, columns, cells)


def _gap_before(number: int, first: int) -> bool:
    """Columns go in groups of ten (1-9, 10-19, ...), so the vertical numbers read as tens."""
    return number % 10 == 0 and number != first


def _cells_width(first: int, last: int) -> int:
    """Characters taken by columns numbered first..last (1-based, inclusive)."""
    return last - first + 1 + sum(_gap_before(n, first) for n in range(first, last + 1))


class _Layout(NamedTuple):
    matrix: Matrix
    label_width: int
    total_width: int
    pages: list[tuple[int, int]]  # (first, last) column numbers, 1-based, inclusive


def _layout(matrix: Matrix, width: int) -> _Layout:
    """Full labels and one page if it fits; else labels cut to LABEL_MIN and pages of columns."""
    count = len(matrix.columns)
    longest = max(len(label) for label in [matrix.row_axis, *matrix.rows])
    total_width = max(len("done"), len(f"{count}/{count}"))
    fixed = len(INDENT) + 2 * len(GAP) + total_width
    label_width = min(longest, max(LABEL_MIN, width - fixed - _cells_width(1, count)))
    room = width - fixed - label_width
    pages = []
    first = 1
    while first <= count:
        last = first
        while last < count and _cells_width(first, last + 1) <= room:
            last += 1
        group_end = last - (last + 1) % 10  # end a page where a group of ten ends, if one does
        if last < count and group_end > first:
            last = group_end
        pages.append((first, last))
        first = last + 1
    return _Layout(matrix, label_width, total_width, pages)


def _cut(label: str, width: int) -> str:
    """A label cut to ``width`` in the middle, keeping the end where ids differ: ab~yz."""
    if len(label) <= width:
        return label
    tail = (width - 1) // 2
    return label[: width - 1 - tail] + "~" + label[len(label) - tail :]


_RUNS = re.compile(r"#+|\.+|B+|F+|S+|R+|-+")


def _paint(cells: str, colour: bool) -> str:
    """Cells in their colours, one escape sequence per run of equal symbols."""
    if not colour:
        return cells
    return _RUNS.sub(lambda run: f"\x1b[{COLOURS[run[0][0]]}m{run[0]}\x1b[0m", cells)


def _page(layout: _Layout, first: int, last: int, colour: bool) -> list[str]:
    matrix, label_width = layout.matrix, layout.label_width
    digits = len(str(len(matrix.columns)))
    numbers = range(first, last + 1)
    lines = []
    if len(layout.pages) > 1:
        lines.append(f"{INDENT}{matrix.column_axis} {first}-{last} of {len(matrix.columns)}")
    for place in range(digits):
        ruler = "".join(
            (" " if _gap_before(n, first) else "") + str(n).rjust(digits)[place] for n in numbers
        )
        if place < digits - 1:
            if ruler.strip():  # a page of columns 1-99 has no hundreds to show
                lines.append(f"{INDENT}{'':<{label_width}}{GAP}{ruler}".rstrip())
        else:
            head = f"{_cut(matrix.row_axis, label_width):<{label_width}}"
            lines.append(f"{INDENT}{head}{GAP}{ruler}{GAP}{'done':>{layout.total_width}}")
    for row in matrix.rows:
        label = _cut(row, label_width)
        cells = _paint(
            "".join(
                (" " if _gap_before(n, first) else "") + matrix.cells[row, matrix.columns[n - 1]]
                for n in numbers
            ),
            colour,
        )
        total = f"{matrix.done_in_row(row)}/{matrix.in_row(row)}"
        lines.append(
            f"{INDENT}{label:<{label_width}}{GAP}{cells}{GAP}{total:>{layout.total_width}}"
        )
    return lines


def _key(matrix: Matrix, width: int) -> list[str]:
    """Each column's number, full name and total (the grid's column headers and column totals),
    in as many side-by-side blocks as ``width`` holds, numbered down each block like ``ls``."""
    digits = len(str(len(matrix.columns)))
    name_width = max(len(name) for name in matrix.columns)
    total_width = max(len("done"), len(f"{len(matrix.rows)}/{len(matrix.rows)}"))
    items = [
        f"{number:>{digits}} {name:<{name_width}}{GAP}"
        f"{f'{matrix.done_in_column(name)}/{matrix.in_column(name)}':>{total_width}}"
        for number, name in enumerate(matrix.columns, 1)
    ]
    head = f"{_cut(matrix.column_axis, digits + 1 + name_width):<{digits + 1 + name_width}}"
    head += f"{GAP}{'done':>{total_width}}"
    separator = " " * 4
    fit = (width - len(INDENT) + len(separator)) // (len(head) + len(separator))
    blocks = max(1, min(fit, -(-len(items) // KEY_HEIGHT)))
    height = -(-len(items) // blocks)
    blocks = -(-len(items) // height)
    lines = [INDENT + separator.join([head] * blocks)]
    for row in range(height):
        lines.append(INDENT + separator.join(items[row::height]).rstrip())
    return lines


def format_grid(entries: list[Entry], selection: Selection, context: Context) -> list[str]:
    """The grid, its column key and a legend; transposed or paged when too wide to fit."""
    matrix = grid_matrix(entries, context.everything, selection, context.excluded.values())
    text = render(matrix, width=context.width, colour=context.colour, stale=context.stale)
    if not context.gathers:
        return [text]
    gathered = sum(entry["done"] for entry in context.gathers)
    names = ", ".join(entry["permutation_id"] for entry in context.gathers[:5])
    more = f" and {len(context.gathers) - 5} more" if len(context.gathers) > 5 else ""
    return [text, f"{INDENT}gathers  {gathered}/{len(context.gathers)} done: {names}{more}\n\n"]


def render(
    matrix: Matrix, *, width: int = DEFAULT_WIDTH, colour: bool = False, stale: bool = False
) -> str:
    """The grid of ``matrix``, its column key and a legend."""
    present = set(matrix.cells.values())
    meanings = [
        (s, m) for s, m in MEANINGS.items() if s in ".#BF" or s in present or (stale and s == "S")
    ]
    legend = INDENT + GAP.join(f"{_paint(s, colour)} {m}" for s, m in meanings)
    done = sum(symbol in DONE_SYMBOLS for symbol in matrix.cells.values())
    counted = sum(symbol != EXCLUDED for symbol in matrix.cells.values())
    if not matrix.rows or not matrix.columns:
        title = f"=== Grid (0/0 done): {matrix.row_axis} x {matrix.column_axis} ==="
        return f"\n{title}\n\n{INDENT}no permutation selected\n\n{legend}\n\n"
    layout = _layout(matrix, width)
    flipped = _layout(matrix.flipped(), width)
    if len(flipped.pages) < len(layout.pages):
        layout = flipped
    shown = layout.matrix
    note = ", transposed to fit" if shown.transposed else ""
    title = f"=== Grid ({done}/{counted} done): {shown.row_axis} x {shown.column_axis}"
    lines = ["", f"{title}{note} ===", ""]
    for first, last in layout.pages:
        lines.extend(_page(layout, first, last, colour))
        lines.append("")
    lines.extend(_key(shown, width))
    lines.extend(["", legend, "", ""])
    return "\n".join(lines)
