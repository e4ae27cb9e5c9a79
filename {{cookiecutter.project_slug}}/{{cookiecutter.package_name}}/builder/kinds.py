"""Artifact kinds: what differs between a SQLite artifact and any other file, in one object each.

Like doit's ``CHECKERS``, the builder asks ``KIND`` and never tests the extension itself. A kind
owns its progress store (inside the staged database, or a file beside the staged artifact), its
finishing step (how the staged artifact becomes the final one) and its provenance (a
``_provenance`` table inside, or a sidecar in ``_provenance/``). Finishing never touches the staged
artifact or its progress: a failure or a kill before the final move leaves a stage that resumes
after its last completed phase.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import layout
from .atomic import atomic_publish

if TYPE_CHECKING:
    from sqlite3 import Connection

Document = dict[str, Any]
TABLE = "_provenance"


class MissingProvenance(Exception):
    """A built artifact without provenance that can be trusted; the message says why."""


class SqliteKind:
    """A database artifact: phases write into it, and it holds its progress and provenance."""

    holds_progress = True

    def progress_file(self, stage: Path, permutation_id: str) -> Path:
        return layout.staged_artifact(stage, permutation_id)

    def provenance_files(self, artifact_name: str) -> tuple[str, ...]:
        """The files ``read_provenance`` reads, from the output folder: the artifact itself."""
        return (artifact_name,)

    def finish(self, conn: Connection, staged: Path, final: Path, document: Document) -> None:
        """Copy the staged database without its progress, add provenance, move the copy."""
        import sqlite3

        from . import progress

        finishing = layout.finishing_file(staged)
        finishing.unlink(missing_ok=True)  # left by a finish that was killed before its move
        conn.execute("VACUUM INTO ?", (str(finishing),))
        out = sqlite3.connect(finishing, isolation_level=None)
        try:
            out.execute("PRAGMA journal_mode=DELETE")  # a single file, whatever the phases chose
            out.execute("BEGIN IMMEDIATE")
            progress.drop_tables(out)
            out.execute(f"CREATE TABLE {TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            out.executemany(
                f"INSERT INTO {TABLE} (key, value) VALUES (?, ?)",
                [(key, json.dumps(value, sort_keys=True)) for key, value in document.items()],
            )
            out.execute("COMMIT")
        finally:
            out.close()
        atomic_publish(final, finishing)

    def read_provenance(self, artifact: Path) -> Document:
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
        try:
            document = {str(key): json.loads(value) for key, value in rows}
        except (TypeError, ValueError) as error:
            raise MissingProvenance(
                f"{artifact.name} holds a value that is not JSON: {error}"
            ) from None
        return checked(document, f"{artifact.name}'s {TABLE}")


class FileKind:
    """Any other file: the last phase writes it, progress and provenance live beside it.

    The sidecar names the artifact's size, mtime and sha256: a sidecar left by an interrupted
    rebuild is not trusted, and a copy (``cp -r``, which changes mtimes) is recognised by content.
    """

    holds_progress = False

    def progress_file(self, stage: Path, permutation_id: str) -> Path:
        return layout.progress_file(stage, permutation_id)

    def provenance_files(self, artifact_name: str) -> tuple[str, ...]:
        """The files ``read_provenance`` reads, from the output folder: the artifact and its
        sidecar."""
        return artifact_name, layout.sidecar_name(artifact_name)

    def finish(self, conn: Connection, staged: Path, final: Path, document: Document) -> None:
        """Publish the sidecar, then the artifact: a visible artifact always has its provenance."""
        if staged.is_symlink() or not staged.is_file():
            raise RuntimeError(f"the last phase did not write the artifact {staged} as a file")
        from .staging import refuse_link

        sidecar = layout.sidecar_path(final)
        refuse_link(sidecar.parent).mkdir(exist_ok=True)
        text = json.dumps({**document, "artifact": _identity(staged, content=True)}, indent=1)
        atomic_publish(sidecar, (text + "\n").encode())
        atomic_publish(final, staged)

    def read_provenance(self, artifact: Path) -> Document:
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


def _identity(artifact: Path, *, content: bool) -> Document:
    info = os.stat(artifact)
    identity: Document = {"size": info.st_size, "mtime_ns": info.st_mtime_ns}
    if content:
        digest = hashlib.sha256()
        with open(artifact, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        identity["sha256"] = digest.hexdigest()
    return identity


def _same_artifact(recorded: Document, artifact: Path) -> bool:
    """Same size and mtime (cheap), or same size and content (a copy)."""
    try:
        now = _identity(artifact, content=False)
        if recorded.get("size") != now["size"]:
            return False
        if recorded.get("mtime_ns") == now["mtime_ns"]:
            return True
        content = _identity(artifact, content=True)
        return "sha256" in recorded and recorded["sha256"] == content["sha256"]
    except OSError:
        return False


KINDS: dict[str, SqliteKind | FileKind] = {"sqlite": SqliteKind(), "file": FileKind()}
KIND = KINDS["sqlite" if layout.artifact_is_sqlite() else "file"]
