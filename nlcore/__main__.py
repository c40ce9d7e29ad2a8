"""``python -m nlcore ...``: the nlcore command line (see :mod:`nlcore.cli`)."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
