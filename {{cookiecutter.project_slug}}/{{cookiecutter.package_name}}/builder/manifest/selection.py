"""Which permutations a command is about: one ``Selection``, made once from the arguments.

``manifest`` and ``build`` take the same selectors: an axis flag per axis (repeatable, comma lists,
shell-style patterns), statuses (``--missing``, ``--done``, ``--stale``, ``--status``), then
``--shard``, ``--sort`` and ``--limit``. ``select`` applies them, in that order, and is the only
function that does.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from .. import axes, status
from ..ids import UsageError, check_safe_stem
from .entries import Entry, Excluded, Survey, survey

_SHARD = re.compile(r"([0-9]+)/([0-9]+)")  # ASCII digits: str.isdigit() also accepts '²'
_PATTERN = re.compile(r"[*?[]")
STALE = frozenset({"stale"})


class Selection(NamedTuple):
    """What to keep. Empty ``statuses`` keeps every status; empty axis values keep every value."""

    inputs: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    statuses: frozenset[str] = frozenset()
    shard: tuple[int, int] | None = None
    sort: str = "size"
    limit: int | None = None

    @property
    def stale(self) -> bool:
        """Staleness needs each artifact's provenance: read only when asked for."""
        return "stale" in self.statuses

    def single_pair(self) -> tuple[str, str] | None:
        """The one (input, param) pair this names, if it names exactly one and nothing else."""
        if len(self.inputs) != 1 or len(self.params) != 1 or self.statuses or self.shard:
            return None
        inp, param = self.inputs[0], self.params[0]
        if _PATTERN.search(inp) or _PATTERN.search(param):
            return None
        return inp, param


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/5"`` -> ``(2, 5)``; one shard of N, numbered from 1."""
    found = _SHARD.fullmatch(text)
    if found and 1 <= int(found[1]) <= int(found[2]):
        return int(found[1]), int(found[2])
    raise UsageError(f"--shard {text!r} is not I/N with whole numbers 1 <= I <= N (e.g. 1/4)")


def _values(given: list[str] | None, flag: str) -> tuple[str, ...]:
    """``--x a --x b,c`` -> ``("a", "b", "c")``; an empty value (``--x ""`` from an empty shell
    variable, ``a,,b``) is refused, never read as "every value"."""
    for text in given or ():
        if not all(text.split(",")):
            raise UsageError(
                f"{flag} {text!r} holds an empty value; give ids, a,b lists or patterns ('x*')"
            )
    return tuple(v for text in given or () for v in text.split(","))


def positive_int(flag: str) -> Callable[[str], int]:
    """An argparse type for ``flag``: a whole number of at least 1, or a one-line error."""

    def parse(text: str) -> int:
        value = int(text) if re.fullmatch(r"[0-9]{1,18}", text) else 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag} {text!r} is not a whole number of at least 1")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The selectors ``manifest`` and ``build`` share."""
    group = parser.add_argument_group("selection (shared by manifest and build)")
    for flag, key, axis in (
        (axes.INPUT_FLAG, axes.INPUT_KEY, axes.INPUT_AXIS),
        (axes.PARAM_FLAG, axes.PARAM_KEY, axes.PARAM_AXIS),
    ):
        group.add_argument(
            flag,
            dest=key,
            action="append",
            metavar="ID",
            help=f"only this {axis} (repeat, or a,b; shell patterns such as 'x*')",
        )
    built = group.add_mutually_exclusive_group()
    built.add_argument("--missing", action="store_true", help="only permutations not built yet")
    built.add_argument("--done", action="store_true", help="only built permutations")
    group.add_argument(
        "--stale",
        action="store_true",
        help="only built permutations whose inputs, parameter or pipeline code changed since"
        " (reads each artifact's provenance)",
    )
    group.add_argument(
        "--status",
        action="append",
        choices=status.STATUS_NAMES,
        help="only permutations in this state (repeatable; the flags above are shorthands)",
    )
    group.add_argument(
        "--shard",
        metavar="I/N",
        help="only shard I of N: a fixed split of the whole matrix, balanced by estimated cost",
    )
    group.add_argument(
        "--sort", choices=["size", "name"], default="size", help="size: cheapest first (default)"
    )
    group.add_argument(
        "--limit", type=positive_int("--limit"), help="keep the first N after the rest"
    )


def from_args(args: argparse.Namespace) -> Selection:
    """The Selection the parsed arguments ask for."""
    if args.stale and args.done:
        raise UsageError("--stale already selects built permutations; drop --done")
    statuses = set(args.status or ())
    statuses.update(name for name in ("missing", "done", "stale") if getattr(args, name))
    return Selection(
        inputs=_values(getattr(args, axes.INPUT_KEY), axes.INPUT_FLAG),
        params=_values(getattr(args, axes.PARAM_KEY), axes.PARAM_FLAG),
        statuses=frozenset(statuses),
        shard=None if args.shard is None else parse_shard(args.shard),
        sort=args.sort,
        limit=args.limit,
    )


def check_axis_values(
    selection: Selection, entries: list[Entry], excluded: Iterable[Excluded] = ()
) -> None:
    """An exact id the matrix lacks is a typo: name it and the valid ones (a pattern may match
    nothing); a value whose every pair is excluded is no typo."""
    left_out = list(excluded)
    for given, key, what, at in (
        (selection.inputs, axes.INPUT_KEY, f"{axes.INPUT_AXIS} id", 0),
        (selection.params, axes.PARAM_KEY, f"{axes.PARAM_AXIS} name", 1),
    ):
        exact = [check_safe_stem(v, what) for v in given if not _PATTERN.search(v)]
        if not exact:
            continue
        valid = list(
            dict.fromkeys([*(entry[key] for entry in entries), *(e[at] for e in left_out)])
        )
        for value in exact:
            if value not in valid:
                raise UsageError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")


def matrix(output_dir: Path, chosen: Selection, *, sizes: bool) -> Survey:
    """The whole matrix (and its gathers), checked against the axis values asked for, marked
    stale if asked: what ``select`` picks from (``sizes``: see ``entries.survey``)."""
    found = survey(output_dir, sizes=sizes)
    check_axis_values(chosen, found.entries, found.excluded.values())
    if chosen.stale:  # the only listing that reads artifacts: their provenance
        from .stale import mark_stale

        mark_stale(found.entries, output_dir, found.gathers)
    return found


def _wanted(entry: Entry, statuses: frozenset[str]) -> bool:
    return bool(
        statuses & status.names_of(entry["status"], entry["error"], entry["done"], "stale" in entry)
    )


def select_gathers(gathers: list[Entry], selection: Selection) -> list[Entry]:
    """The gathers a selection keeps: by status; none when it names axis values or a shard, which
    pick permutations."""
    if selection.inputs or selection.params or selection.shard is not None:
        return []
    if not selection.statuses:
        return gathers
    return [entry for entry in gathers if _wanted(entry, selection.statuses)]


def refuse_unmatched(selection: Selection, entries: list[Entry]) -> None:
    """A ``build`` told which ids to build, of which none exists, is a mistake (a typo in a
    pattern), not "nothing to do": name the flag and the valid values."""
    for given, key, flag, what in (
        (selection.inputs, axes.INPUT_KEY, axes.INPUT_FLAG, f"{axes.INPUT_AXIS} id"),
        (selection.params, axes.PARAM_KEY, axes.PARAM_FLAG, f"{axes.PARAM_AXIS} name"),
    ):
        valid = list(dict.fromkeys(entry[key] for entry in entries))
        if given and not any(_matches(value, given) for value in valid):
            asked = ",".join(given)
            raise UsageError(f"{flag} {asked!r} matches no {what}; valid: {', '.join(valid)}")


def _matches(value: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(value, pattern) for pattern in patterns)


def select(entries: list[Entry], selection: Selection) -> list[Entry]:
    """Shard (of the whole matrix), axis values, statuses, then sort and limit."""
    if selection.shard is not None:
        from .shard import shard_of

        entries = shard_of(entries, *selection.shard)
    if selection.inputs:
        entries = [e for e in entries if _matches(e[axes.INPUT_KEY], selection.inputs)]
    if selection.params:
        entries = [e for e in entries if _matches(e[axes.PARAM_KEY], selection.params)]
    if selection.statuses == STALE:  # `--stale` alone: the entries mark_stale marked
        entries = [e for e in entries if "stale" in e]
    elif selection.statuses:
        wanted, names_of = selection.statuses, status.names_of
        entries = [
            e
            for e in entries
            if wanted & names_of(e["status"], e["error"], e["done"], "stale" in e)
        ]
    key = itemgetter("permutation_id" if selection.sort == "name" else "sort_key")
    entries = sorted(entries, key=key)
    return entries if selection.limit is None else entries[: selection.limit]
