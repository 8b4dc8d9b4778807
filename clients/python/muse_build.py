"""cffi API-mode build of muse._muse: muse.h plus a few batch helpers."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

from cffi import FFI


HERE = Path(__file__).resolve().parent
# An sdist carries the muse.h it was made from here (setup.py's sdist puts
# it there); a checkout has no such directory.
VENDORED_INCLUDE = HERE / "include"
REPOSITORY_INCLUDE = HERE.parent.parent / "Sources" / "CMuse" / "include"


def _candidates() -> list[Path]:
    # The sdist's own copy wins, so what it builds is the release it names.
    candidates = [VENDORED_INCLUDE]
    if HERE.parent.name == "clients":
        candidates.append(REPOSITORY_INCLUDE)
    if os.environ.get("MUSE_INCLUDE"):
        candidates.append(Path(os.environ["MUSE_INCLUDE"]))
    try:
        flags = subprocess.run(["pkg-config", "--cflags-only-I", "muse"], capture_output=True, text=True,
                               check=True).stdout
        candidates += [Path(f[2:]) for f in shlex.split(flags) if f.startswith("-I")]
    except (OSError, subprocess.CalledProcessError):
        pass
    return candidates + [Path("/usr/local/include"), Path("/usr/include")]


def header_dir() -> Path:
    """The directory whose muse.h this build compiles: the sdist's copy, else
    the repository's Sources/CMuse/include, else MUSE_INCLUDE, pkg-config's
    muse, /usr/local/include, /usr/include."""
    for directory in _candidates():
        if (directory / "muse.h").is_file():
            return directory
    raise RuntimeError("muse.h not found: build from the Muse repository or its sdist, set MUSE_INCLUDE, "
                       "or install the header with tools/install.sh")


def header_version(directory: Path) -> str:
    """The release the header declares (MUSE_VERSION_STRING): the package's version."""
    text = (directory / "muse.h").read_text()
    match = re.search(r'^#define MUSE_VERSION_STRING "([0-9]+\.[0-9]+\.[0-9]+)"', text, re.MULTILINE)
    if not match:
        raise RuntimeError(f"{directory / 'muse.h'} declares no MUSE_VERSION_STRING (muse.h 1.3 or newer is needed)")
    return match.group(1)


CDEF = """
typedef enum { MUSE_OK = 0, ... } muse_status;
#define MUSE_ABI_MAJOR ...
#define MUSE_ABI_MINOR ...
#define MUSE_ALIVE_AGE_NS ...

typedef struct { ...; } muse_client;
typedef struct { uint32_t index; ...; } muse_channel;
typedef struct { uint32_t id; uint32_t feature_count; uint64_t schema_hash; } muse_intent_info;
typedef struct {
    uint64_t tag; int32_t status; uint32_t predictor_id; double score; double raw_score;
    uint64_t generation_id; ...;
} muse_completion;

const char *muse_version(void);
const char *muse_strerror(int32_t status);
muse_status muse_open(muse_client *client, const char *segment_path);
muse_status muse_open_tenant(muse_client *client, const char *runtime_dir, const char *tenant);
void muse_close(muse_client *client);
muse_status muse_claim(muse_client *client, muse_channel *channel);
void muse_release(muse_channel *channel);
muse_status muse_lookup_intent(const muse_client *client, const char *name, muse_intent_info *out);
muse_status muse_intent_features(const muse_client *client, const char *intent, char *names, size_t capacity,
                                 size_t *length, muse_intent_info *info);
muse_status muse_submit(muse_channel *ch, uint64_t tag, uint32_t intent_id, const double *features,
                        uint32_t feature_count);
muse_status muse_prepare(muse_channel *ch);
size_t muse_poll(muse_channel *ch, muse_completion *out, size_t max);
muse_status muse_wait(muse_channel *ch, muse_completion *out, size_t max, size_t *count, int64_t timeout_ns);
typedef enum { MUSE_IDLE_ADAPTIVE = 0, MUSE_IDLE_BUSY_SPIN = 1, MUSE_IDLE_LOW_POWER = 2 } muse_idle_policy;
muse_status muse_wait_idle(muse_channel *ch, muse_completion *out, size_t max, size_t *count, int64_t timeout_ns,
                           muse_idle_policy policy);
uint64_t muse_incarnation(const muse_client *client);
int muse_daemon_alive(const muse_client *client, uint64_t max_age_ns);
uint64_t muse_schema_hash(const char *const *names, size_t count);

uint32_t muse_py_ring_depth(const muse_client *client);
uint32_t muse_py_channel_count(const muse_client *client);
uint32_t muse_py_max_features(const muse_client *client);
muse_status muse_py_roundtrip(muse_channel *ch, uint64_t tag, uint32_t intent_id, const double *features,
                              uint32_t feature_count, int64_t timeout_ns, muse_completion *out);
muse_status muse_py_submit_rows(muse_channel *ch, uint32_t intent_id, const double *rows, size_t n_rows,
                                uint32_t n_features, const uint64_t *tags, uint64_t first_tag, size_t *accepted);
size_t muse_py_poll_arrays(muse_channel *ch, uint64_t *tags, int32_t *statuses, double *scores,
                           double *raw_scores, size_t max);
muse_status muse_py_score_rows(muse_channel *ch, uint32_t intent_id, const double *rows, size_t n_rows,
                               uint32_t n_features, uint64_t first_tag, int32_t *statuses, double *scores,
                               int64_t timeout_ns, size_t *answered);
"""

SOURCE = r"""
#include "muse.h"

/* CLOCK_MONOTONIC in nanoseconds, for the deadlines below. */
static uint64_t muse_py_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t muse_py_ring_depth(const muse_client *c) { return c->ring_depth; }
static uint32_t muse_py_channel_count(const muse_client *c) { return c->channel_count; }
static uint32_t muse_py_max_features(const muse_client *c) { return c->max_features; }

/* One event there and back in one call from Python: submit, then wait for
 * the answer with this tag (answers to abandoned tags are skipped). */
static muse_status muse_py_roundtrip(muse_channel *ch, uint64_t tag, uint32_t intent_id, const double *features,
                                     uint32_t feature_count, int64_t timeout_ns, muse_completion *out) {
    muse_status s;
    uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : muse_py_now_ns() + (uint64_t)timeout_ns;
    while ((s = muse_submit(ch, tag, intent_id, features, feature_count)) == MUSE_E_AGAIN) {
        muse_completion drop[64];
        size_t n;
        /* The ring is full of abandoned events: read their answers away. */
        s = muse_wait(ch, drop, 64, &n, timeout_ns < 0 ? -1 : (int64_t)(deadline > muse_py_now_ns() ? deadline - muse_py_now_ns() : 0));
        if (s != MUSE_OK) return s;
    }
    if (s != MUSE_OK) return s;
    for (;;) {
        size_t n;
        int64_t left = -1;
        if (deadline != UINT64_MAX) {
            uint64_t now = muse_py_now_ns();
            left = now >= deadline ? 0 : (int64_t)(deadline - now);
        }
        s = muse_wait(ch, out, 1, &n, left);
        if (s != MUSE_OK) return s;
        if (out->tag == tag) return MUSE_OK;
    }
}

/* Rows of a C-contiguous (n_rows x n_features) float64 array, one publication
 * per 256 rows. Tags: tags[i] if given, else first_tag + i. */
static muse_status muse_py_submit_rows(muse_channel *ch, uint32_t intent_id, const double *rows, size_t n_rows,
                                       uint32_t n_features, const uint64_t *tags, uint64_t first_tag,
                                       size_t *accepted) {
    muse_request batch[256];
    size_t done = 0;
    muse_status s = MUSE_OK;
    *accepted = 0;
    while (done < n_rows) {
        size_t k = n_rows - done < 256 ? n_rows - done : 256, got = 0;
        for (size_t i = 0; i < k; i++) {
            batch[i].tag = tags ? tags[done + i] : first_tag + done + i;
            batch[i].intent_id = intent_id;
            batch[i].feature_count = n_features;
            batch[i].features = rows + (done + i) * n_features;
        }
        s = muse_submit_many(ch, batch, k, &got);
        done += got;
        if (s != MUSE_OK) break;
    }
    *accepted = done;
    return s;
}

static size_t muse_py_poll_arrays(muse_channel *ch, uint64_t *tags, int32_t *statuses, double *scores,
                                  double *raw_scores, size_t max) {
    muse_completion buf[256];
    size_t total = 0;
    while (total < max) {
        size_t want = max - total < 256 ? max - total : 256;
        size_t n = muse_poll(ch, buf, want);
        for (size_t i = 0; i < n; i++) {
            if (tags) tags[total + i] = buf[i].tag;
            if (statuses) statuses[total + i] = buf[i].status;
            if (scores) scores[total + i] = buf[i].score;
            if (raw_scores) raw_scores[total + i] = buf[i].raw_score;
        }
        total += n;
        if (n < want) break;
    }
    return total;
}

/* Scores every row: keeps the rings full, places each answer by its tag
 * (first_tag + row). Returns MUSE_OK once all are answered, or the status
 * that stopped it (MUSE_E_TIMEDOUT if timeout_ns passed without progress). */
static muse_status muse_py_score_rows(muse_channel *ch, uint32_t intent_id, const double *rows, size_t n_rows,
                                      uint32_t n_features, uint64_t first_tag, int32_t *statuses, double *scores,
                                      int64_t timeout_ns, size_t *answered) {
    size_t sent = 0, got = 0;
    muse_completion buf[256];
    muse_status s = MUSE_OK;
    *answered = 0;
    while (got < n_rows) {
        if (sent < n_rows) {
            size_t accepted = 0;
            s = muse_py_submit_rows(ch, intent_id, rows + sent * n_features, n_rows - sent, n_features, NULL,
                                    first_tag + sent, &accepted);
            sent += accepted;
            if (s != MUSE_OK && s != MUSE_E_AGAIN) break;
        }
        size_t n = muse_poll(ch, buf, 256);
        if (n == 0) {
            s = muse_wait(ch, buf, 256, &n, timeout_ns);
            if (s != MUSE_OK) break;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t row = buf[i].tag - first_tag;
            if (row >= n_rows) continue; /* an abandoned event's answer */
            statuses[row] = buf[i].status;
            scores[row] = buf[i].score;
            got++;
        }
        s = MUSE_OK;
    }
    *answered = got;
    return s;
}
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source("muse._muse", SOURCE, include_dirs=[str(header_dir())], define_macros=[("_GNU_SOURCE", "1")],
                      extra_compile_args=["-O2", "-std=gnu11"])

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
