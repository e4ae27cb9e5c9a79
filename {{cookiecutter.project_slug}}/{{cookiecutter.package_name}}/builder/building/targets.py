"""What one build makes: a permutation's artifact, or a gather's.

The runner builds both the same way (lock, stage, phases, atomic finish); a ``Target`` says what
differs: where the artifact goes (a gather's in ``_gathers/``), its phases (the pipeline's, or the
gather's one function), what its phases are handed (a registry entry, or the done members), what
its stage is begun from and recorded as, and the code every build of it depends on (the pipeline's
list of phases).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import axes, layout
from ..manifest import fingerprints, gathers
from ..manifest.entries import Entry
from ..manifest.recorded import Document
from ..manifest.stale import Reasons, Today, changed_inputs
from ..pipeline_module import PIPELINE_FILE, pipeline
from . import provenance

Phase = Callable[..., "str | None"]


@dataclass
class Target:
    entry: Entry
    output_dir: Path  # where its artifact, stage and provenance go
    phases: list[Phase]
    params: dict[str, Any]
    identity: Document  # what its provenance says it is
    also: list[tuple[str, str]]  # items of code every build of it depends on: (file, name)
    members: list[gathers.Member] = field(default_factory=list)
    target: gathers.Target | None = None  # a gather's

    @property
    def permutation_id(self) -> str:
        return str(self.entry["permutation_id"])

    def begin(self) -> Document:
        """What its stage is begun from, kept while it is resumed."""
        if self.target is None:
            return provenance.begin(self.entry)
        prints = gathers.fingerprints(self.members)
        return {
            "fingerprint": "stat",
            "inputs": [],
            "param": gathers.declaration(self.target),
            "members": gathers.summary(prints),
            "pipeline": {"path": layout.display_path(PIPELINE_FILE)},
            "started_at": provenance.now(),
        }

    def source_reasons(self, today: Today, begun: Document) -> Reasons:
        """Why the stage's begun record no longer stands: other inputs, registry entry, members."""
        if self.target is None:
            return today.source_reasons(
                begun, self.entry[axes.INPUT_KEY], self.entry[axes.PARAM_KEY]
            )
        if self._members_changed(begun):
            return ("other members",)
        declared = gathers.declaration(self.target)
        return () if begun.get("param") == declared else ("another declaration",)

    def changed_inputs(self, begun: Document) -> list[str]:
        """What it is built from that changed since its stage was ``begun``: input files, or a
        gather's members."""
        if self.target is None:
            mode = fingerprints.fingerprint_mode()
            now = fingerprints.fingerprint_inputs(self.entry[axes.INPUT_KEY], mode)
            return changed_inputs(begun.get("inputs") or [], now)
        return ["its members"] if self._members_changed(begun) else []

    def _members_changed(self, begun: Document) -> bool:
        """Whether a gather's members are not those its stage was ``begun`` from."""
        now = gathers.summary(gathers.fingerprints(self.members))
        return bool((begun.get("members") or {}).get("digest") != now["digest"])


def of(entry: Entry, output_dir: Path) -> Target:
    """The target an entry stands for: a gather's entry carries its members (``members``)."""
    identity: Document = {
        "permutation_id": entry["permutation_id"],
        "axes": {axes.INPUT_AXIS: entry[axes.INPUT_KEY], axes.PARAM_AXIS: entry[axes.PARAM_KEY]},
    }
    if "gather" not in entry:
        return Target(
            entry,
            output_dir,
            list(pipeline.PHASES),
            dict(pipeline.PARAM_REGISTRY[entry[axes.PARAM_KEY]]),
            identity,
            [(str(PIPELINE_FILE), "PHASES")],
        )
    target = gathers.target_of(entry)
    return Target(
        entry,
        layout.gathers_folder(output_dir),
        [target.gather.function],
        {},
        {**identity, "gather": target.gather.name},
        [],
        list(entry.get("members", [])),
        target,
    )
