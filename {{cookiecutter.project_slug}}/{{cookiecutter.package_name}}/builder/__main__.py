"""Entry point for ``python -m <package>.builder``."""

from .cli import main

raise SystemExit(main())
