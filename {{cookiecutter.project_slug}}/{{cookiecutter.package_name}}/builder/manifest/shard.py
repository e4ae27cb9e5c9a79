"""``--shard I/N``: a deterministic, disjoint, complete split of the matrix, balanced by cost.

Machines that share an output folder but no scheduler each take one shard. The split is made over
the whole matrix, before ``--missing`` or ``--done`` filter it, so a shard names the same
permutations whenever and wherever it is asked for, however many builds finished in between: two
machines that list their missing work at different times still never overlap. It changes only when
the matrix does (an input or a parameter added or removed, or a cost estimate changed).

Balance: greedy longest-processing-time. Permutations go, most expensive first, each to the shard
with the least estimated work so far (ties: fewer permutations, then the lower shard number). The
estimated work of a permutation is its input's cost times its parameter's cost (``sort_key[0] *
sort_key[1]``). Whatever the costs, the busiest and the idlest shard then differ by at most the
cost of one permutation.
"""

from __future__ import annotations

import heapq

from ..ids import UsageError
from .entries import Entry


def estimated_work(entry: Entry) -> float:
    """Input cost x parameter cost (numbers: the manifest refuses others)."""
    return float(entry["sort_key"][0]) * float(entry["sort_key"][1])


def assign(entries: list[Entry], count: int) -> list[list[Entry]]:
    """All entries split into ``count`` shards, each in the order it was given."""
    heaviest_first = sorted(
        range(len(entries)), key=lambda i: (-estimated_work(entries[i]), entries[i]["sort_key"])
    )
    loads = [(0.0, 0, shard) for shard in range(count)]  # (work, permutations, shard number)
    owner = [0] * len(entries)
    for position in heaviest_first:
        work, size, shard = heapq.heappop(loads)
        owner[position] = shard
        heapq.heappush(loads, (work + estimated_work(entries[position]), size + 1, shard))
    shards: list[list[Entry]] = [[] for _ in range(count)]
    for position, entry in enumerate(entries):
        shards[owner[position]].append(entry)
    return shards


def shard_of(entries: list[Entry], index: int, count: int) -> list[Entry]:
    """Shard ``index`` of ``count`` (from 1) of the whole matrix ``entries``."""
    if count > len(entries):  # a shard per permutation at most: more would only be empty
        raise UsageError(
            f"--shard {index}/{count}: more shards than the {len(entries)} permutations;"
            f" give N of at most {len(entries)}"
        )
    return assign(entries, count)[index - 1]
