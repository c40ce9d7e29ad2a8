"""Run a function in a fresh OS thread that exits afterwards.

Namespace moves (setns), capability drops (capset) and seccomp filters all change only the
calling thread; doing them in a throwaway thread keeps the caller's thread untouched even
when they fail.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar

_T = TypeVar("_T")


def in_fresh_thread(fn: Callable[[], _T], name: str = "nlcore-thread") -> _T:
    """``fn()`` in a new thread; returns its result or re-raises its exception here."""
    box: list[tuple[bool, Any]] = []

    def target() -> None:
        try:
            box.append((True, fn()))
        except BaseException as exc:  # handed to the caller below
            box.append((False, exc))

    t = threading.Thread(target=target, name=name, daemon=True)
    t.start()
    t.join()
    ok, value = box.pop()
    if ok:
        return value  # type: ignore[no-any-return]
    raise value
