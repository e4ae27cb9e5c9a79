"""Builder machinery for a permutation pipeline: manifest, self-commands and staged, atomic builds.

Nothing in this package is specific to one pipeline: names come from ``settings`` and the work from
``pipeline``, both one level up, so a newer template version can replace this folder as a drop-in.
"""

BUILDER_VERSION = "1.0.0"
