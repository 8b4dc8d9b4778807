# The cffi extension (API mode) is declared here; everything else is in
# pyproject.toml.
from setuptools import setup

setup(cffi_modules=["muse_build.py:ffibuilder"])
