"""Build script: compiles csrc/*.c into nlcore._native through cffi (API mode, out of line)."""
from setuptools import setup

setup(cffi_modules=["nlcore/_build.py:ffibuilder"])
