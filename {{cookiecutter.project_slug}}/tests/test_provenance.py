"""Provenance and staleness through the real CLI: `show`, `manifest --stale` and its rebuilds."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from conftest import (
    DEFAULT_CONFIG,
    INPUTS,
    PARAMS,
    PHASES,
    Project,
    assert_valid_artifact,
    edit_provenance,
    parse_grid,
    provenance_file,
    read_only,
    run_commands_through_a_shell,
    sidecar,
)

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder import BUILDER_VERSION, axes, layout

TOTAL = len(INPUTS) * len(PARAMS)
IS_SQLITE = layout.artifact_is_sqlite()


def build(project: Project, *args: str, code: int = 0) -> None:
    project.run("build", "--output-folder", "output", *args, code=code)


def stale(project: Project) -> dict[str, list[str]]:
    """``manifest --stale --json``: the stale permutations and their reasons."""
    entries = project.manifest("--stale")["entries"]
    assert all(e["status"] == "STALE" for e in entries)
    return {e["permutation_id"]: e["stale"] for e in entries}


def rebuild_stale(project: Project) -> list[str]:
    """Run what ``manifest --stale --commands`` prints; return the commands."""
    commands = project.run("manifest", "--stale", "--commands").stdout
    run_commands_through_a_shell(project, commands)
    return commands.splitlines()


def append_to_pipeline(project: Project, *statements: str) -> None:
    """Statements at the end of the test pipeline, as a user's later edits of theirs would be."""
    with project.pipeline.open("a") as source:
        source.write("".join(f"{statement}\n" for statement in statements))


def edit_scale(project: Project) -> str:
    """Change the code every build runs (``scale``); the reason ``--stale`` then gives."""
    project.edit_pipeline("return value * factor", "return factor * value")
    return f"code changed: scale ({project.pipeline.name})"


def show(project: Project, permutation_id: str) -> dict[str, Any]:
    return dict(json.loads(project.run("show", permutation_id, "--json").stdout))


def test_show_reads_back_what_the_artifact_was_built_from(project: Project) -> None:
    inp, param = INPUTS[0], PARAMS[-1]
    permutation_id = f"{inp}_{param}"
    build(project, axes.INPUT_FLAG, inp, axes.PARAM_FLAG, param)
    artifact = project.artifact(permutation_id)
    assert_valid_artifact(artifact)

    document = show(project, permutation_id)
    assert document["built"] is True and document["stale"] == []
    assert document["output_path"] == str(artifact)
    recorded = document["provenance"]
    data = os.stat(project.input_file(inp))
    assert recorded["axes"] == {settings.INPUT_AXIS: inp, settings.PARAM_AXIS: param}
    assert recorded["inputs"] == [
        {"path": f"fixture_data/{inp}.txt", "size": data.st_size, "mtime_ns": data.st_mtime_ns}
    ]
    assert recorded["fingerprint"] == "stat"
    assert recorded["param"] == DEFAULT_CONFIG["registry"][param]
    assert recorded["pipeline"] == {"path": project.pipeline.name}
    ran = recorded["code"][project.pipeline.name]  # the code the build ran, by function
    assert {*PHASES, "scale", "TRANSFORMS['scale']", "PHASES"} <= set(ran)
    assert all(len(digest) == 16 for digest in ran.values())
    assert recorded["libraries"] == {}
    assert recorded["builder_version"] == BUILDER_VERSION
    assert recorded["host"] == os.uname().nodename
    assert [p["name"] for p in recorded["phases"]] == PHASES
    assert all(p["seconds"] >= 0 for p in recorded["phases"])
    assert recorded["started_at"] <= recorded["finished_at"]

    # Where it is kept: inside a SQLite artifact, else in the sidecar beside the artifact.
    if IS_SQLITE:
        with closing(sqlite3.connect(artifact)) as conn:
            rows = dict(conn.execute("SELECT key, value FROM _provenance"))
        assert {key: json.loads(value) for key, value in rows.items()} == recorded
        assert not sidecar(artifact).exists()
    else:
        assert json.loads(sidecar(artifact).read_text()) == recorded
        assert recorded["artifact"] == {  # which copy of the artifact the sidecar describes
            "size": artifact.stat().st_size,
            "mtime_ns": artifact.stat().st_mtime_ns,
            "sha256": hashlib.sha256(artifact.read_bytes()).hexdigest(),
        }

    text = project.run("show", permutation_id).stdout
    for expected in (
        permutation_id,
        f"fixture_data/{inp}.txt",
        f"  {project.pipeline.name}: ",  # what the build ran, by file
        "TRANSFORMS['scale']",
        BUILDER_VERSION,
        *PHASES,
        "up to date",
    ):
        assert expected in text


def test_a_resumed_build_records_which_phases_ran_earlier(project: Project) -> None:
    inp, param = INPUTS[0], PARAMS[0]
    project.fault(PHASES[-1], "raise", "late failure")
    build(project, axes.INPUT_FLAG, inp, axes.PARAM_FLAG, param, code=1)
    project.clear_faults()
    build(project, axes.INPUT_FLAG, inp, axes.PARAM_FLAG, param)
    phases = show(project, f"{inp}_{param}")["provenance"]["phases"]
    assert [p["seconds"] is None for p in phases] == [True] * (len(PHASES) - 1) + [False]
    assert "resumed" in project.run("show", f"{inp}_{param}").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("nope_nope",), "unknown permutation id 'nope_nope'", id="unknown"),
        pytest.param(("../x",), "not a safe filename stem", id="unsafe"),
        pytest.param((f"{INPUTS[0]}_{PARAMS[0]}",), "is not built (MISS)", id="not-built"),
    ],
)
def test_show_refuses_in_one_line(project: Project, args: tuple[str, ...], message: str) -> None:
    result = project.run("show", *args, code=2)
    lines = result.stderr.strip().splitlines()
    assert result.stdout == "" and len(lines) == 1 and message in lines[0], result.stderr


def test_an_artifact_without_provenance_is_stale(project: Project) -> None:
    permutation_id = f"{INPUTS[0]}_{PARAMS[0]}"
    project.output.mkdir()
    project.artifact(permutation_id).write_text("made by hand")
    assert list(stale(project)) == [permutation_id]
    assert stale(project)[permutation_id][0].startswith("no provenance")
    result = project.run("show", permutation_id, code=2)
    assert "has no provenance" in result.stderr and "--force" in result.stderr


def test_an_input_change_makes_its_artifacts_stale_until_rebuilt(project: Project) -> None:
    build(project)
    assert stale(project) == {}
    changed = project.input_file(INPUTS[0])
    with changed.open("a") as data:
        data.write("999\n")
    expected = {
        f"{INPUTS[0]}_{p}": [f"input changed: fixture_data/{INPUTS[0]}.txt"] for p in PARAMS
    }
    assert stale(project) == expected
    assert project.run("manifest", "--stale").stdout.count("[STALE]") == len(PARAMS)
    grid = parse_grid(project.run("manifest", "--grid", "--stale").stdout)
    assert grid.rows == {INPUTS[0]: "S" * len(PARAMS)}

    commands = rebuild_stale(project)
    assert len(commands) == len(PARAMS) and all(c.endswith(" --force") for c in commands)
    assert stale(project) == {}
    for permutation_id in expected:
        assert_valid_artifact(project.artifact(permutation_id))
    recorded = show(project, f"{INPUTS[0]}_{PARAMS[0]}")["provenance"]["inputs"][0]
    assert recorded["size"] == changed.stat().st_size


def test_a_parameter_change_makes_only_its_artifacts_stale(project: Project) -> None:
    build(project)
    param = PARAMS[0]
    append_to_pipeline(project, f'PARAM_REGISTRY[{param!r}].update(note="v2")')
    expected = {f"{inp}_{param}": ["parameter changed: note"] for inp in INPUTS}
    assert stale(project) == expected  # the registry is not code: nothing else is stale

    commands = rebuild_stale(project)
    assert len(commands) == len(INPUTS)
    assert stale(project) == {}
    assert show(project, f"{INPUTS[0]}_{param}")["provenance"]["param"]["note"] == "v2"
    for inp in INPUTS:
        assert_valid_artifact(project.artifact(f"{inp}_{param}"))


def test_a_cost_change_only_reorders(project: Project) -> None:
    build(project, axes.INPUT_FLAG, INPUTS[0])
    param = PARAMS[0]
    append_to_pipeline(
        project,
        f"PARAM_REGISTRY[{param!r}] = dict(PARAM_REGISTRY[{param!r}], cost=99)",
        'COST_UNIT = "bytes on disk"',
    )
    assert project.manifest("--sort", "size")["entries"][-1][axes.PARAM_KEY] == param
    assert stale(project) == {}


def test_a_resources_change_makes_nothing_stale(project: Project) -> None:
    """Resources say where a build runs: neither the registry key nor the function is built from."""
    build(project, axes.INPUT_FLAG, INPUTS[0])
    param = PARAMS[0]
    append_to_pipeline(
        project,
        f"PARAM_REGISTRY[{param!r}] = dict(PARAM_REGISTRY[{param!r}], resources=dict(cpus=2))",
        "def resources(input_id: str, param_name: str, cost: Any) -> Any:",
        "    return dict(mem='32G')",
    )
    script = project.run("plan", "--slurm").stdout
    assert "--cpus-per-task=2 --mem=32G" in script and "--cpus-per-task=1 --mem=32G" in script
    assert stale(project) == {}


def test_a_change_to_code_every_build_ran_makes_every_artifact_stale(project: Project) -> None:
    build(project, axes.INPUT_FLAG, INPUTS[0])
    reason = edit_scale(project)
    built = [f"{INPUTS[0]}_{param}" for param in PARAMS]
    assert stale(project) == {permutation_id: [reason] for permutation_id in built}
    assert len(rebuild_stale(project)) == len(PARAMS)
    assert stale(project) == {}
    for permutation_id in built:
        assert_valid_artifact(project.artifact(permutation_id))


@pytest.mark.parametrize(("mode", "touch_is_stale"), [("stat", True), ("content", False)])
def test_the_fingerprint_mode_decides_whether_a_touch_counts(
    project: Project, mode: str, touch_is_stale: bool
) -> None:
    append_to_pipeline(project, f"FINGERPRINT = {mode!r}")
    build(project, axes.INPUT_FLAG, INPUTS[0], axes.PARAM_FLAG, PARAMS[0])
    data = project.input_file(INPUTS[0])
    recorded = show(project, f"{INPUTS[0]}_{PARAMS[0]}")["provenance"]["inputs"][0]
    assert ("sha256" in recorded) is (mode == "content")

    before = data.stat()
    os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    assert bool(stale(project)) is touch_is_stale

    text = data.read_text()  # same size, other content, original mtime: only a hash sees it
    swapped = text.replace("1", "2", 1) if "1" in text else text.replace("2", "1", 1)
    data.write_text(swapped)
    os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert data.stat().st_size == before.st_size
    assert bool(stale(project)) is (mode == "content")


def test_stale_with_missing_selects_everything_a_rebuild_touches(project: Project) -> None:
    build(project, axes.INPUT_FLAG, INPUTS[0])
    project.input_file(INPUTS[0]).write_text("1\n2\n")
    commands = project.run("manifest", "--stale", "--missing", "--commands").stdout.splitlines()
    assert len(commands) == TOTAL
    forced = [c for c in commands if c.endswith(" --force")]
    assert len(forced) == len(PARAMS)
    assert all(f"{axes.INPUT_FLAG} {INPUTS[0]} " in c for c in forced)
    result = project.run("manifest", "--stale", "--done", code=2)
    assert "drop --done" in result.stderr


def test_stale_json_gives_every_entry_its_staleness(project: Project) -> None:
    """Reasons for a stale artifact, none for one up to date, null for one not built."""
    build(project, axes.INPUT_FLAG, INPUTS[0])
    build(project, axes.INPUT_FLAG, INPUTS[1], axes.PARAM_FLAG, PARAMS[0])
    project.input_file(INPUTS[0]).write_text("1\n2\n")
    asked = ("--status", "done", "--status", "missing", "--stale")
    staleness = {e["permutation_id"]: e["stale"] for e in project.manifest(*asked)["entries"]}
    assert len(staleness) == TOTAL
    for inp in INPUTS:
        for param in PARAMS:
            expected: list[str] | None
            if inp == INPUTS[0]:
                expected = [f"input changed: fixture_data/{inp}.txt"]
            else:
                expected = [] if (inp, param) == (INPUTS[1], PARAMS[0]) else None
            assert staleness[f"{inp}_{param}"] == expected
    assert "stale" not in project.manifest("--status", "done")["entries"][0]


# Files that plain `manifest` may open: none in the output folder. The audit hook sees every
# open() and sqlite3 connection, so reading an artifact or its provenance would show here.
AUDIT_RUNNER = """
import runpy, sys
opened = []
def audit(event, args):
    if event in ("open", "sqlite3.connect") and args and not isinstance(args[0], int):
        opened.append(str(args[0]))
sys.addaudithook(audit)
sys.argv = ["builder", *ARGS]
try:
    runpy.run_module(PACKAGE + ".builder", run_name="__main__")
except SystemExit:
    pass
sys.stderr.write("OPENED " + repr(opened) + "\\n")
"""


def opened_in_output(project: Project, *args: str, folder: Path | None = None) -> list[str]:
    code = f"ARGS = {list(args)!r}; PACKAGE = {settings.PACKAGE!r}" + AUDIT_RUNNER
    opened = ast.literal_eval(project.python(code).stderr.rsplit("OPENED ", 1)[1])
    uri = "file:"  # how the builder opens SQLite read-only
    paths = [unquote(p[len(uri) :].split("?")[0]) if p.startswith(uri) else p for p in opened]
    # The folder itself is opened to be listed; what counts is any file inside it.
    return [path for path in paths if path.startswith(f"{folder or project.output}/")]


def provenance_reads(project: Project, *args: str, folder: Path | None = None) -> list[str]:
    """The files in the output folder that a command opened, but the provenance cache."""
    cache = layout.provenance_cache_path(project.output).name
    return [path for path in opened_in_output(project, *args, folder=folder) if cache not in path]


def test_only_stale_reads_artifacts(project: Project) -> None:
    build(project, axes.INPUT_FLAG, INPUTS[0])
    for args in (("manifest",), ("manifest", "--json"), ("manifest", "--grid")):
        assert opened_in_output(project, *args) == [], args
    assert len(provenance_reads(project, "manifest", "--stale")) == len(PARAMS)


# --- the provenance cache: each unchanged artifact is read once, a changed one always again ---


def test_stale_reads_an_unchanged_artifact_once(project: Project) -> None:
    build(project, axes.INPUT_FLAG, INPUTS[0])
    assert stale(project) == {}  # reads every artifact and caches what each recorded
    assert provenance_reads(project, "manifest", "--stale") == []
    # Staleness is still judged against today's inputs: the cache only saves reading artifacts.
    with project.input_file(INPUTS[0]).open("a") as data:
        data.write("999\n")
    assert set(stale(project)) == {f"{INPUTS[0]}_{param}" for param in PARAMS}
    assert provenance_reads(project, "manifest", "--stale") == []
    # A vanished artifact leaves the cache when it is next written.
    gone = f"{INPUTS[0]}_{PARAMS[0]}"
    project.artifact(gone).unlink()
    kept = {f"{INPUTS[0]}_{param}" for param in PARAMS[1:]}
    assert set(stale(project)) == kept
    assert set(json.loads(layout.provenance_cache_path(project.output).read_text())["ids"]) == kept


def record_param_note(path: Path) -> None:
    """Give the provenance in ``path`` (an artifact or a sidecar) a registry entry with a note."""
    edit_provenance(path, lambda document: document["param"].update(note="edited"))


@pytest.mark.parametrize("change", ["rewritten", "replaced", "copied-folder", "racy"])
def test_stale_reads_a_changed_artifact_again(project: Project, change: str) -> None:
    """Whatever keeps the size and the mtime, the cache never answers for another file."""
    build(project, axes.INPUT_FLAG, INPUTS[0])
    assert stale(project) == {}
    permutation_id = f"{INPUTS[0]}_{PARAMS[0]}"
    changed = provenance_file(project.artifact(permutation_id))
    before = changed.stat()
    folder = project.output
    if change == "rewritten":  # the same bytes written again: a new mtime
        changed.write_bytes(changed.read_bytes())
    elif change == "replaced":  # another file, edited, with the size and the mtime of the first
        edited = changed.with_name("edited")
        shutil.copyfile(changed, edited)
        record_param_note(edited)
        os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns))
        os.replace(edited, changed)
    elif change == "copied-folder":  # every file copied, times kept: only inodes and ctimes differ
        subprocess.run(["cp", "-a", str(project.output), str(project.root / "copy")], check=True)
        folder = project.root / "copy"
    else:  # the cache looks as old as the artifacts: a change in its clock tick is not ruled out
        cache = layout.provenance_cache_path(project.output)
        os.utime(cache, ns=(before.st_atime_ns, before.st_mtime_ns))
    reads = provenance_reads(
        project, "manifest", "--stale", "--output-folder", str(folder), folder=folder
    )
    if change == "copied-folder":
        assert len(reads) == len(PARAMS)
    elif change == "racy":
        assert len(reads) == len(PARAMS)
        assert provenance_reads(project, "manifest", "--stale") == []  # the rewrite trusts them
    else:
        assert reads == [str(changed)]
    if change == "replaced":
        assert stale(project) == {permutation_id: ["parameter changed: note"]}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{", id="truncated"),
        pytest.param("[]", id="not-an-object"),
        pytest.param('{"format": 1}', id="no-columns"),
        pytest.param(
            '{"format": 1, "fields": ["st_dev", "st_ino", "st_size", "st_mtime_ns", "st_ctime_ns"],'
            ' "width": 5, "ids": ["a_b"], "identities": [1, 2], "refs": [0, 0, 0],'
            ' "parts": ["[]"]}',
            id="short-column",
        ),
        pytest.param(
            '{"format": 1, "fields": ["st_dev", "st_ino", "st_size", "st_mtime_ns", "st_ctime_ns"],'
            ' "width": 5, "ids": ["a_b"], "identities": [1, 2, 3, 4, 5], "refs": [0, 0, 0],'
            ' "parts": [7]}',
            id="part-not-text",
        ),
        pytest.param(
            '{"format": 1, "fields": ["st_dev", "st_ino", "st_size", "st_mtime_ns", "st_ctime_ns"],'
            ' "width": 5, "ids": ["a_b"], "identities": [1, 2, 3, 4, 5], "refs": [0, 0, 1],'
            ' "parts": ["[]"]}',
            id="part-out-of-range",
        ),
    ],
)
def test_a_corrupt_cache_is_ignored_and_rebuilt(project: Project, text: str) -> None:
    build(project, axes.INPUT_FLAG, INPUTS[0])
    edit_scale(project)
    expected = project.run("manifest", "--stale").stdout
    cache = layout.provenance_cache_path(project.output)
    cache.write_text(text)
    result = project.run("manifest", "--stale")
    assert (result.stdout, result.stderr) == (expected, "")
    assert len(json.loads(cache.read_text())["ids"]) == len(PARAMS)


@pytest.mark.unprivileged
def test_stale_answers_from_a_read_only_folder(project: Project) -> None:
    build(project, axes.INPUT_FLAG, INPUTS[0])
    edit_scale(project)
    expected = project.run("manifest", "--stale").stdout
    cache = layout.provenance_cache_path(project.output)
    cache.unlink()
    with read_only(project.output) as prefix:
        result = project.run("manifest", "--stale", prefix=prefix)
    assert (result.stdout, result.stderr) == (expected, "")
    assert not any(cache.name in path.name for path in project.output.iterdir())


def test_a_registry_value_changed_from_1_to_true_is_stale(project: Project) -> None:
    registry = project.config["registry"]
    project.configure(registry={**registry, PARAMS[0]: {**registry[PARAMS[0]], "scale": 1}})
    build(project, axes.INPUT_FLAG, INPUTS[0], axes.PARAM_FLAG, PARAMS[0])
    project.configure(registry={**registry, PARAMS[0]: {**registry[PARAMS[0]], "scale": True}})
    assert stale(project) == {f"{INPUTS[0]}_{PARAMS[0]}": ["parameter changed: scale"]}


def test_a_copied_output_folder_keeps_its_provenance(project: Project) -> None:
    build(project, axes.INPUT_FLAG, INPUTS[0])
    subprocess.run(["cp", "-r", "output", "copy"], cwd=project.root, check=True)  # new mtimes
    copied = project.manifest("--stale", "--output-folder", "copy")["entries"]
    assert copied == []  # each artifact still has provenance it can trust: nothing is stale


def test_a_sidecar_is_never_taken_for_an_artifact(project: Project) -> None:
    """A parameter named like another artifact's old sidecar: each stays what it is."""
    lookalike = f"{PARAMS[0]}.{settings.ARTIFACT_EXTENSION}.provenance"
    registry = project.config["registry"]
    project.configure(registry={**registry, lookalike: registry[PARAMS[0]]})
    build(project, axes.INPUT_FLAG, INPUTS[0], axes.PARAM_FLAG, PARAMS[0])
    entries = project.manifest()["by_id"]
    assert entries[f"{INPUTS[0]}_{lookalike}"]["status"] == "MISS"
    build(project, axes.INPUT_FLAG, INPUTS[0], axes.PARAM_FLAG, lookalike, "--force")
    assert stale(project) == {}  # the first artifact's provenance was not overwritten
    assert show(project, f"{INPUTS[0]}_{PARAMS[0]}")["provenance"]["axes"]
