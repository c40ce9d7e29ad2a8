"""``python -m nlcore ...``: the nlcore command line (see :mod:`nlcore.cli.main`)."""

from __future__ import annotations

from .cli.main import main

raise SystemExit(main())
