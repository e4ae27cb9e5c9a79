"""Fingerprints of what a rebuild would use today: input files, registry entries, the code and
the libraries.

A build records the inputs and the registry entry when its stage is begun (``building/provenance``),
and the code and libraries each phase ran as it runs (``tracing``); ``manifest --stale``, ``show``
and a resumed build compare a record with today's. Every function here reads, none writes.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from .. import code, layout, libraries
from ..ids import UsageError
from ..pipeline_module import PIPELINE_FILE, pipeline
from .recorded import Document

FINGERPRINTS = ("stat", "content")
# The pipeline's file as records name it.
PIPELINE_SHOWN = layout.display_path(PIPELINE_FILE)
# A repr that names a memory address (``<object at 0x7f...>``) differs in every process.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def fingerprint_mode() -> str:
    """``pipeline.FINGERPRINT``: ``"stat"`` (size and mtime, the default) or ``"content"``."""
    mode = getattr(pipeline, "FINGERPRINT", "stat")
    if mode not in FINGERPRINTS:
        raise UsageError(f"pipeline.FINGERPRINT {mode!r} is not one of {', '.join(FINGERPRINTS)}")
    return str(mode)


def input_files(input_id: str) -> list[Path]:
    """The files the pipeline says this input is built from; none if it has no ``input_files``."""
    named = getattr(pipeline, "input_files", None)
    if named is None:
        return []
    return [path if isinstance(path, Path) else Path(path) for path in named(input_id)]


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


def _as_text(value: Any) -> str:
    """A registry value JSON cannot hold: a function or class by its qualified name (its code is
    compared as code), anything else by its repr without a memory address."""
    name = getattr(value, "__qualname__", None)
    if callable(value) and isinstance(name, str):
        return f"{getattr(value, '__module__', '') or ''}.{name}".lstrip(".")
    return _ADDRESS.sub("", repr(value))


def registry_entry(param: str) -> Document:
    """The parameter's registry entry as JSON would keep it (other values as ``_as_text``)."""
    entry = pipeline.PARAM_REGISTRY[param]
    return dict(json.loads(json.dumps(entry, sort_keys=True, default=_as_text)))


def ignored_libraries() -> frozenset[str] | None:
    """``pipeline.IGNORE_LIBRARIES``, checked: the normal names of the libraries never compared,
    or None for all of them."""
    setting = getattr(pipeline, "IGNORE_LIBRARIES", ())
    problem = libraries.check(setting)
    if problem is not None:
        raise UsageError(f"pipeline.IGNORE_LIBRARIES is {setting!r:.80}; {problem}")
    return libraries.ignored(setting)


def code_digest(shown: str, name: str) -> str | None:
    """Today's digest of an item of a project file (as a record names them); None if the item or
    the file is gone. A table entry the table does not hold is ``code.ABSENT``."""
    definitions = code.definitions_of_file(str(layout.recorded_path(shown)))
    if definitions is None:
        return None
    item = definitions.items.get(name)
    if item is not None:
        return item.digest
    table = name.split("[", 1)[0]
    if "[" in name and any(table == known for known, _ in definitions.tables):
        return code.ABSENT
    return None


# --- the whole-file fingerprint that builders before per-function fingerprints recorded ---


def _sets_a_setting(node: ast.stmt) -> bool:
    """A module-level statement that only sets a ``code.NOT_CODE`` name: ``X = ...``,
    ``X: T = ...``, ``X[k] = ...``, ``X += ...`` or ``X.update(...)``."""
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
        if not (isinstance(target, ast.Name) and target.id in code.NOT_CODE):
            return False
    return True


def _not_code_lines(node: ast.stmt) -> range:
    """The lines of a statement that sets a setting or defines a ``code.NOT_CODE`` function (with
    its decorators); none for any other statement."""
    last = node.end_lineno or node.lineno
    if isinstance(node, ast.FunctionDef) and node.name in code.NOT_CODE:
        return range(min([node.lineno, *(d.lineno for d in node.decorator_list)]), last + 1)
    return range(node.lineno, last + 1) if _sets_a_setting(node) else range(0)


@functools.cache
def legacy_code_fingerprint() -> str:
    """sha256 of pipeline.py without the statements setting ``code.NOT_CODE`` names or defining
    such functions, read once per process: what builders before per-function fingerprints
    recorded (``pipeline.sha256``), so that their artifacts stay fresh while the file is as it
    was, comments included.
    """
    source = PIPELINE_FILE.read_text(encoding="utf-8")
    not_code = {number for node in ast.parse(source).body for number in _not_code_lines(node)}
    kept = (
        line
        for number, line in enumerate(source.splitlines(keepends=True), 1)
        if number not in not_code
    )
    return hashlib.sha256("".join(kept).encode("utf-8")).hexdigest()
