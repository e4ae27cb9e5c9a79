"""Is a stream a person's terminal, how wide is it, and may it be coloured or rewritten in place.

One answer for every display: the grid on stdout and the build's progress on stderr. Colour only on
a terminal whose ``TERM`` is not ``dumb`` and without ``NO_COLOR`` (https://no-color.org); a pipe
or a file gets plain text, 80 columns wide.
"""

from __future__ import annotations

import os
from typing import TextIO

DEFAULT_WIDTH = 80
CLEAR_LINE = "\r\x1b[K"  # back to the line's start, then erase to its end


def can_redraw(stream: TextIO) -> bool:
    """A terminal that takes a line rewritten in place (carriage return, clear to end of line)."""
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def terminal_style(stream: TextIO) -> tuple[int, bool]:
    """A terminal's width and whether to colour it; 80 columns and plain for a pipe. A width of 0
    (``script``, some CI ptys, ``COLUMNS=0``) is no width at all: unknown, so 80 too."""
    if not stream.isatty():
        return DEFAULT_WIDTH, False
    try:
        width = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        try:
            width = os.get_terminal_size(stream.fileno()).columns
        except OSError:
            width = DEFAULT_WIDTH
    colour = can_redraw(stream) and not os.environ.get("NO_COLOR")
    return (width if width > 0 else DEFAULT_WIDTH), colour
