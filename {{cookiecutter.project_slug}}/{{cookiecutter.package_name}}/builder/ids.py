"""What makes an id safe to become a file name, and the error a user sees when one is not."""

from __future__ import annotations

import re

# Letters, digits, '.', '_' and '-'; starts with a letter or digit, so never '.', '..', '-x' or '/'.
_SAFE_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

SAFE_STEM_RULE = (
    "a safe filename stem: letters, digits, '.', '_' or '-', starting with a letter or digit,"
    " at most 128 characters"
)


class UsageError(Exception):
    """A mistake the user can fix: printed as one line, exit code 2, never a traceback."""


def is_safe_stem(value: str) -> bool:
    return _SAFE_STEM.fullmatch(value) is not None and not value.endswith(".")


def check_safe_stem(value: str, what: str) -> str:
    """Return ``value`` if it can name a file inside the output folder, else raise UsageError."""
    if not is_safe_stem(value):
        raise UsageError(f"{what} {value!r} is not {SAFE_STEM_RULE}")
    return value
