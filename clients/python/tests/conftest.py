"""A real mused (and musectl) for the Python client's tests.

mused comes from MUSE_MUSED, musectl from MUSE_MUSECTL, else each from the
repository's `swift build` output (.build/debug). MUSE_TEST_INSTALLED_IN
names the environment the package under test must be imported from
(tools/test.sh). Without a snapshot, mused's built-in generation answers logistic(sum of features) for the intents
card-not-present (16 features f0..f15) and card-present (8). The model
fixtures come from MUSE_FIXTURES, else the repository's
Tests/MuseScoringTests/Fixtures/models.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[3]

# tools/test.sh tests an installed package, not this source tree: it names
# the environment the package must be imported from.
if os.environ.get("MUSE_TEST_INSTALLED_IN"):
    import muse

    _prefix = Path(os.environ["MUSE_TEST_INSTALLED_IN"]).resolve()
    if _prefix not in Path(muse.__file__).resolve().parents:
        raise pytest.UsageError(f"muse is imported from {muse.__file__}, not from the install in {_prefix}")


def _built(tool: str, variable: str) -> str:
    path = os.environ.get(variable) or str(REPO / ".build" / "debug" / tool)
    if not os.access(path, os.X_OK):
        pytest.skip(f"no {tool} at {path}: run `swift build --product {tool}` first or set {variable}")
    return path


def mused_path() -> str:
    return _built("mused", "MUSE_MUSED")


@pytest.fixture
def musectl() -> str:
    return _built("musectl", "MUSE_MUSECTL")


@pytest.fixture
def fixtures() -> Path:
    path = Path(os.environ.get("MUSE_FIXTURES") or REPO / "Tests" / "MuseScoringTests" / "Fixtures" / "models")
    if not (path / "deep.lgb.txt").is_file():
        pytest.skip(f"no model fixtures in {path}: set MUSE_FIXTURES")
    return path


class Daemon:
    def __init__(self, tenants: list[str], snapshot: str | None = None) -> None:
        self.runtime_dir = tempfile.mkdtemp(prefix="muse-py-")
        os.chmod(self.runtime_dir, 0o755)
        self.state_dir = self.runtime_dir + ".state"
        args = [mused_path(), "--runtime-dir", self.runtime_dir, "--state-dir", self.state_dir]
        if snapshot is not None:
            args += ["--snapshot", snapshot]
        for tenant in tenants:
            args += ["--tenant", tenant]
        self.log = open(os.path.join(self.runtime_dir, "mused.log"), "w+")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            self.log.seek(0)
            if "event=serving" in self.log.read():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("mused did not start")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    d = Daemon(["py::4:64", "solo::1:16"])
    yield d
    d.stop()
