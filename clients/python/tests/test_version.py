"""One release version everywhere: the package's, its metadata's and the
compiled muse.h's are the release muse.h declares."""
from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import muse

TESTS = Path(__file__).resolve().parent


def declared_release() -> str:
    # The repository's header, or the copy an unpacked sdist carries.
    for header in (TESTS.parents[2] / "Sources" / "CMuse" / "include" / "muse.h", TESTS.parent / "include" / "muse.h"):
        if header.is_file():
            match = re.search(r'^#define MUSE_VERSION_STRING "(.*)"', header.read_text(), re.MULTILINE)
            assert match, f"{header} declares no MUSE_VERSION_STRING"
            return match.group(1)
    raise AssertionError(f"no muse.h near {TESTS}")


def test_one_version_everywhere() -> None:
    release = declared_release()
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", release)
    assert muse.__version__ == release
    assert muse.library_version() == release
    assert importlib.metadata.version("muse-scorer") == release


def test_installed_as_muse_scorer_imported_as_muse() -> None:
    top_level = importlib.metadata.distribution("muse-scorer").read_text("top_level.txt") or ""
    assert top_level.split() == ["muse"]
