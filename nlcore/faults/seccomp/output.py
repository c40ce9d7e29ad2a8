"""Draining a supervised program's pipes while the supervisor serves it (``capture_output``).

The supervisor's loop blocks (in C, without the GIL, or in ``poll``), so each pipe gets a
thread that reads it to the end, as ``subprocess.run(capture_output=True)`` does with
``communicate()``: a program that writes megabytes never blocks on a full pipe.
"""

from __future__ import annotations

import subprocess
import threading
from typing import IO, Any


class Drains:
    """Reader threads for ``proc.stdout`` and ``proc.stderr`` when they are pipes."""

    def __init__(self, proc: subprocess.Popen[Any]) -> None:
        self._parts: dict[str, list[Any]] = {}
        self._threads: list[threading.Thread] = []
        for name in ("stdout", "stderr"):
            pipe = getattr(proc, name)
            if pipe is not None:
                chunks: list[Any] = []
                self._parts[name] = chunks
                t = threading.Thread(target=self._read, args=(pipe, chunks),
                                     name=f"nlcore-inject-{name}", daemon=True)
                t.start()
                self._threads.append(t)

    @staticmethod
    def _read(pipe: IO[Any], chunks: list[Any]) -> None:
        try:
            chunks.append(pipe.read())
        finally:
            pipe.close()

    def join(self) -> tuple[Any, Any]:
        """Wait for both pipes to reach end of file; ``(stdout, stderr)``, None when not piped."""
        for t in self._threads:
            t.join()
        got = {name: (chunks[0] if chunks else b"") for name, chunks in self._parts.items()}
        return got.get("stdout"), got.get("stderr")
