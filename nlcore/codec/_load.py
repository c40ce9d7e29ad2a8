"""Find the cffi extension ``nlcore._native``, or say why the pure backend is used.

``NLCORE_PURE=1`` asks for pure. A missing extension falls back silently in a vendored copy;
it warns once (RuntimeWarning) when setup.py left ``_native_missing.txt`` (an install without
a C compiler) or when the extension exists but fails to load. ``NLCORE_REQUIRE_NATIVE=1``
turns any fallback into an ImportError.
"""

from __future__ import annotations

import os
from types import ModuleType

_PKG = __name__.rsplit(".", 2)[0]  # "nlcore", or "vendor.nlcore" in a vendored copy
MARKER = os.path.join(os.path.dirname(os.path.dirname(__file__)), "_native_missing.txt")


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def native_path() -> str | None:
    """Where the extension module is (or would be loaded from), or None when absent."""
    from importlib.util import find_spec

    try:
        spec = find_spec(f"{_PKG}._native")
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None else None


def find_native() -> ModuleType | None:
    """The loaded ``_native`` module, or None (pure), following the rules above."""
    if _flag("NLCORE_PURE"):
        return None
    try:
        from .. import _native
    except ImportError as exc:
        path = native_path()
        why = (f"nlcore._native at {path} failed to load ({exc})" if path else
               "nlcore._native is not built (no C compiler at install time, or a copy of "
               "nlcore/ without it)")
        if _flag("NLCORE_REQUIRE_NATIVE"):
            raise ImportError(f"NLCORE_REQUIRE_NATIVE=1 but {why}") from exc
        if not path and os.path.exists(MARKER):  # setup.py could not build it: say so once
            with open(MARKER, encoding="utf-8") as f:
                why = f"nlcore was installed without its C extension ({f.read().strip()})"
        if path or os.path.exists(MARKER):
            import warnings

            warnings.warn(f"{why}; using the pure-Python backend (same results, slower)",
                          RuntimeWarning, stacklevel=3)
        return None
    return _native
