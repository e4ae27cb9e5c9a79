"""Plan files: a selection frozen for array tasks, which pick their permutations from it by index.

``plan --slurm`` (or another engine) writes one per resource set; every array task of
every engine runs ``build --plan FILE --task-index I --per-task K``. The format (UTF-8 text,
tab-separated):

    # <package> plan 1<TAB>force=0|1[<TAB>resources=JSON]
                                               the header: what wrote it, whether to rebuild, and
                                               the resources its tasks ask for (a JSON object of
                                               resource keys), which each build records
    <input id><TAB><param name>                one line per permutation, in build order

Task I (0-based) builds the lines I*K to I*K+K-1 after the header, in order. A plan is named
after a hash of its content and written atomically, and never rewritten: a later ``plan`` writes a
new plan, so it cannot change what a queued task builds. A task checks that hash (of a plan named
``<16 hex digits>.plan``; one named otherwise was written by hand), so a plan cut short, even at a
line's end, or edited is refused; so is a plan that lists nothing or one permutation twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ... import settings
from .. import axes, layout
from ..atomic import atomic_publish
from ..ids import UsageError
from ..manifest.entries import Entry

HEADER = f"# {settings.PACKAGE} plan 1"
RESOURCES = "resources="
Pair = tuple[str, str]
_NAMED_BY_HASH = re.compile(r"[0-9a-f]{16}")


class Task(NamedTuple):
    """What one array task builds, and how its plan asks for it."""

    pairs: list[Pair]
    force: bool
    resources: dict[str, Any] | None  # what the plan's tasks ask for; None in an older plan


def text_of(
    entries: list[Entry], *, force: bool, resources: Mapping[str, Any] | None = None
) -> str:
    """The plan of these entries, in their order, with the resources its tasks ask for."""
    asked = (
        ""
        if resources is None
        else "\t" + RESOURCES + json.dumps(dict(resources), separators=(",", ":"))
    )
    lines = [f"{HEADER}\tforce={int(force)}{asked}"]
    lines += [f"{e[axes.INPUT_KEY]}\t{e[axes.PARAM_KEY]}" for e in entries]
    return "\n".join(lines) + "\n"


class Frozen(NamedTuple):
    """A plan's text and the path it goes to, named after the text."""

    path: Path
    text: str


def frozen(
    output_dir: Path,
    entries: list[Entry],
    *,
    force: bool,
    resources: Mapping[str, Any] | None = None,
) -> Frozen:
    """The plan of these entries and its path under the output folder, not yet written."""
    text = text_of(entries, force=force, resources=resources)
    return Frozen(layout.plan_path(output_dir, digest(text.encode())), text)


def digest(content: bytes) -> str:
    """What names a plan: the start of its content's sha256."""
    return hashlib.sha256(content).hexdigest()[:16]


def _refuse_repeats(path: Path, lines: list[str]) -> None:
    """Each permutation once: a line twice would be built by two tasks, or twice by one."""
    first: dict[str, int] = {}
    for number, line in enumerate(lines[1:], 2):
        if first.setdefault(line, number) != number:
            raise UsageError(
                f"plan file '{path}' line {number} repeats line {first[line]} ({line!r});"
                " a plan lists each permutation once"
            )


def publish(plans: list[Frozen]) -> None:
    """Write each plan once (an existing one with its name already holds its text), then remove
    the earlier plans that no queued task needs any more (``prune``)."""
    for plan in plans:
        layout.refuse_link(plan.path.parent)
        if plan.path.exists():
            continue
        try:
            plan.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_publish(plan.path, plan.text.encode())
        except OSError as error:
            raise UsageError(
                f"cannot write the plan file '{plan.path}': {error.strerror}"
            ) from None
    if plans:
        prune(plans[0].path.parent, {plan.path for plan in plans})


def prune(folder: Path, keep: set[Path]) -> None:
    """Remove the plans (but ``keep``) whose every permutation was built after the plan was
    written: a task of theirs still queued would only find its builds done. A plan with anything
    left to build stays, as does one that cannot be read."""
    output_dir = folder.parent
    with contextlib.suppress(OSError), os.scandir(folder) as listing:
        for item in listing:
            path = Path(item.path)
            if not item.name.endswith(".plan") or path in keep:
                continue
            try:
                written = item.stat().st_mtime_ns
                lines = path.read_text(encoding="utf-8").splitlines()[1:]
            except (OSError, UnicodeDecodeError):
                continue
            if all(_built_since(output_dir, line, written) for line in lines):
                path.unlink(missing_ok=True)


def _built_since(output_dir: Path, line: str, written: int) -> bool:
    artifact = layout.artifact_path(output_dir, "_".join(line.split("\t")))
    try:
        return artifact.stat().st_mtime_ns > written
    except OSError:
        return False


def task_count(permutations: int, per_task: int) -> int:
    """How many array tasks build ``permutations`` lines, ``per_task`` each."""
    return -(-permutations // per_task)


def read_task(path: Path, index: int, per_task: int) -> Task:
    """The (input id, param name) pairs of task ``index``, whether the plan forces rebuilds, and
    the resources it asks for."""
    try:
        content = path.read_bytes()
        lines = content.decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise UsageError(f"cannot read the plan file '{path}': {reason}") from None
    header = lines[0].split("\t") if lines else []
    resources = _resources(header[2]) if len(header) == 3 else None
    if (
        len(header) not in (2, 3)
        or header[0] != HEADER
        or header[1] not in ("force=0", "force=1")
        or (len(header) == 3 and resources is None)
    ):
        first = f"{HEADER}<TAB>force=0|1[<TAB>resources=JSON]"
        raise UsageError(f"'{path}' is not a plan file: its first line is not '{first}'")
    if _NAMED_BY_HASH.fullmatch(path.stem) and digest(content) != path.stem:
        raise UsageError(
            f"plan file '{path}' does not hold what its name says (its content's hash): it was"
            " cut short or edited; write a new one with plan"
        )
    _refuse_repeats(path, lines)
    count = len(lines) - 1
    if not count:
        raise UsageError(f"plan file '{path}' lists no permutations: nothing to build")
    tasks = task_count(count, per_task)
    if index >= tasks:
        raise UsageError(
            f"--task-index {index} is beyond the plan '{path}': {count} permutations,"
            f" {per_task} per task, make tasks 0 to {tasks - 1}"
        )
    pairs: list[Pair] = []
    for number in range(1 + index * per_task, 1 + min(count, (index + 1) * per_task)):
        fields = lines[number].split("\t")
        if len(fields) != 2 or not all(fields):
            raise UsageError(
                f"plan file '{path}' line {number + 1}: {lines[number]!r} is not"
                f" <{axes.INPUT_AXIS} id><TAB><{axes.PARAM_AXIS} name>"
            )
        pairs.append((fields[0], fields[1]))
    return Task(pairs, header[1] == "force=1", resources)


def _resources(field: str) -> dict[str, Any] | None:
    """A header's ``resources=JSON`` as a dict, or None if it is not one."""
    if not field.startswith(RESOURCES):
        return None
    try:
        value = json.loads(field[len(RESOURCES) :])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
