"""Artifact kinds: what differs between a SQLite artifact and any other file, in one object each.

Like doit's ``CHECKERS``, the builder asks ``KIND`` and never tests the extension itself. A kind
owns its progress store (inside the staged database, or a file beside the staged artifact), its
finishing step (the file that the runner moves into place, made from the staged artifact with its
provenance written where ``manifest/recorded`` reads it: a ``_provenance`` table inside, or a
sidecar in ``_provenance/``) and the rewrite of a final artifact's provenance that ``accept`` makes.
Preparing never touches the staged artifact or its progress: a failure or a kill before the final
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

    def prepare(self, conn: Connection, staged: Path, final: Path, document: Document) -> Path:
        """A copy of the staged database without its progress, with its provenance."""
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
            _write_provenance(out, document)
            out.execute("COMMIT")
        finally:
            out.close()
        return finishing

    def rewrite(self, final: Path, document: Document) -> None:
        """Replace the provenance of a final artifact in place, in one transaction."""
        import sqlite3

        conn = sqlite3.connect(final, isolation_level=None, timeout=10)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
            _write_provenance(conn, document)
            conn.execute("COMMIT")
        finally:
            conn.close()


def _write_provenance(conn: Connection, document: Document) -> None:
    conn.execute(f"CREATE TABLE {TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.executemany(
        f"INSERT INTO {TABLE} (key, value) VALUES (?, ?)",
        [(key, json.dumps(value, sort_keys=True)) for key, value in document.items()],
    )


class FileKind:
    """Any other file: the last phase writes it, progress and provenance live beside it."""

    holds_progress = False

    def progress_file(self, stage: Path, permutation_id: str) -> Path:
        return layout.progress_file(stage, permutation_id)

    def prepare(self, conn: Connection, staged: Path, final: Path, document: Document) -> Path:
        """The staged artifact, once its sidecar is published: a visible artifact always has its
        provenance."""
        if staged.is_symlink() or not staged.is_file():
            raise RuntimeError(f"the last phase did not write the artifact {staged} as a file")
        self._publish_sidecar(final, staged, document)
        return staged

    def rewrite(self, final: Path, document: Document) -> None:
        """Replace the sidecar of a final artifact, naming the artifact as it is."""
        self._publish_sidecar(final, final, document)

    def _publish_sidecar(self, final: Path, artifact: Path, document: Document) -> None:
        sidecar = layout.sidecar_path(final)
        layout.refuse_link(sidecar.parent).mkdir(exist_ok=True)
        text = json.dumps({**document, "artifact": identity(artifact, content=True)}, indent=1)
        atomic_publish(sidecar, (text + "\n").encode())


KIND: SqliteKind | FileKind = SqliteKind() if layout.artifact_is_sqlite() else FileKind()
