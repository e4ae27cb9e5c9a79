"""Builder machinery for a permutation pipeline: manifest, self-commands and staged, atomic builds.

Nothing in this package is specific to one pipeline: names come from ``settings`` and the work from
``pipeline``, both one level up, so a newer template version can replace this folder as a drop-in.
"""

# 2.0.0: the entries of `manifest --json` write cost (and the document cost_unit) instead of
# sort_key and label, without spaces.
BUILDER_VERSION = "2.0.0"
