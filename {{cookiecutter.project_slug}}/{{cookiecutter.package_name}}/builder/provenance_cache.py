"""What each built artifact's provenance says, kept so that ``manifest --stale`` need not reread it.

Reading an artifact's provenance (a SQLite connection, or a sidecar's parse) costs about 0.25 ms,
25 s for 100,000 artifacts; a ``stat`` costs microseconds. So the cache keeps, for each permutation
id, the parts of its recorded provenance that staleness compares (``Recorded``) and the ``stat`` of
the files they were read from: device, inode, size, mtime and ctime. An entry is used only while
all five are unchanged for each file, so a rewritten, replaced or copied artifact (or sidecar) is
read again, never trusted: a copy or a replacement has another inode, and a write in place moves
the ctime, which no user can set. Like git's index, an entry whose files changed no earlier than
the cache was written is read again: a write within one tick of the file system's clock could
leave the times as they were. Staleness itself is still judged against today's inputs, registry
and code on every run; only reading what each artifact recorded is saved.

The cache is one JSON file (``layout.provenance_cache_path``) of a few flat columns rather than an
object per artifact, since at 100,000 artifacts its loading weighs next to the manifest itself;
each distinct recorded part is written once. Entries are keyed by permutation id, the stat being
only the validator: hard links share an inode but not what they are asked for. Only the command
that reads provenance writes it (``manifest --stale``), atomically and only when something
changed; builders never do, and ``show`` reads its one artifact whole. A cache that cannot be
read is ignored and rebuilt; one that cannot be written (a read-only output folder) is left as it
is: the answer is the same, the next run as slow.
"""

from __future__ import annotations

import contextlib
import json
import os
from operator import attrgetter
from pathlib import Path
from typing import Any

from . import layout
from .atomic import atomic_publish
from .kinds import KIND, Document

FORMAT = 1
# A file's identity, field by field: if any differs, the file is not the one that was read.
STAT_FIELDS = ("st_dev", "st_ino", "st_size", "st_mtime_ns", "st_ctime_ns")
CTIME = STAT_FIELDS.index("st_ctime_ns")
stat_fields = attrgetter(*STAT_FIELDS)

# What staleness compares of a provenance document: its input files, its registry entry and its
# code fingerprint, each as canonical JSON text. As text, the many artifacts that record one
# input's files or one registry entry share one string, in the cache file and in memory, and
# staleness compares each distinct one with today's once.
Recorded = tuple[str, str, str]
RECORDED_PARTS = 3


def recorded_parts(document: Document) -> Recorded:
    return (
        canonical(document.get("inputs") or []),
        canonical(document.get("param") or {}),
        canonical((document.get("pipeline") or {}).get("sha256")),
    )


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def row_of(row: int, width: int) -> slice:
    """Where row ``row`` of a column of ``width`` numbers a row lies."""
    return slice(row * width, (row + 1) * width)


class ProvenanceCache:
    """One output folder's cache, open for the length of a ``with`` block, saved at its end.

    In memory as in the file, the cache is columns: row ``r`` of ``identities`` (``width``
    numbers: the STAT_FIELDS of each file an artifact's provenance is read from, one file after
    the other) and of ``refs`` (three indexes into ``parts``, its Recorded's texts) belongs to the
    permutation id that ``rows`` maps to ``r``. Loading is then a JSON parse and one dict, with
    no object per artifact.

    Files are ``stat``-ed through the folder's descriptor, each a name to resolve rather than a
    whole path, as ``manifest`` lists the folder: the ``stat`` is most of an answer's cost.
    """

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir
        self.path = layout.provenance_cache_path(output_dir)
        self.folder: int | None = None
        self.width = len(KIND.provenance_files("")) * len(STAT_FIELDS)
        self.rows: dict[str, int] = {}  # permutation id -> its row
        self.identities: list[int] = []
        self.refs: list[int] = []
        self.parts: list[str] = []  # each distinct recorded text, once
        self.index: dict[str, int] = {}  # text -> its index in parts
        self.written = 0  # the cache file's mtime: files changed since are not trusted
        self.asked: set[str] = set()
        self.changed = False

    def __enter__(self) -> ProvenanceCache:
        from .staging import refuse_link

        refuse_link(self.path)  # neither read nor replaced: a link is the user's to remove
        with contextlib.suppress(OSError):  # no folder, no artifact to ask about
            self.folder = os.open(self.output_dir, os.O_RDONLY | os.O_DIRECTORY)
            self.load()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.folder is not None:
            self.save()
            os.close(self.folder)

    def load(self) -> None:
        """Take the cache file's columns; none if it is missing, unreadable or not in FORMAT."""
        try:
            with open(self.path, "rb") as handle:
                written = os.fstat(handle.fileno()).st_mtime_ns
                document = json.loads(handle.read())
            ids, self.identities, self.refs, self.parts = columns_of(document, self.width)
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            ids, self.identities, self.refs, self.parts = [], [], [], []
        else:
            self.written = written
        self.rows = {permutation_id: row for row, permutation_id in enumerate(ids)}
        self.index = {part: i for i, part in enumerate(self.parts)}

    def identity(self, permutation_id: str) -> list[int] | None:
        """The STAT_FIELDS of the artifact's provenance files in a row; None if one is missing."""
        if self.folder is None:
            return None
        fields: list[int] = []
        for name in KIND.provenance_files(layout.artifact_name(permutation_id)):
            try:
                fields += stat_fields(os.stat(name, dir_fd=self.folder))
            except OSError:
                return None
        return fields

    def recorded(self, permutation_id: str) -> Recorded:
        """What the artifact's provenance says; MissingProvenance if it has none to trust."""
        self.asked.add(permutation_id)
        now = self.identity(permutation_id)
        row = self.rows.get(permutation_id)
        # Like git's index: a file changed no earlier than the cache was written may have been
        # changed again within one tick of the file system's clock, its times left as they were.
        if (
            row is not None
            and now is not None
            and self.identities[row_of(row, self.width)] == now
            and max(now[CTIME :: len(STAT_FIELDS)]) < self.written
        ):
            inputs, param, code = self.refs[row_of(row, RECORDED_PARTS)]
            return self.parts[inputs], self.parts[param], self.parts[code]
        # Read after the stat: a file changed in between has another identity next time.
        artifact = layout.artifact_path(self.output_dir, permutation_id)
        recorded = recorded_parts(KIND.read_provenance(artifact))
        if now is not None:
            self.keep(permutation_id, now, [self.part(text) for text in recorded])
        return recorded

    def keep(self, permutation_id: str, identity: list[int], refs: list[int]) -> None:
        """An artifact's row, replaced or added."""
        row = self.rows.setdefault(permutation_id, len(self.rows))
        if row * self.width == len(self.identities):
            self.identities += identity
            self.refs += refs
        else:
            self.identities[row_of(row, self.width)] = identity
            self.refs[row_of(row, RECORDED_PARTS)] = refs
        self.changed = True

    def part(self, text: str) -> int:
        """The index of a recorded part in ``parts``, added if new."""
        if text not in self.index:
            self.index[text] = len(self.parts)
            self.parts.append(text)
        return self.index[text]

    def save(self) -> None:
        """Write the cache if this run read an artifact or found one gone; never fail for it.

        A row not asked for (a shard's run asks for some) is kept while its artifact exists.
        """
        gone = {
            permutation_id
            for permutation_id in self.rows.keys() - self.asked
            if not os.path.exists(layout.artifact_path(self.output_dir, permutation_id))
        }
        if not (self.changed or gone):
            return
        if gone:
            self.drop(gone)
        with contextlib.suppress(OSError):  # a read-only folder: the next run reads them again
            write(self.path, list(self.rows), self.width, self.identities, self.refs, self.parts)

    def drop(self, gone: set[str]) -> None:
        """Remove the rows of these permutation ids, renumbering the others in order."""
        kept = [(pid, row) for pid, row in self.rows.items() if pid not in gone]
        self.identities = [n for _, row in kept for n in self.identities[row_of(row, self.width)]]
        self.refs = [i for _, row in kept for i in self.refs[row_of(row, RECORDED_PARTS)]]
        self.rows = {pid: new_row for new_row, (pid, _) in enumerate(kept)}


def columns_of(
    document: dict[str, Any], width: int
) -> tuple[list[str], list[int], list[int], list[str]]:
    """The ids, identities, refs and parts of a cache document, refusing (ValueError) one that
    does not add up or was written for another artifact kind (another width)."""
    if document["format"] != FORMAT or document["fields"] != list(STAT_FIELDS):
        raise ValueError("another format")
    ids, identities, refs = document["ids"], document["identities"], document["refs"]
    parts = document["parts"]
    if (
        document["width"] != width
        or len(identities) != width * len(ids)
        or len(refs) != RECORDED_PARTS * len(ids)
        or len(set(ids)) != len(ids)
        or not all(isinstance(part, str) for part in parts)
        or (refs and (set(map(type, refs)) != {int} or min(refs) < 0 or max(refs) >= len(parts)))
    ):
        raise ValueError("columns that do not fit together")
    return ids, identities, refs, parts


def write(
    path: Path, ids: list[str], width: int, identities: list[int], refs: list[int], parts: list[str]
) -> None:
    """Write the columns as a cache document: a temporary file, fsynced, then moved into place.

    Only the parts that some row refers to are written, renumbered in order of first use.
    """
    renumbered: dict[int, int] = {}  # index in ``parts`` -> index in the document
    written_refs = [renumbered.setdefault(index, len(renumbered)) for index in refs]
    document = {
        "format": FORMAT,
        "fields": STAT_FIELDS,
        "width": width,
        "ids": ids,
        "identities": identities,
        "refs": written_refs,
        "parts": [parts[index] for index in renumbered],
    }
    atomic_publish(path, json.dumps(document, separators=(",", ":")).encode())
