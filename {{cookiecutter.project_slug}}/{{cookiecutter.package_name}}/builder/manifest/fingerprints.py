"""Fingerprints of what a rebuild would use today: input files, registry entries, the code.

A build records them when its stage is begun (``building/provenance``); ``manifest --stale``,
``show`` and a resumed build compare a record with today's. Every function here reads, none writes.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
from pathlib import Path

from .. import layout
from ..ids import UsageError
from ..pipeline_module import PIPELINE_FILE, RESOURCES, pipeline
from .recorded import Document

FINGERPRINTS = ("stat", "content")

# Module-level settings of pipeline.py that are not code: the registry is compared per parameter,
# the others only order, label or choose how inputs are fingerprinted.
NOT_CODE = frozenset({"PARAM_REGISTRY", "FINGERPRINT", "COST_UNIT"})
# Functions of pipeline.py that are not code either: they only say where a build runs.
NOT_CODE_FUNCTIONS = frozenset({RESOURCES})


def fingerprint_mode() -> str:
    """``pipeline.FINGERPRINT``: ``"stat"`` (size and mtime, the default) or ``"content"``."""
    mode = getattr(pipeline, "FINGERPRINT", "stat")
    if mode not in FINGERPRINTS:
        raise UsageError(f"pipeline.FINGERPRINT {mode!r} is not one of {', '.join(FINGERPRINTS)}")
    return str(mode)


def input_files(input_id: str) -> list[Path]:
    """The files the pipeline says this input is built from; none if it has no ``input_files``."""
    named = getattr(pipeline, "input_files", None)
    return [] if named is None else [Path(path) for path in named(input_id)]


@functools.cache
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """A file's content hash, computed once per process for each (size, mtime) it is seen with."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint_file(path: Path, mode: str) -> Document:
    """Size and mtime of a file, and its sha256 in ``content`` mode; a vanished file says so."""
    shown = layout.display_path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return {"path": shown, "missing": True}
    record: Document = {"path": shown, "size": info.st_size, "mtime_ns": info.st_mtime_ns}
    if mode == "content":
        record["sha256"] = _sha256(str(path), info.st_size, info.st_mtime_ns)
    return record


def fingerprint_inputs(input_id: str, mode: str) -> list[Document]:
    return [fingerprint_file(path, mode) for path in input_files(input_id)]


def registry_entry(param: str) -> Document:
    """The parameter's registry entry as JSON would keep it (values it cannot hold, as repr)."""
    entry = pipeline.PARAM_REGISTRY[param]
    return dict(json.loads(json.dumps(entry, sort_keys=True, default=repr)))


def _sets_a_setting(node: ast.stmt) -> bool:
    """A module-level statement that only sets a ``NOT_CODE`` name: ``X = ...``, ``X: T = ...``,
    ``X[k] = ...``, ``X += ...`` or ``X.update(...)``."""
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        targets = [node.value.func]
    else:
        return False
    for target in targets:
        while isinstance(target, ast.Subscript | ast.Attribute):
            target = target.value
        if not (isinstance(target, ast.Name) and target.id in NOT_CODE):
            return False
    return True


def _not_code_lines(node: ast.stmt) -> range:
    """The lines of a statement that sets a setting or defines a ``NOT_CODE_FUNCTIONS`` function
    (with its decorators); none for any other statement."""
    last = node.end_lineno or node.lineno
    if isinstance(node, ast.FunctionDef) and node.name in NOT_CODE_FUNCTIONS:
        return range(min([node.lineno, *(d.lineno for d in node.decorator_list)]), last + 1)
    return range(node.lineno, last + 1) if _sets_a_setting(node) else range(0)


@functools.cache
def code_fingerprint() -> str:
    """sha256 of pipeline.py without the statements setting ``NOT_CODE`` or defining
    ``NOT_CODE_FUNCTIONS``, read once per process.

    Any other edit counts, comments included: the builder cannot tell which lines change an
    artifact, so it errs on the side of calling it stale. The source as bytes, not a syntax tree,
    keeps the fingerprint the same across Python versions.
    """
    source = PIPELINE_FILE.read_text(encoding="utf-8")
    not_code = {number for node in ast.parse(source).body for number in _not_code_lines(node)}
    kept = (
        line
        for number, line in enumerate(source.splitlines(keepends=True), 1)
        if number not in not_code
    )
    return hashlib.sha256("".join(kept).encode("utf-8")).hexdigest()
