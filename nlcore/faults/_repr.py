"""Readable reprs for the fault objects (rules, actions): what differs from the defaults."""

from __future__ import annotations

import errno as E
from dataclasses import MISSING, fields
from typing import Any


def short_repr(obj: Any) -> str:
    """``Rule(type='RTM_NEWADDR', action=Error(EACCES))``: the dataclass fields that differ
    from their defaults, an errno by its name (for logs and test failures)."""
    words = []
    for f in fields(obj):
        v = getattr(obj, f.name)
        if not f.repr or (f.default is not MISSING and v == f.default):
            continue
        if f.name == "errno" and isinstance(v, int):
            words.append(E.errorcode.get(abs(v), str(v)) if v else "0")
        else:
            words.append(f"{f.name}={v!r}")
    return f"{type(obj).__name__}({', '.join(words)})"
