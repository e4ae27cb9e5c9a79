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
from collections.abc import Iterable, Iterator
from operator import attrgetter
from pathlib import Path
from typing import Any

from .. import layout
from ..atomic import atomic_publish
from .recorded import RECORDED, Document, MissingProvenance

# 2: five recorded parts (the code per function, the libraries, a gather's members).
FORMAT = 2
# A file's identity, field by field: if any differs, the file is not the one that was read.
STAT_FIELDS = ("st_dev", "st_ino", "st_size", "st_mtime_ns", "st_ctime_ns")
CTIME = STAT_FIELDS.index("st_ctime_ns")
SIZE, MTIME = STAT_FIELDS.index("st_size"), STAT_FIELDS.index("st_mtime_ns")
NUMBERS = len(STAT_FIELDS)  # of a file, in a row
stat_fields = attrgetter(*STAT_FIELDS)

# What staleness compares of a provenance document: its input files, its registry entry, the code
# it ran and the libraries, each as canonical JSON text. As text, the many artifacts that record
# one input's files, one registry entry or one parameter's code share one string, in the cache
# file and in memory, and staleness compares each distinct one with today's once. The code of a
# record made before per-function fingerprints is the text of its whole-file ``pipeline.sha256``;
# a gather's members are their count and digest (``gathers``), null for a permutation.
Recorded = tuple[str, str, str, str, str]
RECORDED_PARTS = 5
# A row of parts, whatever a cache keeps of each provenance (a Recorded here).
Row = tuple[str, ...]


def _is_table(value: object, depth: int) -> bool:
    """A JSON object of str keys whose values are str (depth 1) or such objects (depth 2)."""
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        return False
    return all(isinstance(v, str) if depth == 1 else _is_table(v, 1) for v in value.values())


def recorded_parts(document: Document) -> Recorded:
    """The parts staleness compares; MissingProvenance naming the first that is malformed, so one
    artifact's damaged record never stops the rest of the matrix."""
    inputs = document.get("inputs") or []
    if not isinstance(inputs, list) or not all(
        isinstance(f, dict) and isinstance(f.get("path"), str) for f in inputs
    ):
        raise MissingProvenance(f"malformed inputs {canonical(inputs):.60}")
    param = document.get("param") or {}
    if not isinstance(param, dict):
        raise MissingProvenance(f"malformed param {canonical(param):.60}")
    if "code" in document:
        ran = document["code"]
        if not _is_table(ran, 2):
            raise MissingProvenance(f"malformed code {canonical(ran):.60}")
    else:
        ran = (document.get("pipeline") or {}).get("sha256")
        if not isinstance(ran, str | None):
            raise MissingProvenance(f"malformed pipeline {canonical(ran):.60}")
    found = document.get("libraries") or {}
    if not _is_table(found, 1):
        raise MissingProvenance(f"malformed libraries {canonical(found):.60}")
    members = document.get("members")
    summary = None
    if members is not None:
        if not (
            isinstance(members, dict)
            and isinstance(members.get("count"), int)
            and isinstance(members.get("digest"), str)
        ):
            raise MissingProvenance(f"malformed members {canonical(members):.60}")
        summary = {"count": members["count"], "digest": members["digest"]}
    return canonical(inputs), canonical(param), canonical(ran), canonical(found), canonical(summary)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def row_of(row: int, width: int) -> slice:
    """Where row ``row`` of a column of ``width`` numbers a row lies."""
    return slice(row * width, (row + 1) * width)


class ProvenanceCache:
    """One output folder's cache, open for the length of a ``with`` block, saved at its end.

    In memory as in the file, the cache is columns: row ``r`` of ``identities`` (``width``
    numbers: the STAT_FIELDS of each file an artifact's provenance is read from, one file after
    the other) and of ``refs`` (``parts_per_row`` indexes into ``parts``, the texts ``extract``
    made of its provenance: here its Recorded) belongs to the permutation id that ``rows`` maps to
    ``r``. Loading is then a JSON parse and one dict, with no object per artifact. A subclass
    keeps other parts of the provenance in a file of its own (``history.HistoryCache``).

    Files are ``stat``-ed through the folder's descriptor, each a name to resolve rather than a
    whole path, as ``manifest`` lists the folder: the ``stat`` is most of an answer's cost.
    """

    def __init__(self, output_dir: Path, *, stats: bool = False) -> None:
        self.output_dir = output_dir
        # With ``stats``, each artifact asked for leaves its (size, mtime_ns): a gather's members'
        # fingerprints, without a second stat.
        self.stats: dict[str, tuple[int, int]] | None = {} if stats else None
        self.path = layout.provenance_cache_path(output_dir)
        self.folder: int | None = None
        self.width = len(RECORDED.files("")) * len(STAT_FIELDS)
        self.suffix = layout.artifact_name("")
        self.rows: dict[str, int] = {}  # permutation id -> its row
        self.identities: list[int] = []
        self.refs: list[int] = []
        self.parts: list[str] = []  # each distinct recorded text, once
        self.index: dict[str, int] = {}  # text -> its index in parts
        self.written = 0  # the cache file's mtime: files changed since are not trusted
        self.asked: set[str] = set()
        self.changed = False

    def __enter__(self) -> ProvenanceCache:
        layout.refuse_link(self.path)  # neither read nor replaced: a link is the user's to remove
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
            ids, self.identities, self.refs, self.parts = columns_of(
                document, self.width, self.parts_per_row
            )
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
        try:
            if self.width == len(STAT_FIELDS):  # the artifact alone: most of a --stale run
                return list(stat_fields(os.stat(permutation_id + self.suffix, dir_fd=self.folder)))
            for name in RECORDED.files(permutation_id + self.suffix):
                fields += stat_fields(os.stat(name, dir_fd=self.folder))
        except OSError:
            return None
        return fields

    parts_per_row = RECORDED_PARTS

    def extract(self, document: Document) -> Row:
        """The texts a row keeps of a provenance document."""
        return recorded_parts(document)

    def recorded(self, permutation_id: str) -> Recorded:
        """What the artifact's provenance says; MissingProvenance if it has none to trust."""
        inputs, param, code, found, members = self.parts_of(permutation_id)
        return inputs, param, code, found, members

    def parts_of(self, permutation_id: str) -> Row:
        """The artifact's row of parts; MissingProvenance if it has no provenance to trust."""
        (found,) = self.each([permutation_id])
        if isinstance(found, MissingProvenance):
            raise found
        return found

    def each(self, permutation_ids: Iterable[str]) -> Iterator[Row | MissingProvenance]:
        """Each artifact's row of parts, in order (a MissingProvenance given, not raised): the
        loop of ``manifest --stale``, with what it asks of the cache looked up once rather than
        once per artifact."""
        rows, identities, refs, per_row = (
            self.rows.get,
            self.identities,
            self.refs,
            self.parts_per_row,
        )
        width, written, asked, stats = self.width, self.written, self.asked.add, self.stats
        part = self.parts.__getitem__
        single = self.folder is not None and width == NUMBERS  # the artifact alone holds it
        folder, suffix, stat = self.folder, self.suffix, os.stat
        for permutation_id in permutation_ids:
            asked(permutation_id)
            now: list[int] | None
            if single:
                try:
                    now = list(stat_fields(stat(permutation_id + suffix, dir_fd=folder)))
                except OSError:
                    now = None
            else:
                now = self.identity(permutation_id)
            row = None if now is None else rows(permutation_id)
            if now is not None and stats is not None:
                stats[permutation_id] = (now[SIZE], now[MTIME])
            # Like git's index: a file changed no earlier than the cache was written may have
            # been changed again within one tick of the file system's clock, its times as they
            # were.
            if (
                row is not None
                and identities[row * width : row * width + width] == now
                and max(now[CTIME::NUMBERS]) < written
            ):
                yield tuple(map(part, refs[row * per_row : row * per_row + per_row]))
                continue
            try:
                yield self._read(permutation_id, now)
            except MissingProvenance as why:
                yield why

    def _read(self, permutation_id: str, now: list[int] | None) -> Row:
        """Read the artifact's provenance (after its stat: a file changed in between has another
        identity next time) and keep what it says."""
        artifact = layout.artifact_path(self.output_dir, permutation_id)
        recorded = self.extract(RECORDED.read(artifact))
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
            self.refs[row_of(row, self.parts_per_row)] = refs
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
        self.refs = [i for _, row in kept for i in self.refs[row_of(row, self.parts_per_row)]]
        self.rows = {pid: new_row for new_row, (pid, _) in enumerate(kept)}


def columns_of(
    document: dict[str, Any], width: int, parts_per_row: int = RECORDED_PARTS
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
        or len(refs) != parts_per_row * len(ids)
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
