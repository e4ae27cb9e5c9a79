"""The manifest: every permutation of inputs x parameters with its status, as the spec's entries.

It costs one listing of the output folder and one of its staging folder, whatever the size of the
matrix: a missing artifact is learned from its absence in the listing, never from a ``stat``, and a
staged build's status is read from its lock only for the staging dirs that exist. What the
pipeline answers (ids, costs) is checked here, so a mistake in it is one line naming the function.
The manifest prints nothing but a warning for an input id it leaves out; ``selection`` picks
entries and ``formats`` writes them.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path
from typing import Any, NamedTuple

from ... import settings
from .. import axes, failures, layout, status
from ..ids import SAFE_STEM_RULE, UsageError, check_safe_stem, is_safe_stem
from ..pipeline_module import pipeline
from .gathers import declared, gather_entries
from .listing import finished_artifacts, not_an_artifact
from .stages import read_stage, staged

# A permutation: the spec's fields (permutation_id, done, sort_key, label) and the builder's own
# (the two ids, status, error, output_path, output_size; ``reason``, and ``slurm_job`` if recorded,
# for a stopped build; ``stale`` after ``manifest --stale``). Ten keys for every entry, no more: a
# dict of eleven takes a table twice the size, 20 MB more at 100,000 entries.
Entry = dict[str, Any]

# The longest file name a directory entry may have on the file systems builds run on.
NAME_MAX = 255
# staging.discard renames a stage to `.<id>.<pid>.discarded`: the id plus at most 19 bytes.
DISCARDED_SUFFIX = len("..4194304.discarded")


def pipeline_call(name: str, *args: Any) -> Any:
    """Call a pipeline function; if it raises, one line naming it, the arguments and the error."""
    try:
        return getattr(pipeline, name)(*args)
    except Exception as error:
        called = f"{name}({', '.join(map(repr, args))})"
        raise UsageError(f"pipeline.{called} failed: {type(error).__name__}: {error}") from None


def discover_inputs() -> list[str]:
    """The pipeline's input ids. One unsafe as a file name (a file ``my data.csv``) is left out,
    said in one line on stderr, once a process, so that one bad name blocks nothing else; an
    answer that is no list of str, or repeats an id, is refused whole."""
    declared()  # a gather declared wrongly is refused by whatever command comes first
    found = pipeline_call("discover_inputs")
    if not isinstance(found, list | tuple) or not all(isinstance(i, str) for i in found):
        raise UsageError(
            f"pipeline.discover_inputs() returned {found!r:.80}; return a list of str ids"
        )
    inputs = [i for i in found if is_safe_stem(i) or _leave_out(i)]
    _refuse_repeats(inputs, f"{axes.INPUT_AXIS} id")
    return inputs


_left_out: set[str] = set()


def _leave_out(input_id: str) -> bool:
    """Say (once) that an input id is left out; False, so that it is."""
    if input_id not in _left_out:
        _left_out.add(input_id)
        what = f"{axes.INPUT_AXIS} id {input_id!r}"
        print(f"warning: {what} is not {SAFE_STEM_RULE}; left out", file=sys.stderr)
    return False


def param_names() -> list[str]:
    """The registry's keys, refused if any is unsafe as a file name or lacks a cost."""
    declared()
    for name, spec in pipeline.PARAM_REGISTRY.items():
        check_safe_stem(name, f"{axes.PARAM_AXIS} name")
        if "cost" not in spec:
            raise UsageError(f"PARAM_REGISTRY[{name!r}] has no 'cost'; give every entry a cost")
    return list(pipeline.PARAM_REGISTRY)


def _refuse_repeats(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise UsageError(f"{what} {value!r} is discovered twice; ids must be unique")
        seen.add(value)


def _refuse_colliding_ids(inputs: list[str], params: list[str]) -> None:
    """Two pairs may join to one id (a_b + c, a + b_c): refuse rather than merge their artifacts.

    A collision needs an underscore in both an input id and a parameter name, so the common case
    costs one scan of each axis, not a set of the whole matrix.
    """
    if not any("_" in p for p in params) or not any("_" in i for i in inputs):
        return
    owners: dict[str, tuple[str, str]] = {}
    for inp in inputs:
        for param in params:
            pair = owners.setdefault(f"{inp}_{param}", (inp, param))
            if pair != (inp, param):
                raise UsageError(
                    f"permutation id '{inp}_{param}' comes from both {pair} and {(inp, param)};"
                    " rename one so that every pair has its own id"
                )


def longest_file_name(permutation_id: str) -> str:
    """The longest name the layout gives a file or folder of this permutation."""
    stage = Path()
    names = [
        layout.sidecar_path(Path(layout.artifact_name(permutation_id))).name,
        layout.progress_file(stage, permutation_id).name,
        layout.lock_file(stage, permutation_id).name,
        *(layout.log_file(stage, permutation_id, level).name for level in layout.LOG_LEVELS),
    ]
    return max(names, key=lambda name: len(name.encode()))


def _refuse_long_names(inputs: list[str], params: list[str]) -> None:
    """Ids valid alone may be too long together: check the longest pair before any build."""
    if not inputs or not params:
        return
    inp = max(inputs, key=lambda i: len(i.encode()))
    param = max(params, key=lambda p: len(p.encode()))
    permutation_id = f"{inp}_{param}"
    longest = longest_file_name(permutation_id)
    size = max(len(longest.encode()), len(permutation_id.encode()) + DISCARDED_SUFFIX)
    if size > NAME_MAX:
        raise UsageError(
            f"permutation id {permutation_id!r} ({inp!r} + {param!r}) makes file names of"
            f" {size} bytes, such as {longest!r}; file names hold at most {NAME_MAX}:"
            f" shorten the {axes.INPUT_AXIS} id or the {axes.PARAM_AXIS} name"
        )


def axis_values() -> tuple[list[str], list[str]]:
    """Both axes' values, checked: safe, unique, no two pairs with one id, names that fit."""
    inputs = discover_inputs()
    params = param_names()
    _refuse_colliding_ids(inputs, params)
    _refuse_long_names(inputs, params)
    return inputs, params


def check_known(inp: str, param: str) -> tuple[list[str], list[str]]:
    """Refuse an id the pipeline does not have, listing the valid ones; return both axes' values."""
    check_safe_stem(inp, f"{axes.INPUT_AXIS} id")
    check_safe_stem(param, f"{axes.PARAM_AXIS} name")
    inputs, params = axis_values()
    if inp not in inputs:
        raise UsageError(f"unknown {axes.INPUT_AXIS} id {inp!r}; valid: {', '.join(inputs)}")
    if param not in params:
        raise UsageError(f"unknown {axes.PARAM_AXIS} name {param!r}; valid: {', '.join(params)}")
    return inputs, params


def _number(value: Any, called: str) -> Any:
    """A cost must order and multiply: int, float or one that acts as a number (numpy's,
    Decimal, Fraction), not a bool and not text."""
    if hasattr(value, "__float__") and not isinstance(value, bool | str | bytes):
        return value
    raise UsageError(f"pipeline.{called} returned {value!r}; return a number")


def estimate_cost(*ids: str) -> Any:
    """``pipeline.estimate_cost`` of an input (or of a pair), checked to be a number."""
    called = f"estimate_cost({', '.join(map(repr, ids))})"
    return _number(pipeline_call("estimate_cost", *ids), called)


def costs_pairs() -> bool:
    """``estimate_cost(input_id, param_name)`` costs a pair; the default takes the input alone."""
    function = pipeline.estimate_cost
    code = getattr(function, "__code__", None)
    if code is None:
        import inspect  # a callable object or a builtin: rare, and inspect costs milliseconds

        return len(inspect.signature(function).parameters) == 2
    return int(code.co_argcount) - int(hasattr(function, "__self__")) == 2


# A pair the pipeline's ``exclude`` says does not apply: its ids and the reason.
Excluded = tuple[str, str, str]


def _exclude_function() -> Any:
    """``pipeline.exclude``, checked to take (input_id, param_name); None if there is none."""
    exclude = getattr(pipeline, "exclude", None)
    if exclude is None:
        return None
    code = getattr(exclude, "__code__", None)
    if not callable(exclude) or (code is not None and code.co_argcount != 2):
        raise UsageError(
            "pipeline.exclude must be a function of (input_id, param_name) that returns a reason"
            " (str) or None"
        )
    return exclude


def _reason(found: Any, inp: str, param: str) -> str:
    if not isinstance(found, str) or not found.strip():
        raise UsageError(
            f"pipeline.exclude({inp!r}, {param!r}) returned {found!r:.60}; return a reason"
            " (a non-empty str) or None"
        )
    return " ".join(found.split())


def excluded_pairs(inputs: list[str], params: list[str]) -> dict[str, Excluded]:
    """The pairs ``pipeline.exclude`` leaves out, by permutation id; nothing (and no call) when
    the pipeline has no ``exclude``."""
    exclude = _exclude_function()
    if exclude is None:
        return {}
    found: dict[str, Excluded] = {}
    inp = param = ""
    try:
        for inp in inputs:
            for param in params:
                reason = exclude(inp, param)
                if reason is not None:
                    found[f"{inp}_{param}"] = (inp, param, _reason(reason, inp, param))
    except UsageError:
        raise
    except Exception as error:
        called = f"exclude({inp!r}, {param!r})"
        raise UsageError(f"pipeline.{called} failed: {type(error).__name__}: {error}") from None
    return found


def excluded_pair(inp: str, param: str) -> dict[str, Excluded]:
    """The one pair, if ``pipeline.exclude`` leaves it out."""
    if _exclude_function() is None:
        return {}
    reason = pipeline_call("exclude", inp, param)
    return {} if reason is None else {f"{inp}_{param}": (inp, param, _reason(reason, inp, param))}


def refuse_excluded(excluded: dict[str, Excluded]) -> None:
    """``build`` of a pair that does not apply: one line, with the pipeline's reason."""
    for permutation_id, (_, _, reason) in excluded.items():
        raise UsageError(
            f"{permutation_id} is excluded by pipeline.exclude: {reason}; it is never built"
        )


def make_entries(
    output_dir: Path,
    inputs: list[str],
    params: list[str],
    artifacts: dict[str, int | None],
    stages: dict[str, status.Stage],
    excluded: dict[str, Excluded] | None = None,
    strays: set[str] | frozenset[str] = frozenset(),
) -> list[Entry]:
    """The entry of each pair but the ``excluded``: the one place entries are made, for the whole
    matrix and for one permutation alike. A stray (what stands where its artifact goes is no file)
    is a build that cannot go on until it is removed, and says so."""
    folder = str(output_dir)
    suffix = "." + settings.ARTIFACT_EXTENSION
    unit = pipeline.COST_UNIT
    phases = len(pipeline.PHASES)
    param_costs = {
        p: _number(pipeline.PARAM_REGISTRY[p]["cost"], f"PARAM_REGISTRY[{p!r}]['cost']")
        for p in params
    }
    pair_cost = costs_pairs()
    input_costs = {inp: None if pair_cost else estimate_cost(inp) for inp in inputs}
    # Cheapest input first, then cheapest parameter: the entries then come (almost, when costs
    # tie) in sort_key order, which select's sort goes through in one pass.
    if not pair_cost:
        inputs = sorted(inputs, key=lambda inp: (input_costs[inp], inp))
    params = sorted(params, key=lambda param: (param_costs[param], param))
    input_key, param_key = axes.INPUT_KEY, axes.PARAM_KEY
    entries: list[Entry] = []
    for inp in inputs:
        cost = input_costs[inp]
        described = "" if pair_cost else f"({cost:,} {unit})"
        for param in params:
            if pair_cost:
                cost = estimate_cost(inp, param)
                described = f"({cost:,} {unit})"
            permutation_id = f"{inp}_{param}"
            if excluded and permutation_id in excluded:
                continue
            done = permutation_id in artifacts
            stage = stages.get(permutation_id)
            if permutation_id in strays:
                stage = _stray(output_dir, permutation_id, stage)
            state, error = status.classify(done, stage, phases)
            entries.append(
                {
                    "permutation_id": permutation_id,
                    input_key: inp,
                    param_key: param,
                    "done": done,
                    "status": state,
                    "error": error,
                    "output_path": f"{folder}/{permutation_id}{suffix}",
                    "output_size": artifacts[permutation_id] if done else None,
                    "sort_key": (cost, param_costs[param], inp, param),
                    "label": f"{inp} + {param} {described}",
                }
            )
            if error is not None and stage is not None:  # a stopped build: why, and its job
                _add_reason(entries[-1], stage.record)
    return entries


def _stray(output_dir: Path, permutation_id: str, stage: status.Stage | None) -> status.Stage:
    """A stage that says what stands at the artifact's path, on top of what a real one says."""
    path = layout.artifact_path(output_dir, permutation_id)
    said = not_an_artifact(path) or f"{path} is not a file, not an artifact; remove it"
    record = stage.record if stage is not None else {}
    return status.Stage(False, {**record, "error": said})


def _add_reason(entry: Entry, record: dict[str, str]) -> None:
    entry["reason"] = failures.recorded(record)
    if failures.JOB_KEY in record:
        entry[failures.JOB_KEY] = record[failures.JOB_KEY]


class Survey(NamedTuple):
    """What one listing of the output folder says: the entries of the matrix, the pairs left out,
    the gathers' entries, and what the listings held (for ``orphans``)."""

    entries: list[Entry]
    excluded: dict[str, Excluded]
    gathers: list[Entry]
    artifacts: dict[str, int | None]
    stages: dict[str, status.Stage]


def survey(output_dir: Path, *, sizes: bool = True) -> Survey:
    """Every permutation with its status, from one listing of the output folder and of ``_build``.

    ``output_size`` is the artifact's size in bytes, or None when it is not built or when
    ``sizes`` is false: then no artifact is ``stat``-ed.
    """
    inputs, params = axis_values()
    strays: set[str] = set()
    artifacts = finished_artifacts(output_dir, sizes=sizes, strays=strays)
    stages = staged(output_dir)
    excluded = excluded_pairs(inputs, params)
    entries = make_entries(output_dir, inputs, params, artifacts, stages, excluded, strays)
    found = gather_entries(output_dir, inputs, params, entries)
    return Survey(entries, excluded, found, artifacts, stages)


def permutation_manifest(output_dir: Path, *, sizes: bool = True) -> list[Entry]:
    """The entries of ``survey``."""
    return survey(output_dir, sizes=sizes).entries


def permutation_entry(output_dir: Path, inp: str, param: str) -> Entry:
    """One permutation's entry without listing the output folder, so ``build`` of one stays fast;
    a pair the pipeline excludes is refused in one line."""
    check_known(inp, param)
    refuse_excluded(excluded_pair(inp, param))
    return _entry(output_dir, inp, param)


def pair_entries(output_dir: Path, pairs: list[tuple[str, str]]) -> list[Entry]:
    """The entries of these pairs, in order, without listing the output folder (a plan's task)."""
    inputs, params = map(set, axis_values())
    for inp, param in pairs:
        if inp not in inputs:
            raise UsageError(f"unknown {axes.INPUT_AXIS} id {inp!r}: the pipeline has none such")
        if param not in params:
            raise UsageError(
                f"unknown {axes.PARAM_AXIS} name {param!r}: the registry has none such"
            )
        refuse_excluded(excluded_pair(inp, param))
    return [_entry(output_dir, inp, param) for inp, param in pairs]


def _entry(output_dir: Path, inp: str, param: str) -> Entry:
    permutation_id = f"{inp}_{param}"
    artifacts: dict[str, int | None] = {}
    strays: set[str] = set()
    try:
        info = layout.artifact_path(output_dir, permutation_id).stat()
    except FileNotFoundError:
        pass
    except OSError as error:
        raise layout.unreadable(output_dir, error) from None
    else:
        if stat.S_ISREG(info.st_mode):
            artifacts[permutation_id] = info.st_size
        else:
            strays.add(permutation_id)
    stages = {}
    if layout.staging_dir(output_dir, permutation_id).is_dir():
        stages[permutation_id] = read_stage(output_dir, permutation_id)
    return make_entries(output_dir, [inp], [param], artifacts, stages, strays=strays)[0]
