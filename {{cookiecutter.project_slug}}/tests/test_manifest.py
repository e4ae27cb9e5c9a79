"""The manifest builder and printer, in-process: statuses, sorting, filters, refused ids."""

from __future__ import annotations

import gc
import json
import os
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder import (
    axes,
    cli,
    layout,
    manifest,
    printer,
    staging,
)
from {{ cookiecutter.package_name }}.builder.ids import UsageError
from {{ cookiecutter.package_name }}.builder.manifest import (
    permutation_entry,
    permutation_manifest,
)
from {{ cookiecutter.package_name }}.builder.pipeline_module import pipeline

INPUTS = pipeline.discover_inputs()
PARAMS = list(pipeline.PARAM_REGISTRY)


def touch_artifact(output: Path, permutation_id: str, size: int = 3) -> None:
    output.mkdir(parents=True, exist_ok=True)
    (output / f"{permutation_id}.{settings.ARTIFACT_EXTENSION}").write_bytes(b"x" * size)


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
    chosen = printer.select(permutation_manifest(tmp_path), sort="size")
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
    assert [e["permutation_id"] for e in printer.select(entries, done=True)] == [done_id]
    missing = printer.select(entries, missing=True, sort="name", limit=2)
    assert [e["permutation_id"] for e in missing] == sorted(
        e["permutation_id"] for e in entries if not e["done"]
    )[:2]


def test_table_has_the_spec_header_and_markers(tmp_path: Path) -> None:
    touch_artifact(tmp_path, f"{INPUTS[0]}_{PARAMS[0]}")
    table = printer.format_table(permutation_manifest(tmp_path))
    assert f"=== Manifest (1/{len(INPUTS) * len(PARAMS)}) ===" in table
    assert table.count("[DONE]") == 1
    assert table.count("[MISS]") == len(INPUTS) * len(PARAMS) - 1


def test_commands_pin_one_permutation_and_force_only_when_asked(tmp_path: Path) -> None:
    entries = printer.select(permutation_manifest(tmp_path), limit=1)
    plain = printer.format_commands(entries, "output").strip()
    entry = entries[0]
    assert plain == (
        f"{settings.COMMAND_RUNNER} -m {settings.PACKAGE}.builder build --output-folder output"
        f" {axes.INPUT_FLAG} {entry[axes.INPUT_KEY]} {axes.PARAM_FLAG} {entry[axes.PARAM_KEY]}"
    )
    assert printer.format_commands(entries, "output", force=True).strip() == plain + " --force"
    assert "'my out'" in printer.format_commands(entries, "my out")


def test_json_document_has_every_field(tmp_path: Path) -> None:
    document = json.loads("".join(printer.json_document(permutation_manifest(tmp_path), "output")))
    assert document["total"] == len(INPUTS) * len(PARAMS) and document["done"] == 0
    assert document["cost_unit"] == pipeline.COST_UNIT
    # The README's schema, checked key by key through the CLI in test_scaling.py, in this order.
    assert list(document["entries"][0]) == [*printer.JSON_KEYS, "cost", "command"]


def test_entries_come_in_sort_key_order_even_when_costs_tie(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Equal input costs make inputs take turns per run of equal param costs: still one order."""
    costs = {inp: 1.0 if i == 0 else 1 for i, inp in enumerate(INPUTS)}  # 1 == 1.0: one run
    monkeypatch.setattr(pipeline, "estimate_cost", lambda inp: costs[inp])
    registry = pipeline.PARAM_REGISTRY
    tied = {name: {**registry[name], "cost": i % 2} for i, name in enumerate(registry)}
    monkeypatch.setattr(pipeline, "PARAM_REGISTRY", tied)
    entries = permutation_manifest(tmp_path)
    assert [e["sort_key"] for e in entries] == sorted(e["sort_key"] for e in entries)
    assert {e["sort_key"][0] for e in entries if e[axes.INPUT_KEY] == INPUTS[0]} == {1.0}


@pytest.mark.parametrize("bad", ["../x", "a/b", "with space", ".hidden", "-flag", ""])
def test_unsafe_discovered_input_is_refused(
    bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "discover_inputs", lambda: [*INPUTS, bad])
    monkeypatch.setattr(pipeline, "estimate_cost", lambda _: 1)
    with pytest.raises(UsageError, match="not a safe filename stem"):
        permutation_manifest(tmp_path)


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
    lock.path.unlink()  # a staging dir without a lock: its builder never got that far
    assert status() == (f"FAIL [0/{total}] starting", "no error recorded: the builder was killed")


# What the manifest may call on the file system; each must cost the same whatever the matrix size.
FILE_SYSTEM_CALLS = ["stat", "lstat", "scandir", "listdir", "open"]


def file_system_calls(
    output: Path, params: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[Counter[str], list[str]]:
    """The calls, by name, that listing inputs x ``params`` makes, and the paths listed or opened.

    The listing is then made into entries and into the JSON document, which must call nothing.
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
        matrix = manifest.Matrix.listed(output)
        entries = matrix.entries()
        document = json.loads("".join(printer.matrix_document(matrix, "output")))
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
    assert large["sqlite3.connect"] <= 1  # at most for the one staging dir that exists


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
    monkeypatch.setattr(gc, "disable", lambda: None)  # not pytest's collector
    monkeypatch.setattr(gc, "freeze", lambda: None)
    assert cli.main(["manifest", "--output-folder", str(tmp_path), *shape]) == 0
    out = capsys.readouterr().out
    assert calls["DirEntry.stat"] == (len(PARAMS) if shape == ("--json",) else 0)
    if shape == ("--json",):
        sizes = {e["output_size"] for e in json.loads(out)["entries"] if e["done"]}
        assert sizes == {5}


def test_json_document_is_exactly_what_json_dumps_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its hand-written head and its entries against json.dumps of the whole, byte for byte."""
    monkeypatch.setattr(pipeline, "COST_UNIT", 'unités "quoted"\\')
    entries = printer.select(permutation_manifest(tmp_path / "ü dir"))
    entries[0] = {**entries[0], "stale": ["input changed: a.csv"]}  # a key of its own goes last
    for force in (False, True):
        commands = printer.self_commands(entries, "my out", force=force)
        expected = {
            "output_folder": "my out",
            "input_axis": axes.INPUT_AXIS,
            "param_axis": axes.PARAM_AXIS,
            "cost_unit": pipeline.COST_UNIT,
            "total": len(entries),
            "done": sum(e["done"] for e in entries),
            "entries": [printer.json_fields(e, c) for e, c in zip(entries, commands, strict=True)],
        }
        document = "".join(printer.json_document(entries, "my out", force=force))
        assert document == json.dumps(expected, separators=(",", ":")) + "\n"
    assert json.loads(document)["entries"][0]["stale"] == ["input changed: a.csv"]


SELECTIONS: list[dict[str, Any]] = [
    {},
    {"missing": True},
    {"done": True},
    {"sort": "name"},
    {"limit": 2},
    {"missing": True, "sort": "name", "limit": 3},
    {"force": True},
]


@pytest.mark.parametrize("selection", SELECTIONS, ids=lambda s: ",".join(s) or "all")
def test_document_from_the_cells_is_the_document_of_the_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, selection: dict[str, Any]
) -> None:
    """``manifest --json`` writes from the cells, with no entry dict: the same bytes, every value.

    Unusual on purpose: a folder and a unit to escape, costs that are floats and that tie, a
    failed build whose error needs escaping, a live one whose phase name does.
    """
    monkeypatch.setattr(pipeline, "COST_UNIT", 'unités "quoted"\\')
    costs = {inp: 1.5 if i == 0 else 2 for i, inp in enumerate(INPUTS)}
    monkeypatch.setattr(pipeline, "estimate_cost", lambda inp: costs[inp])
    output = tmp_path / "ü dir"
    touch_artifact(output, f"{INPUTS[0]}_{PARAMS[0]}", size=11)
    touch_artifact(output, f"{INPUTS[-1]}_{PARAMS[-1]}", size=12)
    staged = {
        f"{INPUTS[0]}_{PARAMS[-1]}": ("FAIL [2/3] fit_model", 'no "x"\n\tü'),
        f"{INPUTS[-1]}_{PARAMS[-1]}": ('BUILD [1/3] ph\\ase "é"', None),
    }
    monkeypatch.setattr(manifest, "staged_statuses", lambda _: staged)
    matrix = manifest.Matrix.listed(output)
    options = {k: v for k, v in selection.items() if k != "force"}
    force = selection.get("force", False)
    from_cells = "".join(printer.matrix_document(matrix, "my out", force=force, **options))
    chosen = printer.select(matrix.entries(), **options)
    assert from_cells == "".join(printer.json_document(chosen, "my out", force=force))
    if not options:  # every permutation: both staged statuses are written
        statuses = {e["status"] for e in json.loads(from_cells)["entries"]}
        assert statuses == {"DONE", "MISS", *(status for status, _ in staged.values())}
