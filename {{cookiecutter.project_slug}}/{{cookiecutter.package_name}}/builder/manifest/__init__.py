"""The read side: every permutation's entry and status, the selection, staleness and ``show``."""
