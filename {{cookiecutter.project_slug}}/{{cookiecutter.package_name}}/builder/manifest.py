"""The manifest: every permutation of inputs x parameters with its build status.

It costs one listing of the output folder and one of its staging folder, whatever the size of the
matrix: a missing artifact is learned from its absence in the listing, never from a ``stat``, and a
staged build's status is read from its lock only for the staging dirs that exist. It never prints.
"""

from __future__ import annotations

import os
from itertools import groupby
from operator import itemgetter
from pathlib import Path

from .. import settings
from . import axes, layout, staging
from .ids import UsageError, check_safe_stem
from .pipeline_module import pipeline

# typing.TYPE_CHECKING without importing typing, which would add 4 ms to every info subcommand.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# A permutation: the spec's fields (permutation_id, done, sort_key, label) and the builder's own.
Entry = dict[str, "Any"]


def discover_inputs() -> list[str]:
    """The pipeline's input ids, refused one by one if any is unsafe as a file name or repeated."""
    inputs = [check_safe_stem(i, f"{axes.INPUT_AXIS} id") for i in pipeline.discover_inputs()]
    _refuse_repeats(inputs, f"{axes.INPUT_AXIS} id")
    return inputs


def param_names() -> list[str]:
    """The registry's keys, refused if any is unsafe as a file name or lacks a cost."""
    for name, spec in pipeline.PARAM_REGISTRY.items():
        check_safe_stem(name, f"{axes.PARAM_AXIS} name")
        if "cost" not in spec:
            raise UsageError(f"PARAM_REGISTRY[{name!r}] has no 'cost'; give every entry a cost")
    return list(pipeline.PARAM_REGISTRY)


def _refuse_repeats(values: list[str], what: str) -> None:
    if len(set(values)) != len(values):
        seen: set[str] = set()
        repeated = next(v for v in values if v in seen or seen.add(v))  # type: ignore[func-returns-value]
        raise UsageError(f"{what} {repeated!r} is discovered twice; ids must be unique")


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


def finished_artifacts(output_dir: Path, *, sizes: bool = True) -> dict[str, int | None]:
    """Each finished artifact's permutation id, from one listing of the output folder, and its size.

    A size costs a ``stat`` per artifact, half the time of a 100,000-permutation manifest, so
    without ``sizes`` (for outputs that show none) each size is None. The folder is listed through
    a descriptor, so that each ``stat`` resolves one name rather than the whole path again.
    """
    suffix = "." + settings.ARTIFACT_EXTENSION
    cut = -len(suffix)
    try:
        folder = os.open(output_dir, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return {}
    except NotADirectoryError:
        raise UsageError(f"output folder '{output_dir}' is a file; give a folder") from None
    try:
        with os.scandir(folder) as listing:
            return {
                item.name[:cut]: item.stat().st_size if sizes else None
                for item in listing
                if item.name.endswith(suffix) and item.is_file()
            }
    finally:
        os.close(folder)


def staged_status(output_dir: Path, permutation_id: str) -> tuple[str, str | None]:
    """``BUILD [k/N] phase`` for a live build; ``FAIL [k/N] phase`` and its error if it died.

    k is the phase being run (or that was running when the build stopped), 1-based;
    ``[0/N] starting`` means the builder holds the lock but has not begun a phase yet, and
    ``[N/N] finishing`` that the phases are done and the artifact is being moved into place. It
    all comes from the lock's status record: the staged artifact is never opened, so a busy or
    crashed database cannot make the manifest slow or wrong.
    """
    stage = layout.staging_dir(output_dir, permutation_id)
    live, record = staging.read_lock(layout.lock_file(stage, permutation_id))
    where = record.get("phase", f"[0/{len(pipeline.PHASES)}] starting")
    if live:
        return f"BUILD {where}", None
    return f"FAIL {where}", record.get("error", "no error recorded: the builder was killed")


def staged_statuses(output_dir: Path) -> dict[str, tuple[str, str | None]]:
    """Status of every staging dir, from one listing of ``<output>/_build``."""
    try:
        with os.scandir(layout.staging_root(output_dir)) as listing:
            names = [item.name for item in listing if item.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return {}
    # A name starting with '.' is a staging dir being discarded, never a permutation id.
    return {name: staged_status(output_dir, name) for name in names if name[0] != "."}


def permutation_manifest(output_dir: Path, *, sizes: bool = True) -> list[Entry]:
    """Every permutation with its status, cheapest first (the printer sorts as asked).

    ``output_size`` is the artifact's size in bytes, or None when it is not built or when
    ``sizes`` is false: then no artifact is ``stat``-ed.
    """
    return Matrix.listed(output_dir, sizes=sizes).entries()


def check_known(inp: str | None, param: str | None) -> tuple[list[str], list[str]]:
    """Refuse an id the pipeline does not have, listing the valid ones; return both axes' values."""
    if inp is not None:
        check_safe_stem(inp, f"{axes.INPUT_AXIS} id")
    if param is not None:
        check_safe_stem(param, f"{axes.PARAM_AXIS} name")
    inputs = discover_inputs()
    params = param_names()
    if inp is not None and inp not in inputs:
        raise UsageError(f"unknown {axes.INPUT_AXIS} id {inp!r}; valid: {', '.join(inputs)}")
    if param is not None and param not in params:
        raise UsageError(f"unknown {axes.PARAM_AXIS} name {param!r}; valid: {', '.join(params)}")
    return inputs, params


def permutation_entry(output_dir: Path, inp: str, param: str) -> Entry:
    """One permutation's entry without listing the output folder, so ``build`` of one stays fast."""
    inputs, params = check_known(inp, param)
    _refuse_colliding_ids(inputs, params)
    permutation_id = f"{inp}_{param}"
    artifacts: dict[str, int | None]
    try:
        artifacts = {
            permutation_id: (output_dir / layout.artifact_name(permutation_id)).stat().st_size
        }
    except FileNotFoundError:
        artifacts = {}
    except NotADirectoryError:
        raise UsageError(f"output folder '{output_dir}' is a file; give a folder") from None
    stage = layout.staging_dir(output_dir, permutation_id)
    staged = {permutation_id: staged_status(output_dir, permutation_id)} if stage.is_dir() else {}
    return Matrix(output_dir, [inp], [param], artifacts, staged).entries()[0]


# A permutation before it is an entry dict: its id, input id, param name, input cost, param cost
# and whether its artifact is listed (the last, at CELL_DONE).
Cell = tuple[str, str, str, "Any", "Any", bool]
CELL_DONE = 5

# Inputs (cost, id, the cost as labels show it) that each take each of the (cost, name) parameters.
Block = tuple[list[tuple["Any", str, str]], list[tuple["Any", str]]]


class Matrix:
    """The inputs x parameters and what the listings say of each permutation, in sort_key order.

    ``entries()`` makes the spec's entry dicts. ``cells()`` makes a tuple per permutation instead,
    for outputs that only write each permutation once: at 10,000 permutations the dicts cost as
    much as listing the output folder.
    """

    def __init__(
        self,
        output_dir: Path,
        inputs: list[str],
        params: list[str],
        artifacts: dict[str, int | None],
        staged: dict[str, tuple[str, str | None]],
    ) -> None:
        self.output_dir = output_dir
        self.inputs = inputs
        self.params = params
        self.artifacts = artifacts  # permutation id -> size, for the finished artifacts
        self.staged = staged  # permutation id -> (status, error), for the staging dirs

    @classmethod
    def listed(cls, output_dir: Path, *, sizes: bool = True) -> Matrix:
        """The whole matrix, from one listing of the output folder and one of its staging folder."""
        inputs = discover_inputs()
        params = param_names()
        _refuse_colliding_ids(inputs, params)
        artifacts = finished_artifacts(output_dir, sizes=sizes)
        return cls(output_dir, inputs, params, artifacts, staged_statuses(output_dir))

    def entries(self) -> list[Entry]:
        """The entry dicts: the one loop that builds a dict per permutation, kept lean."""
        artifacts = self.artifacts
        folder = str(self.output_dir)
        suffix = "." + settings.ARTIFACT_EXTENSION
        input_key, param_key = axes.INPUT_KEY, axes.PARAM_KEY
        entries: list[Entry] = []
        append = entries.append
        for inputs, param_costs in self._blocks():
            for cost, inp, described in inputs:
                for param_cost, param in param_costs:
                    permutation_id = f"{inp}_{param}"
                    done = permutation_id in artifacts
                    append(
                        {
                            "permutation_id": permutation_id,
                            input_key: inp,
                            param_key: param,
                            "done": done,
                            "status": "DONE" if done else "MISS",
                            "error": None,
                            "output_path": f"{folder}/{permutation_id}{suffix}",
                            "output_size": artifacts[permutation_id] if done else None,
                            "sort_key": (cost, param_cost, inp, param),
                            "label": f"{inp} + {param} {described}",
                        }
                    )
        if self.staged:  # a few staging dirs at most: their entries take the status of the lock
            for entry in entries:
                if entry["permutation_id"] in self.staged:
                    entry["status"], entry["error"] = self.staged[entry["permutation_id"]]
        return entries

    def cells(self) -> list[Cell]:
        """A tuple per permutation, in the order and with the values of ``entries()``."""
        artifacts = self.artifacts
        cells: list[Cell] = []
        append = cells.append
        for inputs, param_costs in self._blocks():
            for cost, inp, _ in inputs:
                for param_cost, param in param_costs:
                    permutation_id = f"{inp}_{param}"
                    done = permutation_id in artifacts
                    append((permutation_id, inp, param, cost, param_cost, done))
        return cells

    def _blocks(self) -> list[Block]:
        """The matrix in sort_key order, as blocks in which each input takes each parameter.

        ``sort_key`` is (input cost, param cost, input, param). An input whose cost no other input
        shares is a block with every parameter, cheapest first; inputs of equal cost take turns
        instead, a block per run of equally costly parameters, since the parameter's cost comes
        before the input. In this order the entries need no sort by size: the printer's sort
        makes one pass over them.
        """
        unit = pipeline.COST_UNIT
        param_costs = sorted((pipeline.PARAM_REGISTRY[p]["cost"], p) for p in self.params)
        param_runs = [list(run) for _, run in groupby(param_costs, key=itemgetter(0))]
        input_costs = sorted((pipeline.estimate_cost(i), i) for i in self.inputs)
        blocks: list[Block] = []
        for _, run in groupby(input_costs, key=itemgetter(0)):
            inputs = [(cost, inp, f"({cost:,} {unit})") for cost, inp in run]
            if len(inputs) == 1:
                blocks.append((inputs, param_costs))
            else:
                blocks.extend((inputs, param_run) for param_run in param_runs)
        return blocks
