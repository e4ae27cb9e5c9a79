"""The build side: staged, locked, atomic builds, their logs, progress and provenance.

Only ``build`` imports this package: the info commands never pay for sqlite3 or logging.
"""
