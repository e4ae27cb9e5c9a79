"""The manifest builder, the selection and each output format, in-process, against the entries."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import parse_grid, report_rows

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder import axes, cli, layout
from {{ cookiecutter.package_name }}.builder.building import staging
from {{ cookiecutter.package_name }}.builder.engines import plan
from {{ cookiecutter.package_name }}.builder.engines.array_options import ENGINES
from {{ cookiecutter.package_name }}.builder.engines.resources import Resources
from {{ cookiecutter.package_name }}.builder.engines.submission import (
    ArrayGroup,
    ArrayJob,
    engine_file,
)
from {{ cookiecutter.package_name }}.builder.formats import Context, formats
from {{ cookiecutter.package_name }}.builder.formats import document as json_format
from {{ cookiecutter.package_name }}.builder.formats.commands import self_commands
from {{ cookiecutter.package_name }}.builder.formats.document import JSON_KEYS, json_fields
from {{ cookiecutter.package_name }}.builder.ids import UsageError
from {{ cookiecutter.package_name }}.builder.manifest import entries as manifest
from {{ cookiecutter.package_name }}.builder.manifest.entries import (
    Entry,
    permutation_entry,
    permutation_manifest,
)
from {{ cookiecutter.package_name }}.builder.manifest.selection import Selection, select
from {{ cookiecutter.package_name }}.builder.manifest.stale import mark_stale
from {{ cookiecutter.package_name }}.builder.pipeline_module import pipeline

INPUTS = pipeline.discover_inputs()
PARAMS = list(pipeline.PARAM_REGISTRY)


def touch_artifact(output: Path, permutation_id: str, size: int = 3) -> None:
    output.mkdir(parents=True, exist_ok=True)
    (output / f"{permutation_id}.{settings.ARTIFACT_EXTENSION}").write_bytes(b"x" * size)


def context(entries: list[Entry], folder: str = "output", **options: Any) -> Context:
    return Context(everything=entries, command_folder=folder, **options)


def test_full_cross_product_with_required_fields(tmp_path: Path) -> None:
    entries = permutation_manifest(tmp_path)
    assert len(entries) == len(INPUTS) * len(PARAMS) > 0
    assert {(e[axes.INPUT_KEY], e[axes.PARAM_KEY]) for e in entries} == {
        (i, p) for i in INPUTS for p in PARAMS
    }
    for entry in entries:
        assert entry["permutation_id"] == f"{entry[axes.INPUT_KEY]}_{entry[axes.PARAM_KEY]}"
        assert entry["done"] is False and entry["status"] == "MISS"
        assert entry["output_size"] is None
        assert isinstance(entry["sort_key"], tuple) and entry["label"]


def test_an_entry_neither_stopped_nor_stale_keeps_to_ten_keys(tmp_path: Path) -> None:
    """A dict of eleven keys takes a table twice the size: 20 MB more at 100,000 entries. Keys
    only some entries need (a stopped build's reason, a stale artifact's reasons) are added to
    those alone."""
    touch_artifact(tmp_path, f"{INPUTS[0]}_{PARAMS[0]}")
    entries = permutation_manifest(tmp_path)
    assert {len(entry) for entry in entries} == {10}
    mark_stale(entries, tmp_path)  # the touched artifact has no provenance: stale
    assert sorted(len(entry) for entry in entries) == [10] * (len(entries) - 1) + [11]


def test_done_comes_from_the_listing_with_size(tmp_path: Path) -> None:
    first = f"{INPUTS[0]}_{PARAMS[0]}"
    touch_artifact(tmp_path, first, size=7)
    (tmp_path / f"{first}.unrelated").write_text("not an artifact")
    by_id = {e["permutation_id"]: e for e in permutation_manifest(tmp_path)}
    assert by_id[first]["done"] and by_id[first]["status"] == "DONE"
    assert by_id[first]["output_size"] == 7
    assert by_id[first]["output_path"] == f"{tmp_path}/{first}.{settings.ARTIFACT_EXTENSION}"
    assert sum(e["done"] for e in by_id.values()) == 1


def test_size_sort_is_cheapest_input_first_then_cheapest_param(tmp_path: Path) -> None:
    chosen = select(permutation_manifest(tmp_path), Selection())
    costs = [
        (
            pipeline.estimate_cost(e[axes.INPUT_KEY]),
            pipeline.PARAM_REGISTRY[e[axes.PARAM_KEY]]["cost"],
        )
        for e in chosen
    ]
    assert costs == sorted(costs)
    assert chosen[0][axes.INPUT_KEY] == min(INPUTS, key=pipeline.estimate_cost)


def test_filters_and_limit(tmp_path: Path) -> None:
    done_id = f"{INPUTS[0]}_{PARAMS[0]}"
    touch_artifact(tmp_path, done_id)
    entries = permutation_manifest(tmp_path)
    done = select(entries, Selection(statuses=frozenset({"done"})))
    assert [e["permutation_id"] for e in done] == [done_id]
    missing = select(entries, Selection(statuses=frozenset({"missing"}), sort="name", limit=2))
    assert [e["permutation_id"] for e in missing] == sorted(
        e["permutation_id"] for e in entries if not e["done"]
    )[:2]


def test_entries_come_in_sort_key_order_even_when_costs_tie(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Equal input costs make inputs take turns per run of equal param costs: one order still."""
    costs = {inp: 1.0 if i == 0 else 1 for i, inp in enumerate(INPUTS)}  # 1 == 1.0: one run
    monkeypatch.setattr(pipeline, "estimate_cost", lambda inp: costs[inp])
    registry = pipeline.PARAM_REGISTRY
    tied = {name: {**registry[name], "cost": i % 2} for i, name in enumerate(registry)}
    monkeypatch.setattr(pipeline, "PARAM_REGISTRY", tied)
    entries = select(permutation_manifest(tmp_path), Selection())
    assert [e["sort_key"] for e in entries] == sorted(e["sort_key"] for e in entries)
    assert {e["sort_key"][0] for e in entries if e[axes.INPUT_KEY] == INPUTS[0]} == {1.0}


@pytest.mark.parametrize("bad", ["../x", "a/b", "with space", ".hidden", "-flag", ""])
def test_unsafe_discovered_input_is_refused(
    bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused alone, in one line: the other inputs are still listed (test_hostile_runs)."""
    monkeypatch.setattr(pipeline, "discover_inputs", lambda: [*INPUTS, bad])
    monkeypatch.setattr(pipeline, "estimate_cost", lambda _: 1)
    entries = permutation_manifest(tmp_path)
    assert {entry[axes.INPUT_KEY] for entry in entries} == set(INPUTS)
    warned = capsys.readouterr().err
    assert warned.startswith(f"warning: {axes.INPUT_AXIS} id {bad!r} is not a safe filename stem")
    assert warned.count("\n") == 1


def test_colliding_permutation_ids_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "discover_inputs", lambda: ["a_b", "a"])
    monkeypatch.setattr(pipeline, "estimate_cost", lambda _: 1)
    monkeypatch.setattr(pipeline, "PARAM_REGISTRY", {"c": {"cost": 1}, "b_c": {"cost": 2}})
    with pytest.raises(UsageError, match="'a_b_c' comes from both"):
        permutation_manifest(tmp_path)


def test_repeated_input_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "discover_inputs", lambda: [INPUTS[0], INPUTS[0]])
    with pytest.raises(UsageError, match="twice"):
        permutation_manifest(tmp_path)


def test_single_entry_matches_the_full_manifest(tmp_path: Path) -> None:
    touch_artifact(tmp_path, f"{INPUTS[-1]}_{PARAMS[-1]}")
    by_id = {e["permutation_id"]: e for e in permutation_manifest(tmp_path)}
    for inp in INPUTS:
        for param in PARAMS:
            assert permutation_entry(tmp_path, inp, param) == by_id[f"{inp}_{param}"]


def test_single_entry_names_the_valid_ids(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=f"unknown {settings.INPUT_AXIS} id 'nope'; valid: "):
        permutation_entry(tmp_path, "nope", PARAMS[0])
    with pytest.raises(UsageError, match=f"unknown {settings.PARAM_AXIS} name 'nope'; valid: "):
        permutation_entry(tmp_path, INPUTS[0], "nope")


def test_a_staged_build_shows_what_its_lock_records(tmp_path: Path) -> None:
    """BUILD while a live process holds the lock, FAIL once it is gone; the phase as recorded."""
    permutation_id, total = f"{INPUTS[0]}_{PARAMS[0]}", len(pipeline.PHASES)
    phase = f"[{total}/{total}] {pipeline.PHASES[-1].__name__}"

    def status() -> tuple[str, str | None]:
        entry = permutation_entry(tmp_path, INPUTS[0], PARAMS[0])
        listed = {e["permutation_id"]: e for e in permutation_manifest(tmp_path)}
        assert listed[permutation_id] == entry
        return entry["status"], entry["error"]

    lock = staging.BuildLock(layout.staging_dir(tmp_path, permutation_id), permutation_id)
    assert lock.acquire()  # flock: this process's lock conflicts with its own later probes
    assert status() == (f"BUILD [0/{total}] starting", None)
    lock.note(phase=phase)
    assert status() == (f"BUILD {phase}", None)
    lock.release()  # as a SIGKILL would: no error recorded
    assert status() == (f"FAIL {phase}", "no error recorded: the builder was killed")
    assert lock.acquire()  # a new builder's record replaces the old one
    assert status() == (f"BUILD [0/{total}] starting", None)
    lock.note(phase=phase, error="ValueError: bad\nrow")
    lock.release()
    assert status() == (f"FAIL {phase}", "ValueError: bad row")
    touch_artifact(tmp_path, permutation_id)  # the artifact, and a stopped rebuild
    assert status() == (f"REDO {phase}", "ValueError: bad row")
    lock.path.unlink()  # a staging dir without a lock: its builder never got that far
    assert status() == (f"REDO [0/{total}] starting", "no error recorded: the builder was killed")


# What the manifest may call on the file system; each must cost the same whatever the matrix size.
FILE_SYSTEM_CALLS = ["stat", "lstat", "scandir", "listdir", "open"]


def file_system_calls(
    output: Path, params: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[Counter[str], list[str]]:
    """The calls, by name, that listing inputs x ``params`` makes, and the paths listed or opened.

    The entries are then written as the JSON document, which must call nothing.
    """
    registry = {f"p{i:03d}": {"cost": i, "degree": 1} for i in range(params)}
    calls: Counter[str] = Counter()
    listed: list[str] = []
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "PARAM_REGISTRY", registry)
        for name in FILE_SYSTEM_CALLS:
            paths = listed if name in ("scandir", "open") else None  # the folders read
            patch.setattr(os, name, counted(getattr(os, name), name, calls, paths))
        patch.setattr(sqlite3, "connect", counted(sqlite3.connect, "sqlite3.connect", calls))
        entries = permutation_manifest(output)
        document = json.loads("".join(formats()["json"](entries, Selection(), context(entries))))
    assert len(entries) == document["total"] == len(INPUTS) * params
    return calls, listed


def counted(
    function: Any, name: str, calls: Counter[str], arguments: list[str] | None = None
) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        if arguments is not None:
            arguments.append(str(args[0]))
        return function(*args, **kwargs)

    return call


def test_manifest_costs_one_listing_whatever_the_matrix_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One listing of the output folder and one of _build/; no stat, open or SQLite per permutation.

    The same folder (done artifacts, a failed build's staging dir) is read as a matrix of 3 and of
    600 permutations: any call made per permutation would make the two counts differ.
    """
    for i in range(200):
        touch_artifact(tmp_path, f"{INPUTS[0]}_p{i:03d}")
    failed = f"{INPUTS[-1]}_p000"
    lock = staging.BuildLock(layout.staging_dir(tmp_path, failed), failed)
    assert lock.acquire()
    lock.note(phase="[1/3] load_samples", error="ValueError: boom")
    lock.release()

    small, small_listed = file_system_calls(tmp_path, 1, monkeypatch)
    large, large_listed = file_system_calls(tmp_path, 200, monkeypatch)
    assert small == large, f"calls grow with the matrix: {small} for 3, {large} for 600"
    assert large_listed.count(str(tmp_path)) == 1  # opened, then listed through its descriptor
    assert large_listed.count(str(layout.staging_root(tmp_path))) == 1
    assert large["sqlite3.connect"] == 0  # a stage's status comes from its lock


class CountedListing:
    """What os.scandir returns, with each DirEntry's stat() counted (DirEntry cannot be patched)."""

    def __init__(self, path: Any, calls: Counter[str]) -> None:
        self._listing = SCANDIR(path)
        self._calls = calls

    def __enter__(self) -> CountedListing:
        return self

    def __exit__(self, *exc: object) -> None:
        self._listing.close()

    def __iter__(self) -> Any:
        for item in self._listing:
            yield CountedEntry(item, self._calls)


class CountedEntry:
    def __init__(self, item: os.DirEntry[str], calls: Counter[str]) -> None:
        self.name, self.path, self._item, self._calls = item.name, item.path, item, calls
        self.is_file, self.is_dir = item.is_file, item.is_dir

    def stat(self) -> os.stat_result:
        self._calls["DirEntry.stat"] += 1
        return self._item.stat()


SCANDIR = os.scandir


@pytest.mark.parametrize(
    "shape", [(), ("--missing", "--commands"), ("--grid",), ("--stale",), ("--json",)]
)
def test_only_the_json_document_stats_the_artifacts(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    shape: tuple[str, ...],
) -> None:
    """A size costs a stat per artifact and only the JSON document shows sizes: the rest make none.

    Through the CLI's own entry point, so that the subcommand's wiring is what is counted.
    """
    for param in PARAMS:
        touch_artifact(tmp_path, f"{INPUTS[0]}_{param}", size=5)
    calls: Counter[str] = Counter()
    monkeypatch.setattr(os, "scandir", lambda path: CountedListing(path, calls))
    assert cli.main(["manifest", "--output-folder", str(tmp_path), *shape]) == 0
    out = capsys.readouterr().out
    assert calls["DirEntry.stat"] == (len(PARAMS) if shape == ("--json",) else 0)
    if shape == ("--json",):
        sizes = {e["output_size"] for e in json.loads(out)["entries"] if e["done"]}
        assert sizes == {5}


@pytest.fixture
def varied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Entry]:
    """Entries unusual on purpose: a folder and a unit to escape, float and tied costs, a done
    artifact, a failed build whose error needs escaping, a live one, a stopped rebuild."""
    monkeypatch.setattr(pipeline, "COST_UNIT", 'unités "quoted"\\')
    costs = {inp: 1.5 if i == 0 else 2 for i, inp in enumerate(INPUTS)}
    monkeypatch.setattr(pipeline, "estimate_cost", lambda inp: costs[inp])
    output = tmp_path / "ü dir"
    touch_artifact(output, f"{INPUTS[0]}_{PARAMS[0]}", size=11)
    touch_artifact(output, f"{INPUTS[-1]}_{PARAMS[-1]}", size=12)
    entries = permutation_manifest(output)
    by_id = {e["permutation_id"]: e for e in entries}
    failed = {"status": "FAIL [2/3] fit_model", "error": 'no "x"\tü', "reason": "exception E"}
    by_id[f"{INPUTS[0]}_{PARAMS[-1]}"].update(failed)
    by_id[f"{INPUTS[-1]}_{PARAMS[0]}"].update(status='BUILD [1/3] ph\\ase "é"')
    stopped = {"status": "REDO [3/3] finishing", "error": "OSError", "reason": "exception OSError"}
    by_id[f"{INPUTS[-1]}_{PARAMS[-1]}"].update(stopped)
    return entries


SELECTIONS = [
    Selection(),
    Selection(statuses=frozenset({"missing"})),
    Selection(statuses=frozenset({"done"})),
    Selection(statuses=frozenset({"fail", "build"})),
    Selection(sort="name"),
    Selection(limit=2),
    Selection(inputs=(INPUTS[0],), params=("*",)),
]


def selection_id(selection: Selection) -> str:
    changed = {k: v for k, v in selection._asdict().items() if v != getattr(Selection(), k)}
    shown = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in changed.items()}
    return ",".join(f"{k}={v}" for k, v in shown.items())


@pytest.mark.parametrize("selection", SELECTIONS, ids=selection_id)
@pytest.mark.parametrize("force", [False, True], ids=["", "force"])
def test_each_format_writes_the_selected_entries(
    varied: list[Entry], selection: Selection, force: bool
) -> None:
    """Every format (table, commands, JSON, grid) and every engine's file or jobs, each read back
    and compared to the entries."""
    chosen = select(varied, selection)
    assert chosen
    group = ArrayGroup(Resources(mem="2G"), "/out/_plans/x.plan", len(chosen), len(chosen), 1)
    job = ArrayJob("/root dir", "/root dir/out", image="img", volume_claim="c",
                   job_queue="q", job_definition="d")  # fmt: skip
    shown = context(varied, "my out", force=force)
    write = {name: "".join(fmt(chosen, selection, shown)) for name, fmt in formats().items()}
    write |= {name: "".join(engine_file(name)(job, (group,), "my out")) for name in ENGINES}
    ids = [e["permutation_id"] for e in chosen]
    done = sum(e["done"] for e in chosen)

    # table: the header counts the rows that are done, one row per entry with its state
    table = write["table"].splitlines()
    assert f"=== Manifest ({done}/{len(chosen)}) ===" in table
    rows = [line for line in table if line.startswith("  [")]
    assert [re.split(r"[][ ]+", row)[2] for row in rows] == ids
    for row, entry in zip(rows, chosen, strict=True):
        assert row.startswith(f"  [{entry['status'].split()[0]}] ") and entry["label"] in row
        assert entry["error"] is None or entry["error"] in row
    assert sum(row.startswith(("  [DONE]", "  [REDO]", "  [STALE]")) for row in rows) == done

    # commands: one per entry, pinning its two ids
    commands = [shlex.split(line) for line in write["commands"].splitlines()]
    for words, entry in zip(commands, chosen, strict=True):
        assert words[words.index("--output-folder") + 1] == "my out"
        assert words[words.index(axes.INPUT_FLAG) + 1] == entry[axes.INPUT_KEY]
        assert words[words.index(axes.PARAM_FLAG) + 1] == entry[axes.PARAM_KEY]
        assert ("--force" in words) is force
    assert len(commands) == len(chosen)

    # json: every entry's fields, the counts
    document = json.loads(write["json"])
    assert (document["total"], document["done"]) == (len(chosen), done)
    assert document["cost_unit"] == pipeline.COST_UNIT and document["output_folder"] == "my out"
    for written, entry in zip(document["entries"], chosen, strict=True):
        assert list(written) == [*JSON_KEYS, "cost", "command"]
        assert {key: written[key] for key in JSON_KEYS} == {k: entry.get(k) for k in JSON_KEYS}
        assert written["cost"] == list(entry["sort_key"][:2])
        assert shlex.split(written["command"])[-1 if not force else -2] == entry[axes.PARAM_KEY]

    # grid: each chosen entry's cell shows its state; totals count the done cells
    grid = parse_grid(write["grid"])
    symbols = {"DONE": "#", "MISS": ".", "BUILD": "B", "FAIL": "F", "REDO": "R"}
    for entry in chosen:
        cell = grid.cell(entry[axes.INPUT_KEY], entry[axes.PARAM_KEY])
        assert cell == symbols[entry["status"].split()[0]]
    for row, total in grid.row_totals.items():
        assert int(total.split("/")[0]) == sum(grid.rows[row].count(s) for s in "#RS")

    # slurm and sge: files over the plan, whose lines are the entries' ids in the same order
    for name in ("slurm", "sge"):
        assert "\nplan1=/out/_plans/x.plan\n" in write[name]
        assert f'\nsubmit "$plan1" 0 {len(chosen)} 1 ' in write[name]
        assert f": {len(chosen)} builds in {len(chosen)} " in write[name]
    # kubernetes and aws-batch: one job over the plan, a task per entry
    (kubernetes,) = [json.loads(job) for job in write["kubernetes"].split("\n---\n")[1:]]
    (batch,) = [json.loads(line) for line in write["aws-batch"].splitlines()]
    assert kubernetes["spec"]["completions"] == len(chosen)
    assert batch.get("arrayProperties", {"size": 1})["size"] == len(chosen)
    pod = kubernetes["spec"]["template"]["spec"]["containers"][0]
    for command in (pod["command"], batch["containerOverrides"]["command"]):
        assert " --output-folder 'my out' --plan /out/_plans/x.plan --per-task 1 " in command[2]
    # report: every entry in its data, with its status and the fields of the JSON document
    packed = report_rows(write["report"])
    assert [row["permutation_id"] for row in packed] == ids
    for unpacked, listed in zip(packed, document["entries"], strict=True):
        assert {key: unpacked[key] for key in JSON_KEYS} == {key: listed[key] for key in JSON_KEYS}
    header, *lines = plan.text_of(chosen, force=force).splitlines()
    assert ["_".join(line.split("\t")) for line in lines] == ids
    assert header.endswith(f"\tforce={int(force)}")


def test_json_document_is_exactly_what_json_dumps_writes(
    varied: list[Entry], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its slices joined are json.dumps of the whole, byte for byte; an entry's own keys last."""
    monkeypatch.setattr(json_format, "SLICE", 2)  # several slices, however few the entries
    entries = select(varied, Selection())
    entries[0] = {**entries[0], "stale": ["input changed: a.csv"]}
    for force in (False, True):
        shown = context(varied, "my out", force=force)
        commands = self_commands(entries, shown)
        expected = {
            "output_folder": "my out",
            "input_axis": axes.INPUT_AXIS,
            "param_axis": axes.PARAM_AXIS,
            "cost_unit": pipeline.COST_UNIT,
            "total": len(entries),
            "done": sum(e["done"] for e in entries),
            "entries": [json_fields(e, c) for e, c in zip(entries, commands, strict=True)],
            "gathers": [],
            "orphans": [],
            "excluded": [],
        }
        document = "".join(formats()["json"](entries, Selection(), shown))
        assert document == json.dumps(expected, separators=(",", ":")) + "\n"
    assert json.loads(document)["entries"][0]["stale"] == ["input changed: a.csv"]


@pytest.mark.parametrize(
    ("costs", "message"),
    [
        pytest.param(lambda inp: None, "returned None; return a number", id="none"),
        pytest.param(lambda inp: "big", "returned 'big'; return a number", id="string"),
        pytest.param(lambda inp: True, "returned True; return a number", id="bool"),
        pytest.param(lambda inp: 1 / 0, "failed: ZeroDivisionError", id="raises"),
    ],
)
def test_a_cost_that_is_not_a_number_names_the_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, costs: Any, message: str
) -> None:
    monkeypatch.setattr(pipeline, "estimate_cost", costs)
    with pytest.raises(UsageError, match=f"pipeline.estimate_cost\\('{INPUTS[0]}'\\) {message}"):
        permutation_manifest(tmp_path)


def test_the_longest_file_name_is_checked_for_the_longest_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "discover_inputs", lambda: ["a" * 128, "b"])
    monkeypatch.setattr(pipeline, "estimate_cost", lambda _: 1)
    monkeypatch.setattr(pipeline, "PARAM_REGISTRY", {"p" * 121: {"cost": 1}, "q": {"cost": 2}})
    with pytest.raises(UsageError, match="file names hold at most 255"):
        permutation_manifest(tmp_path)
    longest = manifest.longest_file_name("x" * 200)
    assert longest.startswith("x" * 200) and len(longest) > 200


# The stages of the walk from `manifest`'s arguments to its output, in the order data flows.
WALK = ("manifest.entries", "manifest.selection", "formats")


def stages_entered(argv: list[str]) -> tuple[list[str], list[str]]:
    """The stages the CLI enters, in order, from the listing on (a call from one module into a
    stage in another, a format's modules counting as ``formats``); and every call back into a
    builder module that is still waiting, lower down the stack, for a call it made to return."""
    package = f"{settings.PACKAGE}.builder."
    entered: list[str] = []
    reentered: list[str] = []

    def module(frame: Any) -> str:
        return str(frame.f_globals.get("__name__", ""))

    def stage(frame: Any) -> str:
        name = module(frame).removeprefix(package)
        return "formats" if name.startswith("formats.") else name

    def called(frame: Any, event: str, arg: object) -> None:
        if event != "call" or frame.f_back is None:
            return
        callee, caller = stage(frame), stage(frame.f_back)
        if callee in WALK and callee != caller and (entered or callee == WALK[0]):
            entered.append(callee)
        here = module(frame)
        if not here.startswith(package):
            return
        waiting, below = [], frame.f_back
        while below is not None:
            waiting.append(module(below))
            below = below.f_back
        while waiting and waiting[0] == here:  # its own calls within itself
            waiting.pop(0)
        if here in waiting:
            reentered.append(f"{here} <- {waiting[0]}")

    sys.setprofile(called)
    try:
        assert cli.main(argv) == 0
    finally:
        sys.setprofile(None)
    return entered, reentered


@pytest.mark.parametrize(
    "shape", [(), ("--json",), ("--commands",), ("--missing", "--commands", "--limit", "2")]
)
def test_the_walk_enters_each_stage_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shape: tuple[str, ...]
) -> None:
    """Entries, then the selection, then the format: no stage calls back into one before it,
    and no module of the builder is entered again while it waits on a call it made."""
    touch_artifact(tmp_path, f"{INPUTS[0]}_{PARAMS[0]}")
    entered, reentered = stages_entered(["manifest", "--output-folder", str(tmp_path), *shape])
    assert capsys.readouterr().out
    walked = [name for i, name in enumerate(entered) if i == 0 or entered[i - 1] != name]
    assert walked == list(WALK), entered
    assert not reentered
