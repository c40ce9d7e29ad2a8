"""cffi builder for ``nlcore._native`` (API mode, out of line); used only at build time.

``setup.py`` names it (``cffi_modules=["nlcore/_build.py:ffibuilder"]``), so both
``pip install -e .`` and ``python3 setup.py build_ext --inplace`` compile every ``csrc/*.c``
into ``nlcore/_native*.so``. The cdef is the text between ``/* CDEF-BEGIN */`` and
``/* CDEF-END */`` in ``csrc/nlcore.h``, read here so the header stays the only contract.
Running this file directly (``python3 nlcore/_build.py``) builds the module in place as well.
Nothing in ``nlcore`` imports it.
"""

from __future__ import annotations

import os
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
HEADER = CSRC / "nlcore.h"
CDEF_BEGIN = "/* CDEF-BEGIN */"
CDEF_END = "/* CDEF-END */"
# The strict warning set (-Wextra -Wconversion -Werror) is enforced on csrc/ by
# tests/test_native_sanitizers.py; here it would also hit the code cffi generates.
EXTRA_COMPILE_ARGS = ["-std=gnu11", "-O2", "-Wall", "-fvisibility=hidden"]


def read_cdef(header: Path = HEADER) -> str:
    """Return the declarations between the CDEF markers of ``header``."""
    text = header.read_text(encoding="utf-8")
    begin = text.find(CDEF_BEGIN)
    end = text.find(CDEF_END, begin + 1)
    if begin < 0 or end < 0:
        raise RuntimeError(f"{header}: missing {CDEF_BEGIN} ... {CDEF_END} markers")
    return text[begin + len(CDEF_BEGIN):end]


def _rel(path: Path) -> str:
    """``path`` relative to the working directory when below it (setuptools prefers that)."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (not on Linux, but harmless)
        return str(path)


def make_builder() -> FFI:
    """Return the configured ``cffi.FFI`` builder for ``nlcore._native``."""
    sources = sorted(CSRC.glob("*.c"))
    if not sources:
        raise RuntimeError(f"no C sources in {CSRC}")
    builder = FFI()
    builder.cdef(read_cdef())
    builder.set_source(
        "nlcore._native",
        '#include "nlcore.h"',
        sources=[_rel(p) for p in sources],
        include_dirs=[_rel(CSRC)],
        extra_compile_args=EXTRA_COMPILE_ARGS,
        py_limited_api=True,  # one abi3 module for CPython >= 3.9 (setup.py tags the wheel)
    )
    return builder


ffibuilder = make_builder()

if __name__ == "__main__":
    os.chdir(ROOT)
    make_builder().compile(tmpdir=".", verbose=True)
