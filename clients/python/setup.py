# What pyproject.toml cannot say statically: the cffi extension, and the
# release version, both taken from the muse.h being compiled, so a release is
# bumped in muse.h alone. An sdist carries that header (include/muse.h) and
# so builds away from the repository.
from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

sys.path.insert(0, str(Path(__file__).resolve().parent))
import muse_build  # noqa: E402

HEADER_DIR = muse_build.header_dir()
VERSION = muse_build.header_version(HEADER_DIR)


class SdistWithHeader(sdist):
    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        target = Path(base_dir, "include", "muse.h")
        target.parent.mkdir(exist_ok=True)
        # The tree may hold a hard link to the source's own copy: replace it, never write through it.
        if target.exists():
            target.unlink()
        target.write_bytes((HEADER_DIR / "muse.h").read_bytes())


class BuildPyWithVersion(build_py):
    def _version_file(self) -> Path:
        # An editable install runs from src/, where the extension is built in place too.
        base = Path(__file__).resolve().parent / "src" if getattr(self, "editable_mode", False) else Path(self.build_lib)
        return base / "muse" / "_version.py"

    def run(self) -> None:
        super().run()
        target = self._version_file()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f'# Written by setup.py from muse.h\'s MUSE_VERSION_STRING.\n__version__ = "{VERSION}"\n')

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(self._version_file())]


setup(version=VERSION, cffi_modules=["muse_build.py:ffibuilder"],
      cmdclass={"sdist": SdistWithHeader, "build_py": BuildPyWithVersion})
