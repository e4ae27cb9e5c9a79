"""What a finished artifact recorded of how it was built: its provenance, as the read side reads it.

SQLite artifacts keep their provenance inside, in a ``_provenance`` table (one row per key, JSON
values); other kinds beside, in a sidecar ``_provenance/<artifact>.json`` that names the artifact's
size, mtime and sha256, so that a sidecar left by an interrupted rebuild is not trusted and a copy
(``cp -r``, which changes mtimes) is recognised by its content. ``building/kinds`` writes both;
``RECORDED`` is this project's kind of record, chosen once from the artifact extension.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .. import layout

Document = dict[str, Any]
TABLE = "_provenance"


class MissingProvenance(Exception):
    """A built artifact without provenance that can be trusted; the message says why."""


class InsideRecord:
    """Provenance in a ``_provenance`` table of the SQLite artifact itself."""

    def files(self, artifact_name: str) -> tuple[str, ...]:
        """The files ``read`` reads, from the output folder: the artifact itself."""
        return (artifact_name,)

    def read(self, artifact: Path) -> Document:
        import sqlite3
        from urllib.parse import quote

        try:
            conn = sqlite3.connect(f"file:{quote(str(artifact))}?mode=ro", uri=True, timeout=1)
        except sqlite3.Error as error:
            raise MissingProvenance(f"cannot open {artifact.name}: {error}") from None
        try:
            rows = conn.execute(f"SELECT key, value FROM {TABLE}").fetchall()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                raise MissingProvenance(f"{artifact.name} has no {TABLE} table") from None
            raise MissingProvenance(f"cannot read {artifact.name}: {error}") from None
        except sqlite3.DatabaseError as error:
            raise MissingProvenance(
                f"{artifact.name} is not a readable SQLite file: {error}"
            ) from None
        finally:
            conn.close()
        document = {}
        for key, value in rows:
            try:
                document[str(key)] = json.loads(value)
            except (TypeError, ValueError):
                raise MissingProvenance(f"malformed {key} in {artifact.name}") from None
        return checked(document, f"{artifact.name}'s {TABLE}")


class SidecarRecord:
    """Provenance in a sidecar JSON file, trusted only for the artifact it names."""

    def files(self, artifact_name: str) -> tuple[str, ...]:
        """The files ``read`` reads, from the output folder: the artifact and its sidecar."""
        return artifact_name, layout.sidecar_name(artifact_name)

    def read(self, artifact: Path) -> Document:
        path = layout.sidecar_path(artifact)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MissingProvenance(f"no sidecar {path.name}") from None
        except (OSError, ValueError) as error:
            raise MissingProvenance(f"cannot read {path.name}: {error}") from None
        if not isinstance(document, dict):
            raise MissingProvenance(f"{path.name} is not a JSON object")
        checked(document, path.name)
        recorded = document.get("artifact") or {}
        if not isinstance(recorded, dict):
            raise MissingProvenance(f"{path.name}: 'artifact' is not an object")
        if not _same_artifact(recorded, artifact):
            raise MissingProvenance(
                f"{path.name} was written for another copy of the artifact (size or content differ)"
            )
        return document


# The shape of what readers use in a provenance document: key -> (its type, its items' type).
SHAPE: dict[str, tuple[type, type | None]] = {
    "axes": (dict, None),
    "inputs": (list, dict),
    "param": (dict, None),
    "pipeline": (dict, None),
    "phases": (list, dict),
}


def checked(document: Document, where: str) -> Document:
    """A provenance document whose values have the shape readers use; MissingProvenance naming
    the first that has not, so that one malformed artifact is only that: one without provenance."""
    for key, (kind, items) in SHAPE.items():
        value = document.get(key)
        if value is None:
            continue
        wrong_items = isinstance(value, list) and not all(
            isinstance(x, items or object) for x in value
        )
        if not isinstance(value, kind) or wrong_items:
            shape = f"a {kind.__name__}" + (f" of {items.__name__}s" if items else "")
            raise MissingProvenance(f"{where}: {key!r} is {value!r:.40}, not {shape}")
    if not all(isinstance(item.get("path"), str) for item in document.get("inputs") or []):
        raise MissingProvenance(f"{where}: an input has no 'path'")
    return document


def identity(artifact: Path, *, content: bool) -> Document:
    """What a sidecar says of its artifact: size and mtime, and with ``content`` its sha256."""
    info = os.stat(artifact)
    named: Document = {"size": info.st_size, "mtime_ns": info.st_mtime_ns}
    if content:
        digest = hashlib.sha256()
        with open(artifact, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        named["sha256"] = digest.hexdigest()
    return named


def _same_artifact(recorded: Document, artifact: Path) -> bool:
    """Same size and mtime (cheap), or same size and content (a copy)."""
    try:
        now = identity(artifact, content=False)
        if recorded.get("size") != now["size"]:
            return False
        if recorded.get("mtime_ns") == now["mtime_ns"]:
            return True
        content = identity(artifact, content=True)
        return "sha256" in recorded and recorded["sha256"] == content["sha256"]
    except OSError:
        return False


RECORDED: InsideRecord | SidecarRecord = (
    InsideRecord() if layout.artifact_is_sqlite() else SidecarRecord()
)
