"""What a permutation asks its scheduler for: cpus, memory, time, and maybe a partition or GPUs.

The pipeline may declare resources two ways, both optional:

- per parameter, a ``"resources"`` key in its registry entry, e.g.
  ``{"cost": 3, "resources": {"mem": "8G", "time": "2:00:00", "cpus": 4}}``;
- per pair, a function ``resources(input_id, param_name, cost) -> dict`` in ``pipeline.py``, whose
  answer goes over the registry's, key by key.

The command line's flags go over both (``plan --slurm --mem 16G``). Keys the pipeline leaves
out are the cluster's defaults. Like ``cost``, resources only say where and how a build runs: a
change to them never makes an artifact stale.

Values take the forms sbatch takes, checked here once for every engine: ``mem`` a size with a unit
of K, M, G or T (binary: 1G = 1024M), ``time`` minutes, ``H:MM:SS`` or ``D-H:MM:SS``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ..ids import UsageError
from ..manifest.entries import Entry, pipeline_call
from ..pipeline_module import RESOURCES, pipeline

# The registry key that holds a parameter's resources, and the pipeline's per-pair function.
REGISTRY_KEY = FUNCTION = RESOURCES

_TIME = re.compile(r"(?:(\d+)-)?(\d+)(?::(\d\d?))?(?::(\d\d?))?")
UNLIMITED = frozenset({"UNLIMITED", "INFINITE"})
_MEM = re.compile(r"(\d+)([KMGT]?)")
_PARTITION = re.compile(r"[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*")
_MEBIBYTES = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}

TIME_RULE = "minutes, H:MM:SS, D-H:MM:SS or UNLIMITED (e.g. 2:00:00)"
MEM_RULE = "a whole size in K, M, G or T (e.g. 4G)"
PARTITION_RULE = "partition names joined by commas"
COUNT_RULE = "a whole number of at least 1"


@dataclass(frozen=True)
class Resources:
    """One task's resources; None leaves the cluster's default."""

    cpus: int = 1
    mem: str | None = None
    time: str | None = None
    partition: str | None = None
    gpus: int | None = None

    def over(self, given: Mapping[str, Any]) -> Resources:
        """These resources with ``given``'s keys going over them (None values left out)."""
        return replace(self, **{key: value for key, value in given.items() if value is not None})

    def scaled(self, *, mem: float = 1.0, time: float = 1.0) -> Resources:
        """Memory and time times a factor, rounded up (a default one stays the default)."""
        limit = time_limit(self.time)
        return replace(
            self,
            mem=None if self.mem is None else f"{math.ceil(mebibytes(self.mem) * mem)}M",
            time=self.time if limit is None else minutes_text(math.ceil(minutes(limit) * time)),
        )


KEYS = tuple(field.name for field in fields(Resources))


def asked(chosen: Resources) -> dict[str, Any]:
    """The resources a task asks for, by key (those left to the cluster's default left out)."""
    return {key: getattr(chosen, key) for key in KEYS if getattr(chosen, key) is not None}


def check(values: Any, where: str) -> dict[str, Any]:
    """``values`` as resource keys, or one line naming ``where``, the value and the rule."""
    if not isinstance(values, Mapping):
        raise UsageError(f"{where} is {values!r:.80}; give a dict with keys {', '.join(KEYS)}")
    for key, value in values.items():
        if key not in KEYS:
            raise UsageError(f"{where} has the key {key!r}; resources are {', '.join(KEYS)}")
        rule = broken_rule(key, value)
        if rule is not None:
            raise UsageError(f"{where}[{key!r}] is {value!r}; give {rule}")
    return dict(values)


def broken_rule(key: str, value: Any) -> str | None:
    """The rule ``value`` breaks as the resource ``key``, or None if it keeps it."""
    if key in ("cpus", "gpus"):
        whole = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        return None if whole else COUNT_RULE
    forms = {
        "mem": (_MEM, MEM_RULE),
        "time": (_TIME, TIME_RULE),
        "partition": (_PARTITION, PARTITION_RULE),
    }
    form, rule = forms[key]
    if key == "time" and value in UNLIMITED:
        return None
    return None if isinstance(value, str) and form.fullmatch(value) else rule


def mebibytes(mem: str) -> float:
    """A checked ``mem`` value in MiB: ``4G`` -> 4096."""
    match = _MEM.fullmatch(mem)
    assert match is not None, f"unchecked mem {mem!r}"
    return int(match[1]) * _MEBIBYTES[match[2]]


def whole_mebibytes(mem: str) -> int:
    """A checked ``mem`` value in whole MiB, rounded up: what the engines are given."""
    return math.ceil(mebibytes(mem))


def time_limit(time: str | None) -> str | None:
    """A checked ``time`` value as a limit to ask for: None when none is given or it is UNLIMITED
    (either way the engine is asked for none, and the queue's holds)."""
    return None if time is None or time in UNLIMITED else time


def minutes(time: str) -> float:
    """A checked ``time`` value in minutes: ``90`` -> 90, ``1:30:00`` -> 90, ``1-0:00:00`` -> 1440.

    As sbatch reads it: a lone number is minutes, ``A:B`` minutes and seconds, ``A:B:C`` hours,
    minutes and seconds; after ``D-`` the first is hours.
    """
    match = _TIME.fullmatch(time)
    assert match is not None, f"unchecked time {time!r}"
    days, first, second, third = match.groups()
    parts = [int(part) for part in (first, second, third) if part is not None]
    if days is not None:
        parts += [0] * (3 - len(parts))  # D-H, D-H:M, D-H:M:S
        hours, mins, secs = parts
        return int(days) * 1440 + hours * 60 + mins + secs / 60
    if len(parts) == 3:
        hours, mins, secs = parts
        return hours * 60 + mins + secs / 60
    return parts[0] + (parts[1] / 60 if len(parts) == 2 else 0)


def minutes_text(total: int) -> str:
    """Whole minutes as ``D-HH:MM:00`` or ``H:MM:00``, the form every engine's docs show."""
    days, rest = divmod(total, 1440)
    hours, mins = divmod(rest, 60)
    return f"{days}-{hours:02d}:{mins:02d}:00" if days else f"{hours}:{mins:02d}:00"


def clock(time: str) -> str:
    """A checked, limited ``time`` as ``H:MM:SS`` with hours past 24 as they are (``1-0:30`` ->
    ``24:30:00``): the form of Grid Engine's h_rt and PBS's walltime."""
    seconds = math.ceil(minutes(time) * 60)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def registered(param_name: str) -> Resources:
    """A parameter's resources from its registry entry (none: the defaults)."""
    entry = pipeline.PARAM_REGISTRY[param_name].get(REGISTRY_KEY)
    if entry is None:
        return Resources()
    return Resources().over(check(entry, f"PARAM_REGISTRY[{param_name!r}][{REGISTRY_KEY!r}]"))


def answered(input_id: str, param_name: str, cost: Any) -> dict[str, Any]:
    """The pipeline's ``resources`` function's answer for one pair, checked (no function: {})."""
    if not callable(getattr(pipeline, FUNCTION, None)):
        return {}
    answer = pipeline_call(FUNCTION, input_id, param_name, cost)
    return check(answer, f"pipeline.{FUNCTION}({input_id!r}, {param_name!r}, {cost!r})")


# Given an entry and its resources, those to submit it with, or None to leave it out (a retry).
Adjust = Callable[[Entry, Resources], "Resources | None"]


def groups(
    entries: list[Entry], flags: Mapping[str, Any], adjust: Adjust | None = None
) -> list[tuple[Resources, list[Entry]]]:
    """The entries by resources (the flags' over the pipeline's), in order of first appearance.
    ``flags`` are the resource flags given, by resource key, as ``submission`` checked them.

    Each group becomes one array of its own: schedulers take one resource set per array. A
    parameter's resources are combined once per distinct answer of the function, so 100,000
    permutations cost about a function call each. ``adjust`` (``retry``'s) changes an entry's
    resources, or leaves the entry out.
    """
    from .. import axes

    grouped: dict[Resources, list[Entry]] = {}
    # (param name, the function's answer) -> its resources and their group: equal sets share one
    members: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[Resources, list[Entry]]] = {}
    for entry in entries:
        param = entry[axes.PARAM_KEY]
        answer = answered(entry[axes.INPUT_KEY], param, entry["sort_key"][0])
        key = (param, tuple(answer.items()))
        if key not in members:
            chosen = registered(param).over(answer).over(flags)
            members[key] = (chosen, grouped.setdefault(chosen, []))
        chosen, group = members[key]
        if adjust is None:
            group.append(entry)
            continue
        kept = adjust(entry, chosen)
        if kept is not None:
            grouped.setdefault(kept, []).append(entry)
    return [(chosen, group) for chosen, group in grouped.items() if group]
