"""Artifact kinds: what differs between a SQLite artifact and any other file, in one object each.

Like doit's ``CHECKERS``, the builder asks ``KIND`` and never tests the extension itself. A kind
owns its progress store (inside the staged database, or a file beside the staged artifact) and its
finishing step (how the staged artifact becomes the final one, with its provenance written where
``manifest/recorded`` reads it: a ``_provenance`` table inside, or a sidecar in ``_provenance/``).
Finishing never touches the staged artifact or its progress: a failure or a kill before the final
move leaves a stage that resumes after its last completed phase.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from .. import layout
from ..atomic import atomic_publish
from ..manifest.recorded import TABLE, Document, identity

if TYPE_CHECKING:
    from sqlite3 import Connection


class SqliteKind:
    """A database artifact: phases write into it, and it holds its progress and provenance."""

    holds_progress = True

    def progress_file(self, stage: Path, permutation_id: str) -> Path:
        return layout.staged_artifact(stage, permutation_id)

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


class FileKind:
    """Any other file: the last phase writes it, progress and provenance live beside it."""

    holds_progress = False

    def progress_file(self, stage: Path, permutation_id: str) -> Path:
        return layout.progress_file(stage, permutation_id)

    def finish(self, conn: Connection, staged: Path, final: Path, document: Document) -> None:
        """Publish the sidecar, then the artifact: a visible artifact always has its provenance."""
        if staged.is_symlink() or not staged.is_file():
            raise RuntimeError(f"the last phase did not write the artifact {staged} as a file")
        sidecar = layout.sidecar_path(final)
        sidecar.parent.mkdir(exist_ok=True)
        text = json.dumps({**document, "artifact": identity(staged, content=True)}, indent=1)
        atomic_publish(sidecar, (text + "\n").encode())
        atomic_publish(final, staged)


KIND: SqliteKind | FileKind = SqliteKind() if layout.artifact_is_sqlite() else FileKind()
