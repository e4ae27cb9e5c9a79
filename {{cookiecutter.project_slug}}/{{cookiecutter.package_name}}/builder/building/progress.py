"""The progress store of a staged build: what its completed phases were built from, and which.

Three tables: ``_build_progress`` (phase, name, completed_at), one row per completed phase;
``_build_ran`` (phase, JSON record), the code and libraries each completed phase ran
(``tracing``); and ``_build_begun`` (key, JSON value), the provenance fingerprint taken when the
stage was begun. So a resume can tell which completed phases still stand on today's inputs,
registry entry, code and libraries. A fourth, ``_build_open`` (phase), is written first in a
SQLite phase's transaction and deleted with its progress row, so only a phase that commits on its
own leaves a row there: its stage is then started over, never resumed on top of what it committed.
For SQLite artifacts the store is the staged artifact itself, so a phase's work and its progress
rows commit in one transaction; other kinds keep it in a file beside the staged artifact (``kinds``
chooses). None of the tables reaches the final artifact.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from typing import Any

TABLE = "_build_progress"
BEGUN = "_build_begun"
RAN = "_build_ran"
# A completed phase: its number, name, when it completed, and what it ran (None: not recorded).
Completed = tuple[int, str, str, "dict[str, Any] | None"]
OPEN = "_build_open"


def ensure_tables(conn: sqlite3.Connection) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " phase INTEGER PRIMARY KEY, name TEXT NOT NULL, completed_at TEXT NOT NULL)"
    )
    conn.execute(f"CREATE TABLE IF NOT EXISTS {BEGUN} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {RAN} (phase INTEGER PRIMARY KEY, ran TEXT NOT NULL)")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {OPEN} (phase INTEGER PRIMARY KEY)")


def completed_phases(conn: sqlite3.Connection) -> list[Completed]:
    """Rows (phase, name, completed_at, ran) in phase order."""
    rows = conn.execute(
        f"SELECT p.phase, p.name, p.completed_at, r.ran FROM {TABLE} p"
        f" LEFT JOIN {RAN} r ON r.phase = p.phase ORDER BY p.phase"
    )
    return [(int(phase), str(name), str(at), _record(ran)) for phase, name, at, ran in rows]


def _record(text: str | None) -> dict[str, Any] | None:
    try:
        found = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def open_phase(conn: sqlite3.Connection, phase: int) -> None:
    """Inside a phase's transaction: a row that survives only if the phase commits on its own."""
    conn.execute(f"INSERT OR REPLACE INTO {OPEN} (phase) VALUES (?)", (phase,))


def committed_on_its_own(conn: sqlite3.Connection) -> int | None:
    """The phase whose writes were committed by the phase itself, if any; its stage is unsound."""
    row = conn.execute(f"SELECT min(phase) FROM {OPEN}").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def record_phase(conn: sqlite3.Connection, phase: int, name: str, ran: dict[str, Any]) -> None:
    conn.execute(f"DELETE FROM {OPEN} WHERE phase = ?", (phase,))
    conn.execute(
        f"INSERT INTO {TABLE} (phase, name, completed_at) VALUES (?, ?, ?)",
        (phase, name, datetime.now(timezone.utc).isoformat(timespec="seconds")),
    )
    conn.execute(f"INSERT INTO {RAN} (phase, ran) VALUES (?, ?)", (phase, json.dumps(ran)))


def forget_from(conn: sqlite3.Connection, phase: int) -> None:
    """Forget the completed phases from ``phase`` on: they run again."""
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(f"DELETE FROM {TABLE} WHERE phase >= ?", (phase,))
    conn.execute(f"DELETE FROM {RAN} WHERE phase >= ?", (phase,))
    conn.execute("COMMIT")


def begun(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The fingerprint recorded when this stage was begun; None if it has none."""
    rows = conn.execute(f"SELECT key, value FROM {BEGUN}").fetchall()
    return {str(key): json.loads(value) for key, value in rows} or None


def record_begun(conn: sqlite3.Connection, fingerprint: dict[str, Any]) -> None:
    """Start the stage afresh from ``fingerprint``: no phase is completed any more."""
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(f"DELETE FROM {TABLE}")
    conn.execute(f"DELETE FROM {RAN}")
    conn.execute(f"DELETE FROM {BEGUN}")
    conn.execute(f"DELETE FROM {OPEN}")
    conn.executemany(
        f"INSERT INTO {BEGUN} (key, value) VALUES (?, ?)",
        [(key, json.dumps(value, sort_keys=True)) for key, value in fingerprint.items()],
    )
    conn.execute("COMMIT")


def drop_tables(conn: sqlite3.Connection) -> None:
    for table in (TABLE, RAN, BEGUN, OPEN):
        conn.execute(f"DROP TABLE IF EXISTS {table}")
