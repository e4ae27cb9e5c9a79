"""Builder machinery for a permutation pipeline: manifest, self-commands and staged, atomic builds.

Nothing in this package is specific to one pipeline: names come from ``settings`` and the work from
``pipeline``, both one level up, so a newer template version can replace this folder as a drop-in.
The folders are its halves: ``manifest/`` reads, ``formats/`` prints, ``building/`` builds,
``engines/`` hands work to clusters, ``commands/`` holds one module per command; the modules at
this level are the ground they share.
"""

# 2.0.0: the entries of `manifest --json` write cost (and the document cost_unit) instead of
# sort_key and label, without spaces.
# 3.0.0: the engines' files come from `plan --slurm` (--sge, --pbs, --lsf, --kubernetes,
# --aws-batch), no longer from `manifest`, which only reads.
# 3.1.0: builds record what they measured (provenance's trace); plan headers name their tasks'
# resources (a third field, resources=JSON, which a 3.0 builder refuses); report, --learn.
# 4.0.0: provenance records the code each build ran, per function (``code``), and the libraries
# it imported, instead of one sha256 of pipeline.py; gathers, excluded pairs, orphans, and the
# commands accept and clean.
BUILDER_VERSION = "4.0.0"
