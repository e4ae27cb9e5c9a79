"""Gathers: aggregates the pipeline declares over done artifacts, built after their members.

    GATHERS = {"leaderboard": {"over": "all", "function": leaderboard}}

``over`` is ``"all"`` (one gather across the matrix), the first axis' name (one per input) or the
second's (one per parameter). ``function`` is a phase (``def leaderboard(ctx) -> str | None``)
whose ``ctx.members`` are the done members (``Member``: ids and artifact path; excluded pairs are
no members); it writes the gather's artifact as a phase writes a permutation's.

A gather is named after its declaration (``leaderboard``), and after its input or parameter too
when there is one per value (``leaderboard_coastal``). Its artifact, stage and provenance live in
``<output>/_gathers/``, laid out like the output folder itself, so a glob over the permutations'
artifacts never meets one. Its provenance records each member's fingerprint (size and mtime) and
a digest of them all, so it is stale when a member changes, appears or goes away; ``build``
rebuilds such a gather after the permutations it built.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import axes, layout, status
from ..ids import SAFE_STEM_RULE, UsageError, is_safe_stem
from ..pipeline_module import pipeline
from .listing import finished_artifacts
from .stages import staged

if TYPE_CHECKING:
    from .recorded import Document

ALL = "all"
KEYS = frozenset({"over", "function"})


class Gather(NamedTuple):
    name: str
    over: str  # ALL, axes.INPUT_AXIS or axes.PARAM_AXIS
    function: Callable[..., Any]


class Member(NamedTuple):
    """A done artifact a gather is built from."""

    permutation_id: str
    input_id: str
    param_name: str
    path: Path


def _check(name: object, spec: object) -> Gather:
    """One declaration, or a one-line UsageError naming it and the rule it breaks."""
    where = f"pipeline.GATHERS[{name!r}]"
    if not isinstance(name, str) or not is_safe_stem(name):
        raise UsageError(f"{where}: a gather's name must be {SAFE_STEM_RULE}")
    if not isinstance(spec, dict) or not set(spec) >= KEYS or set(spec) - KEYS:
        raise UsageError(
            f"{where} is {spec!r:.60}; declare {{'over': ..., 'function': ...}} and nothing else"
        )
    overs = (ALL, axes.INPUT_AXIS, axes.PARAM_AXIS)
    if spec["over"] not in overs:
        raise UsageError(f"{where}['over'] is {spec['over']!r}; give {', '.join(map(repr, overs))}")
    function = spec["function"]
    code = getattr(function, "__code__", None)
    if not callable(function) or (code is not None and code.co_argcount != 1):
        shown = getattr(function, "__name__", repr(function))
        raise UsageError(
            f"{where}['function'] ({shown:.40}) must be a function of one argument, ctx, that"
            " builds the gather from ctx.members"
        )
    return Gather(name, spec["over"], function)


@functools.cache
def declared() -> tuple[Gather, ...]:
    """The pipeline's gathers, checked once: a mistake is one line naming the gather, the rule."""
    found = getattr(pipeline, "GATHERS", None)
    if found is None:
        return ()
    if not isinstance(found, dict):
        raise UsageError(
            f"pipeline.GATHERS is {found!r:.60}; give a dict of name -> {{'over', 'function'}}"
        )
    return tuple(_check(name, spec) for name, spec in found.items())


class Target(NamedTuple):
    """One gather to build: its id, its declaration and the value it is over, if any."""

    gather_id: str
    gather: Gather
    input_id: str | None
    param_name: str | None


def targets(inputs: list[str], params: list[str]) -> list[Target]:
    """Every gather to build, each once: one per declaration, or one per value of its axis."""
    found = []
    for gather in declared():
        if gather.over == ALL:
            found.append(Target(gather.name, gather, None, None))
        elif gather.over == axes.INPUT_AXIS:
            found += [Target(f"{gather.name}_{i}", gather, i, None) for i in inputs]
        else:
            found += [Target(f"{gather.name}_{p}", gather, None, p) for p in params]
    seen: set[str] = set()
    for target in found:
        if target.gather_id in seen or not is_safe_stem(target.gather_id):
            raise UsageError(
                f"gather id {target.gather_id!r} (pipeline.GATHERS[{target.gather.name!r}]) is"
                f" {'made twice' if target.gather_id in seen else 'not ' + SAFE_STEM_RULE};"
                " rename the gather"
            )
        seen.add(target.gather_id)
    return found


def is_member(target: Target, input_id: str, param_name: str) -> bool:
    return target.input_id in (None, input_id) and target.param_name in (None, param_name)


def describe(target: Target) -> str:
    if target.input_id is not None:
        return f"{target.gather.name} over {axes.INPUT_AXIS} {target.input_id}"
    if target.param_name is not None:
        return f"{target.gather.name} over {axes.PARAM_AXIS} {target.param_name}"
    return f"{target.gather.name} over every permutation"


def gather_entries(
    output_dir: Path, inputs: list[str], params: list[str], entries: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The gathers' entries, as the permutations' are made, with how many members are done; none
    (and no listing) when the pipeline declares none."""
    found = targets(inputs, params)
    if not found:
        return []
    folder = layout.gathers_folder(output_dir)
    artifacts = finished_artifacts(folder)
    stages = staged(folder)
    counts = _member_counts(found, entries)
    made = []
    for target in found:
        gather_id = target.gather_id
        done = gather_id in artifacts
        state, error = status.classify(done, stages.get(gather_id), 1)
        members, members_done = counts[gather_id]
        entry: dict[str, Any] = {
            "permutation_id": gather_id,
            "gather": target.gather.name,
            axes.INPUT_KEY: target.input_id,
            axes.PARAM_KEY: target.param_name,
            "done": done,
            "status": state,
            "error": error,
            "output_path": str(layout.artifact_path(folder, gather_id)),
            "output_size": artifacts.get(gather_id),
            "sort_key": (members, 1, gather_id, ""),  # its work: one unit per member
            "label": f"{describe(target)}: {members_done}/{members} members done",
        }
        stage = stages.get(gather_id)
        if error is not None and stage is not None:
            from ..failures import recorded

            entry["reason"] = recorded(stage.record)
        made.append(entry)
    return made


def _member_counts(found: list[Target], entries: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Each gather's members and done members, in one pass over the entries."""
    counts = {target.gather_id: [0, 0] for target in found}
    by_input: dict[str, list[str]] = {}
    by_param: dict[str, list[str]] = {}
    every = []
    for target in found:
        if target.input_id is not None:
            by_input.setdefault(target.input_id, []).append(target.gather_id)
        elif target.param_name is not None:
            by_param.setdefault(target.param_name, []).append(target.gather_id)
        else:
            every.append(target.gather_id)
    input_key, param_key = axes.INPUT_KEY, axes.PARAM_KEY
    for entry in entries:
        done = entry["done"]
        for gather_id in (
            *every,
            *by_input.get(entry[input_key], ()),
            *by_param.get(entry[param_key], ()),
        ):
            counts[gather_id][0] += 1
            counts[gather_id][1] += done
    return counts


def target_of(entry: dict[str, Any]) -> Target:
    """The target a gather entry stands for (the pipeline declares it: it was made from it)."""
    gather = next(g for g in declared() if g.name == entry["gather"])
    return Target(entry["permutation_id"], gather, entry[axes.INPUT_KEY], entry[axes.PARAM_KEY])


def members(target: Target, entries: Iterable[dict[str, Any]]) -> list[Member]:
    """The done members of a gather among these entries, in the entries' order."""
    return [
        Member(e["permutation_id"], e[axes.INPUT_KEY], e[axes.PARAM_KEY], Path(e["output_path"]))
        for e in entries
        if e["done"] and is_member(target, e[axes.INPUT_KEY], e[axes.PARAM_KEY])
    ]


def member_ids(target: Target, entries: Iterable[dict[str, Any]]) -> list[str]:
    """The ids of a gather's done members among these entries."""
    input_key, param_key = axes.INPUT_KEY, axes.PARAM_KEY
    return [
        e["permutation_id"]
        for e in entries
        if e["done"] and is_member(target, e[input_key], e[param_key])
    ]


def fingerprints(found: list[Member]) -> list[Document]:
    """Each member's size and mtime (a member that vanished meanwhile is left out)."""
    prints = []
    for member in found:
        try:
            info = os.stat(member.path)
        except FileNotFoundError:
            continue
        prints.append(
            {
                "path": layout.display_path(member.path),
                "size": info.st_size,
                "mtime_ns": info.st_mtime_ns,
            }
        )
    return prints


def line(path: str, size: object, mtime_ns: object) -> str:
    return f"{path} {size} {mtime_ns}"


def digest(lines: Iterable[str]) -> str:
    """One digest of the members' fingerprints (``line``s), in any order: what staleness compares
    before it reads which members changed."""
    import hashlib  # only for a gather's staleness: plain `manifest` never pays for it

    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def summary(prints: list[Document]) -> Document:
    """What a gather records of its members: their count, digest and fingerprints."""
    lines = [line(p["path"], p["size"], p["mtime_ns"]) for p in prints]
    return {"count": len(prints), "digest": digest(lines), "files": prints}


def declaration(target: Target) -> Document:
    """What a gather records in place of a registry entry."""
    return {"gather": target.gather.name, "over": target.gather.over}
