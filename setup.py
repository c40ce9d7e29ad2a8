"""Build script: compiles csrc/*.c into nlcore._native through cffi, optionally.

The extension is an abi3 module (cffi's ``py_limited_api``), so one wheel serves CPython 3.9
and later; ``bdist_wheel`` is told so (tag ``cp39-abi3``). When no C compiler (or no header)
is available, the build prints one warning and goes on: nlcore then runs on its pure-Python
backend, which gives identical results, only slower. ``NLCORE_REQUIRE_NATIVE=1`` at build
time turns that warning into a failure (for release builds and CI).
"""
from __future__ import annotations

import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

WARNING = ("nlcore: the C extension nlcore._native was not built ({why}); nlcore will use its "
           "pure-Python backend (same results, slower). Install a C compiler and the Python "
           "headers (e.g. apt-get install gcc python3-dev) and reinstall for the fast path.")


MARKER = "_native_missing.txt"  # read by nlcore/codec/_backend.py


def _required() -> bool:
    return os.environ.get("NLCORE_REQUIRE_NATIVE", "") not in ("", "0")


class OptionalBuildExt(build_ext):
    """build_ext whose failure is a warning, not an error (unless NLCORE_REQUIRE_NATIVE=1)."""

    def run(self) -> None:
        stale = os.path.join(self._pkg_dir(), MARKER)
        if os.path.exists(stale):
            os.remove(stale)
        try:
            super().run()
        except Exception as exc:  # compiler missing: DistutilsPlatformError, CompileError...
            self._fallback(exc)

    def _pkg_dir(self) -> str:
        return "nlcore" if self.inplace else os.path.join(self.build_lib, "nlcore")

    def build_extension(self, ext: object) -> None:
        try:
            super().build_extension(ext)  # type: ignore[arg-type]
        except Exception as exc:
            self._fallback(exc)

    def _fallback(self, exc: BaseException) -> None:
        if _required():
            raise exc
        why = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:200]
        print("WARNING: " + WARNING.format(why=why), file=sys.stderr)
        # the installed package says so at run time too (pip hides build output without -v)
        pkg = self._pkg_dir()
        os.makedirs(pkg, exist_ok=True)
        with open(os.path.join(pkg, MARKER), "w", encoding="utf-8") as f:
            f.write(why + "\n")


setup(
    cffi_modules=["nlcore/_build.py:ffibuilder"],
    cmdclass={"build_ext": OptionalBuildExt},
    options={"bdist_wheel": {"py_limited_api": "cp39"}},
)
