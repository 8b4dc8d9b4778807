"""Python client of the Muse scorer sidecar.

Events go to mused through the tenant's shared-memory segment (muse.h, ABI
1.1); nothing is serialised and no system call is made while both sides are
busy. The C calls release the GIL.

    with muse.Client("acme") as client:
        intent = client.intent("card-not-present")
        with client.channel() as ch:
            print(ch.score(intent, {"amount": 42.0}).score)

Thread safety: a Client may be shared by threads (claiming channels, looking
intents up); a Channel belongs to one thread at a time. After fork() a child
must not use channels inherited from its parent (they raise MuseError with
Status.FORKED); it may claim new ones.
"""
from __future__ import annotations

import enum
import itertools
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple, Optional, Union

import numpy as np
import numpy.typing as npt

from ._muse import ffi, lib
from ._version import __version__

__all__ = ["Client", "Channel", "Intent", "Completion", "Completions", "MuseError", "Status", "ABI_VERSION",
           "DEFAULT_RUNTIME_DIR", "library_version", "__version__"]

ABI_VERSION = (lib.MUSE_ABI_MAJOR, lib.MUSE_ABI_MINOR)
DEFAULT_RUNTIME_DIR = "/run/muse"
_ALIVE_AGE = lib.MUSE_ALIVE_AGE_NS / 1e9


def library_version() -> str:
    """muse.h's muse_version() as compiled into this package's extension: the
    release of the client code that talks to mused. Equal to __version__
    (both come from the muse.h the package was built from)."""
    return str(ffi.string(lib.muse_version()).decode())


class Status(enum.IntEnum):
    """muse.h's muse_status: 0..63 in completions, 64+ from calls."""

    OK = 0
    UNKNOWN_INTENT = 1
    FEATURE_COUNT = 2
    NO_ROUTE = 3
    OVERLOADED = 4
    NOT_SERVING = 5
    INTERNAL = 6
    BAD_SCORE = 7
    AGAIN = 64
    TIMEDOUT = 65
    INVALID = 66
    NO_CHANNEL = 67
    ABI = 68
    SYSTEM = 69
    NOT_READY = 70
    CORRUPT = 71
    DAEMON_GONE = 72
    FORKED = 73
    NO_SCHEMA = 74
    UNKNOWN_FEATURE = 75
    SCHEMA_MISMATCH = 76

    @property
    def message(self) -> str:
        return ffi.string(lib.muse_strerror(int(self))).decode()


_STATUSES = {int(s): s for s in Status}


def _status(code: int) -> Union[Status, int]:
    return _STATUSES.get(code, code)


class MuseError(Exception):
    """A muse.h call failed; `status` says how (and `errno` for Status.SYSTEM)."""

    def __init__(self, status: int, what: str, errno: Optional[int] = None) -> None:
        self.status = _status(status)
        self.errno = errno
        text = ffi.string(lib.muse_strerror(int(status))).decode()
        if status == Status.SYSTEM and errno:
            import os
            text = f"{text}: {os.strerror(errno)}"
        super().__init__(f"{what}: {text}")


def _check(status: int, what: str) -> None:
    if status != 0:
        raise MuseError(status, what, ffi.errno if status == Status.SYSTEM else None)


class Completion(NamedTuple):
    """mused's answer to one event. `score` is on the reference scale and
    finite when status is OK; NaN otherwise."""

    tag: int
    status: Union[Status, int]
    score: float
    raw_score: float
    generation_id: int
    predictor_id: int

    @property
    def ok(self) -> bool:
        return self.status == Status.OK


class Completions(NamedTuple):
    """Many answers as NumPy arrays (one element per event)."""

    tags: npt.NDArray[np.uint64]
    statuses: npt.NDArray[np.int32]
    scores: npt.NDArray[np.float64]
    raw_scores: npt.NDArray[np.float64]

    def __len__(self) -> int:  # type: ignore[override]
        return len(self.tags)


_new_completion = tuple.__new__


def _completion(c: "ffi.CData") -> Completion:
    return _new_completion(Completion, (c.tag, _STATUSES.get(c.status, c.status), c.score, c.raw_score,
                                        c.generation_id, c.predictor_id))


class Intent:
    """An intent of the tenant: its id, feature count, schema hash and
    ordered feature names (empty tuple for a segment made by an ABI 1.0
    mused, which carries none)."""

    __slots__ = ("name", "id", "feature_count", "schema_hash", "feature_names", "_index")

    def __init__(self, name: str, id: int, feature_count: int, schema_hash: int, feature_names: Sequence[str]):
        self.name = name
        self.id = id
        self.feature_count = feature_count
        self.schema_hash = schema_hash
        self.feature_names = tuple(feature_names)
        self._index = {n: i for i, n in enumerate(self.feature_names)}

    def __repr__(self) -> str:
        return f"Intent({self.name!r}, id={self.id}, features={self.feature_count})"

    def index(self, feature: str) -> int:
        """Position of a feature in the event's vector; KeyError if unknown."""
        try:
            return self._index[feature]
        except KeyError:
            if not self.feature_names:
                raise MuseError(Status.NO_SCHEMA, f"feature {feature!r}") from None
            raise KeyError(f"intent {self.name!r} has no feature {feature!r}") from None

    def vector(self, features: Union[Mapping[str, float], Sequence[float], npt.ArrayLike]) -> npt.NDArray[np.float64]:
        """A float64 feature vector: from a dict by name (absent features are
        NaN, i.e. missing; unknown names raise KeyError) or from a sequence or
        array already in the intent's order."""
        if isinstance(features, Mapping):
            out = np.full(self.feature_count, math.nan)
            for name, value in features.items():
                out[self.index(name)] = value
            return out
        out = np.ascontiguousarray(features, dtype=np.float64)
        if out.shape != (self.feature_count,):
            raise ValueError(f"intent {self.name!r} takes {self.feature_count} features, got shape {out.shape}")
        return out

    def matrix(self, rows: Union[npt.ArrayLike, Iterable[Mapping[str, float]]]) -> npt.NDArray[np.float64]:
        """A C-contiguous (n, feature_count) float64 array from an array or
        from dicts by name."""
        if isinstance(rows, np.ndarray):
            out = np.ascontiguousarray(rows, dtype=np.float64)
        else:
            rows = list(rows)  # type: ignore[arg-type]
            if rows and isinstance(rows[0], Mapping):
                out = np.full((len(rows), self.feature_count), math.nan)
                for r, row in enumerate(rows):
                    for name, value in row.items():
                        out[r, self.index(name)] = value
            else:
                out = np.ascontiguousarray(rows, dtype=np.float64)
        if out.ndim != 2 or out.shape[1] != self.feature_count:
            raise ValueError(f"intent {self.name!r} takes rows of {self.feature_count} features, got {out.shape}")
        return out

    def check(self, feature_names: Sequence[str]) -> None:
        """Raises MuseError(SCHEMA_MISMATCH) unless these are the intent's
        features in its order (checked against the schema hash)."""
        names = [ffi.new("char[]", n.encode()) for n in feature_names]
        array = ffi.new("const char *[]", names)
        if len(names) != self.feature_count or lib.muse_schema_hash(array, len(names)) != self.schema_hash:
            raise MuseError(Status.SCHEMA_MISMATCH, f"intent {self.name!r}")


class Client:
    """An open tenant segment. Thread-safe: channels may be claimed and
    intents looked up from any thread. Close it (or use `with`) after its
    channels."""

    def __init__(self, tenant: Optional[str] = None, runtime_dir: Optional[str] = None, *,
                 path: Optional[str] = None) -> None:
        self._raw = ffi.new("muse_client *")
        self._lock = threading.Lock()
        self._channels: "set[Channel]" = set()
        if path is not None:
            status = lib.muse_open(self._raw, path.encode())
            what = f"open {path}"
        elif tenant is not None:
            status = lib.muse_open_tenant(self._raw, (runtime_dir or DEFAULT_RUNTIME_DIR).encode(), tenant.encode())
            what = f"open tenant {tenant!r} in {runtime_dir or DEFAULT_RUNTIME_DIR}"
        else:
            raise ValueError("give a tenant name or a path")
        _check(status, what)
        self._open = True

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_open", False):
            self.close()

    def close(self) -> None:
        """Releases channels still claimed, then unmaps the segment."""
        with self._lock:
            if not self._open:
                return
            for channel in list(self._channels):
                channel._forget()
            self._channels.clear()
            lib.muse_close(self._raw)
            self._open = False

    def _require_open(self) -> None:
        if not self._open:
            raise MuseError(Status.INVALID, "client is closed")

    @property
    def ring_depth(self) -> int:
        return lib.muse_py_ring_depth(self._raw)

    @property
    def channel_count(self) -> int:
        return lib.muse_py_channel_count(self._raw)

    @property
    def max_features(self) -> int:
        return lib.muse_py_max_features(self._raw)

    @property
    def incarnation(self) -> int:
        """Changes each time a (re)started mused adopts the segment."""
        self._require_open()
        return lib.muse_incarnation(self._raw)

    def daemon_alive(self, max_age: float = _ALIVE_AGE) -> bool:
        """True if mused serves and beat within `max_age` seconds (1 s by default)."""
        self._require_open()
        return bool(lib.muse_daemon_alive(self._raw, int(max_age * 1e9)))

    def intent(self, name: str) -> Intent:
        """Looks an intent up by name, with its feature names if the segment has them."""
        self._require_open()
        info = ffi.new("muse_intent_info *")
        length = ffi.new("size_t *")
        status = lib.muse_intent_features(self._raw, name.encode(), ffi.NULL, 0, length, info)
        if status == Status.NO_SCHEMA:
            _check(lib.muse_lookup_intent(self._raw, name.encode(), info), f"intent {name!r}")
            return Intent(name, info.id, info.feature_count, info.schema_hash, ())
        for _ in range(100):
            if status not in (Status.AGAIN, Status.OK):
                break
            buffer = ffi.new("char[]", length[0] + 1)
            status = lib.muse_intent_features(self._raw, name.encode(), buffer, length[0] + 1, length, info)
            if status == Status.OK:
                text = ffi.string(buffer, length[0]).decode()
                names = text.split("\n") if info.feature_count else []
                return Intent(name, info.id, info.feature_count, info.schema_hash, names)
        _check(status, f"intent {name!r}")
        raise AssertionError("unreachable")

    def channel(self) -> "Channel":
        """Claims a free channel (MuseError with Status.NO_CHANNEL if none)."""
        self._require_open()
        channel = Channel(self)
        with self._lock:
            self._channels.add(channel)
        return channel


class Channel:
    """A claimed channel: a submission ring and a completion ring. One thread
    at a time. Holds at most 2 x ring depth events in flight."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._raw = ffi.new("muse_channel *")
        _check(lib.muse_claim(client._raw, self._raw), "claim")
        self._claimed = True
        self._tags = itertools.count(1 << 62)
        self._one = ffi.new("muse_completion *")
        self._last_array: Optional[npt.NDArray[np.float64]] = None
        self._last_buffer = ffi.NULL
        self._buffer = ffi.new("muse_completion[]", 256)
        self._count = ffi.new("size_t *")

    def __enter__(self) -> "Channel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        client = getattr(self, "_client", None)
        if getattr(self, "_claimed", False) and client is not None and client._open:
            self.release()

    @property
    def index(self) -> int:
        return self._raw.index

    def _forget(self) -> None:
        if self._claimed:
            lib.muse_release(self._raw)
            self._claimed = False

    def release(self) -> None:
        """Gives the channel back; unread answers are dropped."""
        with self._client._lock:
            self._forget()
            self._client._channels.discard(self)

    @staticmethod
    def _features(intent: Intent, features: Union[Mapping[str, float], Sequence[float], npt.ArrayLike]
                  ) -> npt.NDArray[np.float64]:
        if isinstance(features, np.ndarray) and features.dtype == np.float64 and features.flags.c_contiguous \
                and features.shape == (intent.feature_count,):
            return features
        return intent.vector(features)

    def submit(self, intent: Intent, features: Union[Mapping[str, float], Sequence[float], npt.ArrayLike],
               tag: int) -> bool:
        """Submits one event; False if the ring is full (read answers, retry)."""
        x = self._features(intent, features)
        status = lib.muse_submit(self._raw, tag, intent.id, ffi.from_buffer("double[]", x), intent.feature_count)
        if status == Status.AGAIN:
            return False
        _check(status, "submit")
        return True

    def prepare(self) -> None:
        """Tells mused an event is coming (muse.h's muse_prepare).

        Call it when a request arrives, before computing its features: a
        worker asleep wakes meanwhile and is awake when the event is
        submitted, and the slot the event goes to is fetched into the cache.
        Costs one look at a flag and a prefetch while mused is awake, one
        futex wake when it sleeps; harmless whatever mused does.
        """
        _check(lib.muse_prepare(self._raw), "prepare")

    def poll(self, max: int = 256) -> list[Completion]:
        """Answers waiting now (never blocks)."""
        n = lib.muse_poll(self._raw, self._buffer, min(max, 256))
        return [_completion(self._buffer[i]) for i in range(n)]

    _IDLE_POLICIES = {"adaptive": 0, "busy-spin": 1, "low-power": 2}

    def wait(self, timeout: Optional[float] = None, max: int = 256, idle: str = "adaptive") -> list[Completion]:
        """Waits for at least one answer; [] on timeout. timeout None waits
        until mused answers or is gone (MuseError with Status.DAEMON_GONE).
        idle: how the thread waits (muse.h's muse_wait_idle): "adaptive"
        (spin 50 µs, then sleep on a futex), "busy-spin" (never sleep; holds
        the GIL and a core) or "low-power" (sleep at once)."""
        if idle not in self._IDLE_POLICIES:
            raise ValueError(f"idle must be one of {', '.join(self._IDLE_POLICIES)}, got {idle!r}")
        ns = -1 if timeout is None else int(timeout * 1e9)
        status = lib.muse_wait_idle(self._raw, self._buffer, min(max, 256), self._count, ns,
                                    self._IDLE_POLICIES[idle])
        if status == Status.TIMEDOUT:
            return []
        _check(status, "wait")
        return [_completion(self._buffer[i]) for i in range(self._count[0])]

    def score(self, intent: Intent, features: Union[Mapping[str, float], Sequence[float], npt.ArrayLike],
              timeout: Optional[float] = 1.0) -> Completion:
        """One event there and back (one call into C). Raises MuseError on a
        timeout (Status.TIMEDOUT) or if mused is gone; the completion's own
        status may still be an error (check `.ok`)."""
        if features is self._last_array:
            # The same array again (refilled in place, the fast way to call
            # this in a loop): its buffer is still valid, we hold a reference.
            buffer = self._last_buffer
        else:
            x = self._features(intent, features)
            buffer = ffi.from_buffer("double[]", x)
            if x is features:
                self._last_array, self._last_buffer = x, buffer
        if len(buffer) != intent.feature_count:
            raise ValueError(f"intent {intent.name!r} takes {intent.feature_count} features")
        status = lib.muse_py_roundtrip(self._raw, next(self._tags), intent.id, buffer, intent.feature_count,
                                       -1 if timeout is None else int(timeout * 1e9), self._one)
        if status:
            _check(status, "score")
        return _completion(self._one)

    def submit_batch(self, intent: Intent, rows: npt.ArrayLike, tags: Optional[npt.ArrayLike] = None,
                     first_tag: int = 0) -> int:
        """Submits rows of an (n, feature_count) array with one publication per
        256; returns how many were taken (fewer when the ring fills). Tags are
        `tags[i]`, or `first_tag + i`."""
        matrix = intent.matrix(rows)
        tag_array = None
        if tags is not None:
            tag_array = np.ascontiguousarray(tags, dtype=np.uint64)
            if tag_array.shape != (len(matrix),):
                raise ValueError("one tag per row")
        accepted = ffi.new("size_t *")
        status = lib.muse_py_submit_rows(
            self._raw, intent.id, ffi.from_buffer("double[]", matrix), len(matrix), intent.feature_count,
            ffi.from_buffer("uint64_t[]", tag_array) if tag_array is not None else ffi.NULL, first_tag, accepted)
        if status not in (Status.OK, Status.AGAIN):
            _check(status, f"submit_batch (row {accepted[0]})")
        return accepted[0]

    def poll_batch(self, max: int = 4096) -> Completions:
        """Answers waiting now, as NumPy arrays (never blocks)."""
        tags = np.empty(max, dtype=np.uint64)
        statuses = np.empty(max, dtype=np.int32)
        scores = np.empty(max, dtype=np.float64)
        raws = np.empty(max, dtype=np.float64)
        n = lib.muse_py_poll_arrays(self._raw, ffi.from_buffer("uint64_t[]", tags),
                                    ffi.from_buffer("int32_t[]", statuses), ffi.from_buffer("double[]", scores),
                                    ffi.from_buffer("double[]", raws), max)
        return Completions(tags[:n], statuses[:n], scores[:n], raws[:n])

    def score_batch(self, intent: Intent, rows: npt.ArrayLike, timeout: Optional[float] = 1.0,
                    first_tag: Optional[int] = None) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]:
        """Scores every row (keeping both rings full, all in C) and returns
        (statuses, scores) in row order. `timeout` bounds a wait without
        progress (None: until mused is gone)."""
        matrix = intent.matrix(rows)
        n = len(matrix)
        statuses = np.full(n, -1, dtype=np.int32)
        scores = np.full(n, math.nan)
        start = next(self._tags) if first_tag is None else first_tag
        if first_tag is None:
            self._tags = itertools.count(start + n + 1)
        answered = ffi.new("size_t *")
        ns = -1 if timeout is None else int(timeout * 1e9)
        status = lib.muse_py_score_rows(self._raw, intent.id, ffi.from_buffer("double[]", matrix), n,
                                        intent.feature_count, start, ffi.from_buffer("int32_t[]", statuses),
                                        ffi.from_buffer("double[]", scores), ns, answered)
        _check(status, f"score_batch ({answered[0]} of {n} answered)")
        return statuses, scores
