"""The progress store of a staged build: what its completed phases were built from, and which.

Two tables: ``_build_progress`` (phase, name, completed_at), one row per completed phase, and
``_build_begun`` (key, JSON value), the provenance fingerprint taken when the stage was begun, so
a resume can tell whether its completed phases still stand on today's inputs, registry entry and
code. For SQLite artifacts the store is the staged artifact itself, so a phase's work and its
progress row commit in one transaction; other kinds keep it in a file beside the staged artifact
(``kinds`` chooses). Neither table reaches the final artifact.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from typing import Any

TABLE = "_build_progress"
BEGUN = "_build_begun"


def ensure_tables(conn: sqlite3.Connection) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " phase INTEGER PRIMARY KEY, name TEXT NOT NULL, completed_at TEXT NOT NULL)"
    )
    conn.execute(f"CREATE TABLE IF NOT EXISTS {BEGUN} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def completed_phases(conn: sqlite3.Connection) -> list[tuple[int, str, str]]:
    """Rows (phase, name, completed_at) in phase order."""
    rows = conn.execute(f"SELECT phase, name, completed_at FROM {TABLE} ORDER BY phase")
    return [(int(phase), str(name), str(at)) for phase, name, at in rows]


def record_phase(conn: sqlite3.Connection, phase: int, name: str) -> None:
    conn.execute(
        f"INSERT INTO {TABLE} (phase, name, completed_at) VALUES (?, ?, ?)",
        (phase, name, datetime.now(timezone.utc).isoformat(timespec="seconds")),
    )


def begun(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The fingerprint recorded when this stage was begun; None if it has none."""
    rows = conn.execute(f"SELECT key, value FROM {BEGUN}").fetchall()
    return {str(key): json.loads(value) for key, value in rows} or None


def record_begun(conn: sqlite3.Connection, fingerprint: dict[str, Any]) -> None:
    """Start the stage afresh from ``fingerprint``: no phase is completed any more."""
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(f"DELETE FROM {TABLE}")
    conn.execute(f"DELETE FROM {BEGUN}")
    conn.executemany(
        f"INSERT INTO {BEGUN} (key, value) VALUES (?, ?)",
        [(key, json.dumps(value, sort_keys=True)) for key, value in fingerprint.items()],
    )
    conn.execute("COMMIT")


def drop_tables(conn: sqlite3.Connection) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    conn.execute(f"DROP TABLE IF EXISTS {BEGUN}")
