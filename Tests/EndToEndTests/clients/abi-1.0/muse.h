/*
 * muse.h — the Muse shared-memory ABI and client API (ABI 1.0).
 *
 * Muse is a scorer sidecar: one daemon, mused, scores events for many tenants
 * on a host. A tenant's processes talk to it through one shared-memory file,
 * the tenant's *segment*, and nothing else: no socket, no system call on the
 * fast path. This header is the whole contract. It is header-only (every
 * function is static inline), C11 and C++ compatible, Linux only.
 *
 * QUICK START
 *
 *     muse_client client;
 *     muse_channel ch;
 *     muse_intent_info intent;
 *     if (muse_open_tenant(&client, NULL, "acme") != MUSE_OK) ...      // errno says why
 *     if (muse_claim(&client, &ch) != MUSE_OK) ...                    // one channel per thread
 *     if (muse_lookup_intent(&client, "card-not-present", &intent) != MUSE_OK) ...
 *     double x[16] = {...};
 *     while (muse_submit(&ch, 42, intent.id, x, 16) == MUSE_E_AGAIN)
 *         ... ring full: read completions, then retry ...
 *     muse_completion done[8]; size_t n;
 *     if (muse_wait(&ch, done, 8, &n, 1000000) == MUSE_OK)            // up to 1 ms
 *         for (size_t i = 0; i < n; i++) use(done[i].tag, done[i].status, done[i].score);
 *     muse_release(&ch);
 *     muse_close(&client);
 *
 * THE SEGMENT
 *
 * One file per tenant, <runtime dir>/<tenant>.muse (default /run/muse),
 * created by the daemon with mode 0660 and the tenant's group, so only the
 * tenant's processes can open it. Layout (all offsets from the start; every
 * number is little-endian, fixed width; there are no pointers, only offsets):
 *
 *     0                   muse_segment_header           MUSE_HEADER_SIZE bytes
 *     channels_offset     channel 0: muse_channel_control, then
 *                             submission ring: ring_depth slots of submission_slot_size
 *                             completion ring: ring_depth muse_completion records
 *     + channel_stride    channel 1 ...
 *
 * A channel is a pair of single-producer single-consumer rings. The client
 * produces submissions and consumes completions; the daemon consumes
 * submissions and produces completions. Ring indices are 64-bit counters that
 * only grow (slot = index & (ring_depth - 1)); each lives on its own
 * MUSE_LINE_SIZE line so producer and consumer never share a cache line.
 *
 * MEMORY ORDER. Every field says who writes it. A field written by one side
 * and read by the other is accessed only through the muse_atomic_* helpers
 * below: an index is stored with release order after the slots it covers are
 * written, and loaded with acquire order before those slots are read. The
 * "sleeping" flags pair with sequentially consistent fences (see WAKE-UPS).
 *
 * CLAIMING A CHANNEL. A client takes an open-file-description lock (Linux
 * F_OFD_SETLK) on the first byte of the channel's control block, then moves
 * `state` from FREE to CLAIMED. The kernel drops the lock when the process
 * dies, however it dies, and OFD locks do not care about PID namespaces. The
 * daemon regularly tries the same lock on every claimed channel: if it gets
 * it, the owner is gone, and the daemon resets the channel to FREE (events it
 * had not answered are dropped, as nobody is left to read them).
 *
 * WAKE-UPS. Both sides spin briefly, then sleep on a futex (a shared 32-bit
 * word). Before sleeping, a side sets its "sleeping" flag, issues a seq_cst
 * fence, and checks its ring once more; after publishing, the other side
 * issues a seq_cst fence and makes the futex system call only if the flag is
 * set. So while both sides are busy, no system call is made at all.
 *
 * TRUST. The daemon treats every byte of the segment as written by an
 * adversary: it keeps its own copy of the layout and of the indices it owns,
 * reads each client field once, bounds-checks it, and answers a malformed
 * event with a status in its completion. A client can damage only its own
 * tenant's segment; one that truncates the segment file loses its tenant's
 * service until the operator recreates the file.
 *
 * RESTARTS. The segment outlives the daemon. A restarted daemon adopts it,
 * increments `incarnation`, and answers whatever was submitted while it was
 * down: the daemon keeps sq_head == cq_tail (one completion per submission, in
 * order), so nothing is answered twice or lost. Clients need not notice; a
 * client that wants to can watch `incarnation` and `heartbeat_ns`.
 *
 * VERSIONING. A client refuses a segment whose magic differs or whose
 * abi_major is not MUSE_ABI_MAJOR. Minor versions only add: fields carved out
 * of reserved space (which the daemon zeroes) and new status codes.
 */
#ifndef MUSE_H
#define MUSE_H

/* F_OFD_SETLK and syscall() need _GNU_SOURCE, which must be set before the
 * first system header. */
#if !defined(_GNU_SOURCE)
#  if defined(__GLIBC__)
#    error "muse.h: include muse.h before any system header, or compile with -D_GNU_SOURCE"
#  endif
#  define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#  define MUSE_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#  define MUSE_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* ------------------------------------------------------------------------ */
/* Constants                                                                 */
/* ------------------------------------------------------------------------ */

/** "MUSE-SHM" read as a little-endian 64-bit integer. */
#define MUSE_MAGIC 0x4D48532D4553554DULL
#define MUSE_ABI_MAJOR 1
#define MUSE_ABI_MINOR 0

/** Size of the segment header; channel 0 starts at or after it. */
#define MUSE_HEADER_SIZE 4096u
/** Alignment of every field written by one side and read by the other. Two
 *  cache lines, because adjacent-line prefetchers pull lines in pairs. */
#define MUSE_LINE_SIZE 128u
/** Bytes of the channel control block that precedes each channel's rings. */
#define MUSE_CHANNEL_CONTROL_SIZE 768u
/** Intents a segment can describe. */
#define MUSE_MAX_INTENTS 48u
/** Longest intent name, including its terminating NUL. */
#define MUSE_INTENT_NAME_SIZE 48u
/** Longest tenant name, including its terminating NUL. */
#define MUSE_TENANT_NAME_SIZE 64u
/** Where mused puts segments unless configured otherwise. */
#define MUSE_DEFAULT_RUNTIME_DIR "/run/muse"
/** Segment file name suffix: <runtime dir>/<tenant>.muse */
#define MUSE_SEGMENT_SUFFIX ".muse"
/** How long muse_wait spins before it sleeps on the futex, in nanoseconds. */
#define MUSE_SPIN_NS 50000

/** Channel states (muse_channel_control.state). */
enum {
    MUSE_CHANNEL_FREE = 0,     /* nobody holds it; a client may claim it */
    MUSE_CHANNEL_CLAIMED = 1,  /* a live client holds its OFD lock */
    MUSE_CHANNEL_RELEASED = 2  /* its client let go; the daemon will free it */
};

/** Daemon states (muse_segment_header.daemon_state). */
enum {
    MUSE_DAEMON_STARTING = 0,  /* segment exists; no generation serves yet */
    MUSE_DAEMON_SERVING = 1,   /* events are being answered */
    MUSE_DAEMON_STOPPED = 2    /* the daemon exited cleanly; events wait for the next one */
};

/**
 * Status codes. 0..63 appear in completions (the daemon's verdict on one
 * event); 64 and above are returned by the functions of this header.
 */
typedef enum muse_status {
    MUSE_OK = 0,
    /* In completions. */
    MUSE_E_UNKNOWN_INTENT = 1,  /* intent_id names no intent of this tenant */
    MUSE_E_FEATURE_COUNT = 2,   /* feature_count differs from the intent's */
    MUSE_E_NO_ROUTE = 3,        /* the serving generation routes this intent nowhere */
    MUSE_E_OVERLOADED = 4,      /* the tenant is over its rate limit; retry later */
    MUSE_E_NOT_SERVING = 5,     /* no model generation is loaded */
    MUSE_E_INTERNAL = 6,        /* the daemon failed to score this event */
    /* Returned by functions. */
    MUSE_E_AGAIN = 64,          /* ring full (backpressure) or nothing to read */
    MUSE_E_TIMEDOUT = 65,       /* muse_wait's timeout passed with nothing to read */
    MUSE_E_INVALID = 66,        /* a bad argument (too many features, NULL, ...) */
    MUSE_E_NO_CHANNEL = 67,     /* every channel of the segment is claimed */
    MUSE_E_ABI = 68,            /* not a Muse segment, or an incompatible ABI major */
    MUSE_E_SYSTEM = 69,         /* a system call failed; errno says which way */
    MUSE_E_NOT_READY = 70,      /* the segment is still being created */
    MUSE_E_CORRUPT = 71         /* the channel's indices are inconsistent */
} muse_status;

/** A human-readable description of a status code. */
static inline const char *muse_strerror(muse_status status) {
    switch (status) {
    case MUSE_OK: return "ok";
    case MUSE_E_UNKNOWN_INTENT: return "unknown intent id";
    case MUSE_E_FEATURE_COUNT: return "feature count does not match the intent";
    case MUSE_E_NO_ROUTE: return "no predictor is routed for this intent";
    case MUSE_E_OVERLOADED: return "tenant over its rate limit";
    case MUSE_E_NOT_SERVING: return "no model generation is serving";
    case MUSE_E_INTERNAL: return "internal scoring error";
    case MUSE_E_AGAIN: return "ring full or empty; try again";
    case MUSE_E_TIMEDOUT: return "timed out";
    case MUSE_E_INVALID: return "invalid argument";
    case MUSE_E_NO_CHANNEL: return "no free channel in the segment";
    case MUSE_E_ABI: return "not a Muse segment of a compatible ABI";
    case MUSE_E_SYSTEM: return "system call failed (see errno)";
    case MUSE_E_NOT_READY: return "segment not initialised yet";
    case MUSE_E_CORRUPT: return "channel indices are corrupt";
    }
    return "unknown status";
}

/* ------------------------------------------------------------------------ */
/* Layout                                                                    */
/* ------------------------------------------------------------------------ */

/** One intent a tenant may submit: written by the daemon under intent_seq. */
typedef struct muse_intent_entry {
    char name[MUSE_INTENT_NAME_SIZE]; /* NUL-terminated, e.g. "card-not-present" */
    uint32_t id;                      /* what muse_event_header.intent_id carries */
    uint32_t feature_count;           /* features every event of this intent carries */
    uint64_t schema_hash;             /* FNV-1a of the feature names, "\n"-joined */
} muse_intent_entry;

/**
 * The first MUSE_HEADER_SIZE bytes of a segment. The daemon writes every
 * field; clients only write daemon_doorbell. The layout fields (magic ..
 * tenant) are written once, before `magic` is stored with release order.
 */
typedef struct muse_segment_header {
    /* Layout: written once at creation. */
    uint64_t magic;                 /* MUSE_MAGIC, stored last (release) */
    uint16_t abi_major;             /* MUSE_ABI_MAJOR */
    uint16_t abi_minor;             /* MUSE_ABI_MINOR */
    uint32_t header_size;           /* MUSE_HEADER_SIZE */
    uint64_t segment_size;          /* bytes in the file */
    uint32_t channel_count;
    uint32_t ring_depth;            /* power of two */
    uint32_t submission_slot_size;  /* bytes per submission slot, multiple of 64 */
    uint32_t completion_slot_size;  /* sizeof(muse_completion) */
    uint32_t max_features;          /* features a submission slot holds */
    uint32_t layout_reserved;
    uint64_t channels_offset;       /* offset of channel 0 */
    uint64_t channel_stride;        /* bytes from one channel to the next */
    char tenant[MUSE_TENANT_NAME_SIZE];
    /* Liveness: daemon writes, release; clients read, acquire. Offset 128. */
    uint64_t incarnation;           /* +1 each time a daemon adopts the segment */
    uint64_t heartbeat_ns;          /* daemon's CLOCK_MONOTONIC, refreshed every ~50 ms */
    uint64_t generation_id;         /* the model generation serving this tenant */
    uint32_t daemon_state;          /* MUSE_DAEMON_* */
    uint32_t daemon_pid;            /* in the daemon's PID namespace; informational */
    uint8_t liveness_reserved[MUSE_LINE_SIZE - 32];
    /* Daemon wake-up. Offset 256. */
    uint32_t daemon_doorbell;       /* futex word: clients add 1 and wake */
    uint32_t daemon_sleeping;       /* daemon writes: bit w set while its worker w may sleep */
    uint8_t doorbell_reserved[MUSE_LINE_SIZE - 8];
    /* Intents. Offset 384. A seqlock: the daemon makes intent_seq odd, rewrites
     * the table, then makes it even (release); readers retry while it is odd
     * or changed. */
    uint32_t intent_seq;
    uint32_t intent_count;
    uint8_t intent_reserved[MUSE_LINE_SIZE - 8];
    muse_intent_entry intents[MUSE_MAX_INTENTS]; /* offset 512 */
    uint8_t tail_reserved[MUSE_HEADER_SIZE - 512 - MUSE_MAX_INTENTS * 64];
} muse_segment_header;

/**
 * The control block at the start of each channel. Each line says who writes.
 */
typedef struct muse_channel_control {
    /* Claim line. */
    uint32_t state;             /* client: FREE->CLAIMED (CAS), ->RELEASED; daemon: ->FREE */
    uint32_t owner_pid;         /* client; its own PID namespace's view; informational */
    uint64_t claims;            /* client: +1 per claim; lets the daemon see a re-claim */
    uint32_t fault;             /* daemon: last muse_status it saw on this channel's indices */
    uint8_t claim_reserved[MUSE_LINE_SIZE - 20];
    /* Submission ring indices. */
    uint64_t sq_tail;           /* client, release: submissions written */
    uint8_t sq_tail_pad[MUSE_LINE_SIZE - 8];
    uint64_t sq_head;           /* daemon, release: submissions read (slots reusable) */
    uint8_t sq_head_pad[MUSE_LINE_SIZE - 8];
    /* Completion ring indices. */
    uint64_t cq_tail;           /* daemon, release: completions written */
    uint8_t cq_tail_pad[MUSE_LINE_SIZE - 8];
    uint64_t cq_head;           /* client, release: completions read (slots reusable) */
    uint8_t cq_head_pad[MUSE_LINE_SIZE - 8];
    /* Client wake-up. */
    uint32_t client_doorbell;   /* futex word: the daemon adds 1 and wakes */
    uint32_t client_sleeping;   /* client: 1 while it may sleep in muse_wait */
    uint8_t wake_reserved[MUSE_LINE_SIZE - 8];
} muse_channel_control;

/**
 * A submission slot starts with this header; feature_count IEEE-754 doubles
 * follow it (muse_event_features). NaN means "missing".
 */
typedef struct muse_event_header {
    uint64_t tag;               /* the client's; echoed in the completion */
    uint32_t intent_id;         /* muse_intent_entry.id */
    uint32_t feature_count;     /* <= max_features, == the intent's feature_count */
} muse_event_header;

/** A completion: the daemon's answer to one submission. 64 bytes. */
typedef struct muse_completion {
    uint64_t tag;               /* the submission's tag */
    int32_t status;             /* muse_status; the scores are NaN unless MUSE_OK */
    uint32_t predictor_id;      /* the predictor that scored it */
    double score;               /* on the reference scale: compare thresholds to this */
    double raw_score;           /* the model's own probability, before the maps */
    uint64_t generation_id;     /* the generation that scored it */
    uint64_t reserved[3];
} muse_completion;

MUSE_STATIC_ASSERT(sizeof(muse_intent_entry) == 64, "intent entry is 64 bytes");
MUSE_STATIC_ASSERT(offsetof(muse_segment_header, tenant) == 64, "tenant at 64");
MUSE_STATIC_ASSERT(offsetof(muse_segment_header, incarnation) == 128, "liveness at 128");
MUSE_STATIC_ASSERT(offsetof(muse_segment_header, daemon_doorbell) == 256, "doorbell at 256");
MUSE_STATIC_ASSERT(offsetof(muse_segment_header, intent_seq) == 384, "intent seqlock at 384");
MUSE_STATIC_ASSERT(offsetof(muse_segment_header, intents) == 512, "intents at 512");
MUSE_STATIC_ASSERT(sizeof(muse_segment_header) == MUSE_HEADER_SIZE, "header size");
MUSE_STATIC_ASSERT(offsetof(muse_channel_control, sq_tail) == 1 * MUSE_LINE_SIZE, "sq_tail line");
MUSE_STATIC_ASSERT(offsetof(muse_channel_control, sq_head) == 2 * MUSE_LINE_SIZE, "sq_head line");
MUSE_STATIC_ASSERT(offsetof(muse_channel_control, cq_tail) == 3 * MUSE_LINE_SIZE, "cq_tail line");
MUSE_STATIC_ASSERT(offsetof(muse_channel_control, cq_head) == 4 * MUSE_LINE_SIZE, "cq_head line");
MUSE_STATIC_ASSERT(offsetof(muse_channel_control, client_doorbell) == 5 * MUSE_LINE_SIZE, "wake line");
MUSE_STATIC_ASSERT(sizeof(muse_channel_control) == MUSE_CHANNEL_CONTROL_SIZE, "control size");
MUSE_STATIC_ASSERT(sizeof(muse_event_header) == 16, "event header is 16 bytes");
MUSE_STATIC_ASSERT(sizeof(muse_completion) == 64, "completion is 64 bytes");
MUSE_STATIC_ASSERT(offsetof(muse_completion, score) == 16, "score at 16");
MUSE_STATIC_ASSERT(sizeof(double) == 8, "IEEE-754 binary64");

/** Bytes of a submission slot for `max_features` features. */
static inline uint32_t muse_submission_slot_size(uint32_t max_features) {
    return (uint32_t)((sizeof(muse_event_header) + 8u * (uint64_t)max_features + 63u) & ~(uint64_t)63u);
}

/** Bytes of one channel: control block, then both rings. */
static inline uint64_t muse_channel_stride(uint32_t ring_depth, uint32_t max_features) {
    uint64_t bytes = MUSE_CHANNEL_CONTROL_SIZE
        + (uint64_t)ring_depth * muse_submission_slot_size(max_features)
        + (uint64_t)ring_depth * sizeof(muse_completion);
    return (bytes + 4095u) & ~(uint64_t)4095u;
}

/** Features of a submission slot. */
static inline double *muse_event_features(muse_event_header *event) {
    return (double *)(void *)((unsigned char *)event + sizeof(muse_event_header));
}

/** FNV-1a over a byte string: the intent schema hash. */
static inline uint64_t muse_fnv1a(const void *bytes, size_t length, uint64_t hash) {
    const unsigned char *p = (const unsigned char *)bytes;
    for (size_t i = 0; i < length; i++) { hash ^= p[i]; hash *= UINT64_C(0x100000001b3); }
    return hash;
}
#define MUSE_FNV1A_SEED 0xcbf29ce484222325ULL

/* ------------------------------------------------------------------------ */
/* Atomics and system calls (shared by the client and the daemon)            */
/* ------------------------------------------------------------------------ */

static inline uint64_t muse_atomic_load_acquire_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline uint64_t muse_atomic_load_relaxed_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void muse_atomic_store_release_u64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline uint32_t muse_atomic_load_acquire_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline uint32_t muse_atomic_load_relaxed_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void muse_atomic_store_release_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline void muse_atomic_store_relaxed_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
static inline uint32_t muse_atomic_add_u32(uint32_t *p, uint32_t v) { return __atomic_add_fetch(p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t muse_atomic_or_u32(uint32_t *p, uint32_t v) { return __atomic_or_fetch(p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t muse_atomic_and_u32(uint32_t *p, uint32_t v) { return __atomic_and_fetch(p, v, __ATOMIC_SEQ_CST); }
static inline int muse_atomic_cas_u32(uint32_t *p, uint32_t expected, uint32_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
static inline void muse_atomic_fence_seq_cst(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

/** A pause for spin loops: lets the sibling hyperthread run. */
static inline void muse_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/** CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t muse_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/** Sleeps while *word == expected, at most timeout_ns (< 0: forever). Shared
 *  (not FUTEX_PRIVATE) because the word lives in a file mapping. */
static inline int muse_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    return (int)syscall(SYS_futex, word, FUTEX_WAIT, expected, tsp, NULL, 0);
}

/** Wakes every sleeper on *word. */
static inline int muse_futex_wake(uint32_t *word) {
    return (int)syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/** Takes (type F_WRLCK) or drops (F_UNLCK) an OFD lock on one byte, without
 *  blocking. Returns 0, or -1 with errno (EAGAIN/EACCES: someone holds it). */
static inline int muse_ofd_lock_byte(int fd, uint64_t offset, short type) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)offset;
    fl.l_len = 1;
    return fcntl(fd, F_OFD_SETLK, &fl);
}

/** Address of channel `index` in a mapped segment whose layout was checked. */
static inline muse_channel_control *muse_channel_at(void *base, uint64_t channels_offset,
                                                     uint64_t channel_stride, uint32_t index) {
    return (muse_channel_control *)(void *)((unsigned char *)base + channels_offset
                                            + (uint64_t)index * channel_stride);
}

/* ------------------------------------------------------------------------ */
/* Client API                                                                */
/* ------------------------------------------------------------------------ */

/** An open segment. Fields are private to this header's functions. */
typedef struct muse_client {
    int fd;
    unsigned char *base;
    muse_segment_header *header;
    uint64_t size;
    /* The layout, copied once at open: never re-read from shared memory. */
    uint64_t channels_offset;
    uint64_t channel_stride;
    uint32_t channel_count;
    uint32_t ring_depth;
    uint32_t slot_size;
    uint32_t max_features;
} muse_client;

/** A claimed channel. Use one per thread; a channel is not thread-safe. */
typedef struct muse_channel {
    muse_client *client;
    muse_channel_control *control;
    unsigned char *submissions;
    muse_completion *completions;
    uint32_t index;
    uint32_t mask;
    uint64_t sq_tail;        /* next submission index (the client's own copy) */
    uint64_t sq_head_cache;  /* last sq_head seen: saves a shared read per submit */
    uint64_t cq_head;        /* next completion index */
} muse_channel;

/** What muse_lookup_intent reports. */
typedef struct muse_intent_info {
    uint32_t id;
    uint32_t feature_count;
    uint64_t schema_hash;
} muse_intent_info;

/** One event for muse_submit_batch. */
typedef struct muse_request {
    uint64_t tag;
    uint32_t intent_id;
    uint32_t feature_count;
    const double *features;
} muse_request;

/**
 * Opens a segment file and checks its layout. On MUSE_E_SYSTEM, errno tells
 * why (EACCES: this process is not in the tenant's group; ENOENT: no such
 * tenant, or the daemon has not started).
 */
static inline muse_status muse_open(muse_client *client, const char *segment_path) {
    struct stat st;
    const muse_segment_header *h;
    void *base;
    int fd;
    if (!client || !segment_path) return MUSE_E_INVALID;
    memset(client, 0, sizeof *client);
    client->fd = -1;
    fd = open(segment_path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return MUSE_E_SYSTEM;
    if (fstat(fd, &st) != 0) { int e = errno; close(fd); errno = e; return MUSE_E_SYSTEM; }
    if ((uint64_t)st.st_size < MUSE_HEADER_SIZE) { close(fd); return MUSE_E_NOT_READY; }
    base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) { int e = errno; close(fd); errno = e; return MUSE_E_SYSTEM; }
    h = (const muse_segment_header *)base;
    if (muse_atomic_load_acquire_u64(&h->magic) != MUSE_MAGIC || h->abi_major != MUSE_ABI_MAJOR
        || h->header_size < MUSE_HEADER_SIZE || h->segment_size != (uint64_t)st.st_size
        || h->ring_depth == 0 || (h->ring_depth & (h->ring_depth - 1)) != 0
        || h->submission_slot_size != muse_submission_slot_size(h->max_features)
        || h->completion_slot_size != sizeof(muse_completion)
        || h->channel_stride < muse_channel_stride(h->ring_depth, h->max_features)
        || h->channels_offset < h->header_size
        || h->channels_offset + (uint64_t)h->channel_count * h->channel_stride > h->segment_size) {
        munmap(base, (size_t)st.st_size);
        close(fd);
        return MUSE_E_ABI;
    }
    client->fd = fd;
    client->base = (unsigned char *)base;
    client->header = (muse_segment_header *)base;
    client->size = (uint64_t)st.st_size;
    client->channels_offset = h->channels_offset;
    client->channel_stride = h->channel_stride;
    client->channel_count = h->channel_count;
    client->ring_depth = h->ring_depth;
    client->slot_size = h->submission_slot_size;
    client->max_features = h->max_features;
    return MUSE_OK;
}

/** Opens <runtime_dir>/<tenant>.muse; runtime_dir NULL means MUSE_DEFAULT_RUNTIME_DIR. */
static inline muse_status muse_open_tenant(muse_client *client, const char *runtime_dir, const char *tenant) {
    char path[4096];
    int n;
    if (!tenant || !*tenant || strchr(tenant, '/')) return MUSE_E_INVALID;
    n = snprintf(path, sizeof path, "%s/%s%s", runtime_dir ? runtime_dir : MUSE_DEFAULT_RUNTIME_DIR,
                 tenant, MUSE_SEGMENT_SUFFIX);
    if (n < 0 || (size_t)n >= sizeof path) return MUSE_E_INVALID;
    return muse_open(client, path);
}

/** Unmaps the segment and closes it; channels still claimed are released by
 *  the kernel dropping their locks. */
static inline void muse_close(muse_client *client) {
    if (!client || !client->base) return;
    munmap(client->base, (size_t)client->size);
    close(client->fd);
    memset(client, 0, sizeof *client);
    client->fd = -1;
}

/**
 * Claims a free channel for the calling thread. MUSE_E_NO_CHANNEL when all are
 * taken; a channel whose owner died becomes free within the daemon's reclaim
 * period (well under a second), so retrying later can succeed.
 */
static inline muse_status muse_claim(muse_client *client, muse_channel *channel) {
    if (!client || !client->base || !channel) return MUSE_E_INVALID;
    for (uint32_t i = 0; i < client->channel_count; i++) {
        muse_channel_control *c = muse_channel_at(client->base, client->channels_offset,
                                                  client->channel_stride, i);
        uint64_t offset = (uint64_t)((unsigned char *)c - client->base);
        uint64_t sq_tail, sq_head, cq_tail, cq_head;
        if (muse_atomic_load_relaxed_u32(&c->state) != MUSE_CHANNEL_FREE) continue;
        if (muse_ofd_lock_byte(client->fd, offset, F_WRLCK) != 0) {
            if (errno == EAGAIN || errno == EACCES) continue;
            return MUSE_E_SYSTEM;
        }
        /* Holding the lock: only we may claim it now. Take it only if FREE and
         * quiescent (the daemon resets all four indices to one value). */
        sq_tail = muse_atomic_load_acquire_u64(&c->sq_tail);
        sq_head = muse_atomic_load_acquire_u64(&c->sq_head);
        cq_tail = muse_atomic_load_acquire_u64(&c->cq_tail);
        cq_head = muse_atomic_load_acquire_u64(&c->cq_head);
        if (sq_tail != sq_head || sq_head != cq_tail || cq_tail != cq_head
            || !muse_atomic_cas_u32(&c->state, MUSE_CHANNEL_FREE, MUSE_CHANNEL_CLAIMED)) {
            muse_ofd_lock_byte(client->fd, offset, F_UNLCK);
            continue;
        }
        c->owner_pid = (uint32_t)getpid();
        __atomic_add_fetch(&c->claims, 1, __ATOMIC_RELEASE);
        memset(channel, 0, sizeof *channel);
        channel->client = client;
        channel->control = c;
        channel->submissions = (unsigned char *)c + MUSE_CHANNEL_CONTROL_SIZE;
        channel->completions = (muse_completion *)(void *)(channel->submissions
                               + (uint64_t)client->ring_depth * client->slot_size);
        channel->index = i;
        channel->mask = client->ring_depth - 1;
        channel->sq_tail = sq_tail;
        channel->sq_head_cache = sq_head;
        channel->cq_head = cq_head;
        return MUSE_OK;
    }
    return MUSE_E_NO_CHANNEL;
}

/** Gives the channel back. Completions not yet read are dropped. */
static inline void muse_release(muse_channel *channel) {
    muse_client *client;
    if (!channel || !channel->control) return;
    client = channel->client;
    muse_atomic_store_release_u32(&channel->control->state, MUSE_CHANNEL_RELEASED);
    muse_ofd_lock_byte(client->fd, (uint64_t)((unsigned char *)channel->control - client->base), F_UNLCK);
    channel->control = NULL;
}

/** Looks an intent up by name in the serving table. */
static inline muse_status muse_lookup_intent(const muse_client *client, const char *name, muse_intent_info *out) {
    const muse_segment_header *h;
    if (!client || !client->base || !name || !out) return MUSE_E_INVALID;
    h = client->header;
    for (int attempt = 0; attempt < 1000; attempt++) {
        uint32_t seq = muse_atomic_load_acquire_u32(&h->intent_seq);
        uint32_t count;
        int found = 0;
        muse_intent_info info = {0, 0, 0};
        if (seq & 1u) { muse_cpu_relax(); continue; }
        count = muse_atomic_load_relaxed_u32(&h->intent_count);
        if (count > MUSE_MAX_INTENTS) count = MUSE_MAX_INTENTS;
        for (uint32_t i = 0; i < count && !found; i++) {
            const muse_intent_entry *e = &h->intents[i];
            if (strncmp(e->name, name, MUSE_INTENT_NAME_SIZE) == 0) {
                info.id = e->id;
                info.feature_count = e->feature_count;
                info.schema_hash = e->schema_hash;
                found = 1;
            }
        }
        /* Order the table reads before the second sequence read. */
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (muse_atomic_load_relaxed_u32(&h->intent_seq) != seq) continue;
        if (!found) return MUSE_E_UNKNOWN_INTENT;
        *out = info;
        return MUSE_OK;
    }
    return MUSE_E_AGAIN;
}

/** Rings the daemon's doorbell if it may be asleep; free while it is awake. */
static inline void muse__notify_daemon(muse_client *client) {
    muse_atomic_fence_seq_cst(); /* pairs with the daemon's fence after it sets daemon_sleeping */
    if (muse_atomic_load_relaxed_u32(&client->header->daemon_sleeping)) {
        muse_atomic_add_u32(&client->header->daemon_doorbell, 1);
        muse_futex_wake(&client->header->daemon_doorbell);
    }
}

/** Writes one event into the next slot without publishing it. */
static inline int muse__stage(muse_channel *ch, uint64_t tag, uint32_t intent_id,
                              const double *features, uint32_t feature_count) {
    muse_client *client = ch->client;
    muse_event_header *slot;
    if (ch->sq_tail - ch->sq_head_cache >= client->ring_depth) {
        ch->sq_head_cache = muse_atomic_load_acquire_u64(&ch->control->sq_head);
        if (ch->sq_tail - ch->sq_head_cache >= client->ring_depth) return 0;
    }
    slot = (muse_event_header *)(void *)(ch->submissions + (ch->sq_tail & ch->mask) * client->slot_size);
    slot->tag = tag;
    slot->intent_id = intent_id;
    slot->feature_count = feature_count;
    if (feature_count) memcpy(muse_event_features(slot), features, (size_t)feature_count * sizeof(double));
    ch->sq_tail++;
    return 1;
}

/**
 * Submits one event. MUSE_E_AGAIN when the ring is full: nothing was written;
 * read completions (the daemon stops taking submissions while the completion
 * ring is full) and retry. MUSE_E_INVALID if feature_count > max_features.
 */
static inline muse_status muse_submit(muse_channel *ch, uint64_t tag, uint32_t intent_id,
                                      const double *features, uint32_t feature_count) {
    if (!ch || !ch->control || feature_count > ch->client->max_features || (feature_count && !features))
        return MUSE_E_INVALID;
    if (!muse__stage(ch, tag, intent_id, features, feature_count)) return MUSE_E_AGAIN;
    muse_atomic_store_release_u64(&ch->control->sq_tail, ch->sq_tail);
    muse__notify_daemon(ch->client);
    return MUSE_OK;
}

/**
 * Submits up to `count` events with one publication; returns how many were
 * taken (fewer when the ring fills, 0 for an invalid request at the front).
 */
static inline size_t muse_submit_batch(muse_channel *ch, const muse_request *requests, size_t count) {
    size_t n = 0;
    if (!ch || !ch->control || !requests) return 0;
    for (; n < count; n++) {
        const muse_request *r = &requests[n];
        if (r->feature_count > ch->client->max_features || (r->feature_count && !r->features)) break;
        if (!muse__stage(ch, r->tag, r->intent_id, r->features, r->feature_count)) break;
    }
    if (n) {
        muse_atomic_store_release_u64(&ch->control->sq_tail, ch->sq_tail);
        muse__notify_daemon(ch->client);
    }
    return n;
}

/** Copies up to `max` completions into `out` without blocking; returns how many. */
static inline size_t muse_poll(muse_channel *ch, muse_completion *out, size_t max) {
    uint64_t tail, available;
    size_t n;
    if (!ch || !ch->control || !out) return 0;
    tail = muse_atomic_load_acquire_u64(&ch->control->cq_tail);
    available = tail - ch->cq_head;
    if (available == 0 || available > ch->client->ring_depth) return 0;
    n = available < max ? (size_t)available : max;
    for (size_t i = 0; i < n; i++) out[i] = ch->completions[(ch->cq_head + i) & ch->mask];
    ch->cq_head += n;
    muse_atomic_store_release_u64(&ch->control->cq_head, ch->cq_head);
    /* A full completion ring stalls the daemon on this channel; it may have
     * gone to sleep, so tell it there is room again. */
    if (available == ch->client->ring_depth) muse__notify_daemon(ch->client);
    return n;
}

/** Completions waiting to be read (0 if the indices are corrupt). */
static inline uint64_t muse_pending_completions(const muse_channel *ch) {
    uint64_t available = muse_atomic_load_acquire_u64(&ch->control->cq_tail) - ch->cq_head;
    return available > ch->client->ring_depth ? 0 : available;
}

/**
 * Waits until at least one completion is available, then copies up to `max`
 * into `out` and sets *count. Spins for up to MUSE_SPIN_NS, then sleeps on the
 * channel's futex. timeout_ns < 0 waits forever; MUSE_E_TIMEDOUT after it.
 */
static inline muse_status muse_wait(muse_channel *ch, muse_completion *out, size_t max,
                                    size_t *count, int64_t timeout_ns) {
    uint64_t start, spin_until, deadline;
    muse_channel_control *c;
    if (!ch || !ch->control || !out || !count || max == 0) return MUSE_E_INVALID;
    *count = muse_poll(ch, out, max);
    if (*count) return MUSE_OK;
    c = ch->control;
    start = muse_now_ns();
    deadline = timeout_ns < 0 ? UINT64_MAX : start + (uint64_t)timeout_ns;
    spin_until = start + MUSE_SPIN_NS < deadline ? start + MUSE_SPIN_NS : deadline;
    for (unsigned spins = 0;; spins++) {
        if (muse_pending_completions(ch)) { *count = muse_poll(ch, out, max); return MUSE_OK; }
        if ((spins & 63u) == 63u && muse_now_ns() >= spin_until) break;
        muse_cpu_relax();
    }
    for (;;) {
        uint64_t now = muse_now_ns();
        uint32_t bell;
        if (now >= deadline) { *count = muse_poll(ch, out, max); return *count ? MUSE_OK : MUSE_E_TIMEDOUT; }
        bell = muse_atomic_load_acquire_u32(&c->client_doorbell);
        muse_atomic_store_relaxed_u32(&c->client_sleeping, 1);
        muse_atomic_fence_seq_cst(); /* pairs with the daemon's fence after it publishes cq_tail */
        if (!muse_pending_completions(ch)) {
            int64_t left = deadline == UINT64_MAX ? -1 : (int64_t)(deadline - now);
            muse_futex_wait(&c->client_doorbell, bell, left);
        }
        muse_atomic_store_relaxed_u32(&c->client_sleeping, 0);
        *count = muse_poll(ch, out, max);
        if (*count) return MUSE_OK;
    }
}

/** The daemon incarnation that last adopted the segment. */
static inline uint64_t muse_incarnation(const muse_client *client) {
    return muse_atomic_load_acquire_u64(&client->header->incarnation);
}

/** Nonzero if the daemon is serving and its heartbeat is younger than max_age_ns. */
static inline int muse_daemon_alive(const muse_client *client, uint64_t max_age_ns) {
    uint64_t beat = muse_atomic_load_acquire_u64(&client->header->heartbeat_ns);
    uint64_t now = muse_now_ns();
    return muse_atomic_load_acquire_u32(&client->header->daemon_state) == MUSE_DAEMON_SERVING
        && (now < beat || now - beat < max_age_ns);
}

#ifdef __cplusplus
}
#endif

#endif /* MUSE_H */
