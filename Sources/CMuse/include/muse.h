/*
 * muse.h — the Muse shared-memory ABI and client API (ABI 1.1).
 *
 * Muse is a scorer sidecar: one daemon, mused, scores events for many tenants
 * on a host. A tenant's processes talk to it through one shared-memory file,
 * the tenant's *segment*, and nothing else: no socket, no system call on the
 * fast path. This header is the whole contract. It is header-only (every
 * function is static inline), C11 and C++ compatible, Linux only. The same
 * functions are exported by libmuse.so (soname libmuse.so.1, symbol version
 * MUSE_1.0 for ABI 1.0 functions, MUSE_1.1 for those added in 1.1, MUSE_1.2
 * for muse_wait_idle, MUSE_1.3 for muse_version and muse_prepare) for other languages; see
 * tools/build-libmuse.sh. This header is release MUSE_VERSION_STRING.
 *
 * HOW THIS HEADER READS. Four parts, in the order their readers need them:
 *
 *   1. THE CLIENT API: versions, status codes, the types a client holds and
 *      every client function with its documentation, as declarations. A
 *      program that only scores events needs nothing past part 1.
 *   2. THE SHARED LAYOUT: the segment's structures and offsets and the
 *      memory-order rules (which side writes each field, how it is
 *      published). For whoever writes a binding or another daemon, or reads
 *      a segment while debugging.
 *   3. INTERNALS: the muse__ helpers (atomics, futex calls, the wake-up
 *      protocol, the intent-table reader, the claim registry). Not API: a
 *      release may change them; nothing outside this header should call
 *      them, except Muse's own daemon, tools and tests, built from the same tree.
 *   4. THE CLIENT API'S DEFINITIONS: the bodies of part 1's functions.
 *
 * The API comes first although it is built from the layout because a reader
 * meets the contract before the mechanism: part 1 is what a client may rely
 * on across releases, parts 2 and 3 are how it is kept. C wants types before
 * their use, so part 1 declares the layout structures it points at and
 * defines only the structures a client allocates; their bodies follow.
 *
 * QUICK START
 *
 *     muse_client client;
 *     muse_channel ch;
 *     muse_intent_info intent;
 *     uint32_t amount;
 *     if (muse_open_tenant(&client, NULL, "acme") != MUSE_OK) ...      // see muse_open for why
 *     if (muse_claim(&client, &ch) != MUSE_OK) ...                    // one channel per thread
 *     if (muse_lookup_intent(&client, "card-not-present", &intent) != MUSE_OK) ...
 *     if (muse_lookup_feature(&client, "card-not-present", "amount", &amount) != MUSE_OK) ...
 *     double x[16] = {...}; x[amount] = 42.0;                         // place features by name
 *     while (muse_submit(&ch, 42, intent.id, x, intent.feature_count) == MUSE_E_AGAIN)
 *         ... ring full: read completions, then retry ...
 *     muse_completion done[8]; size_t n;
 *     if (muse_wait(&ch, done, 8, &n, 1000000) == MUSE_OK)            // up to 1 ms; n >= 1
 *         for (size_t i = 0; i < n; i++)
 *             if (done[i].status == MUSE_OK) use(done[i].tag, done[i].score); else ...
 *     muse_release(&ch);
 *     muse_close(&client);
 */
#ifndef MUSE_H
#define MUSE_H

/* clock_gettime() and syscall() need POSIX and glibc's default (misc)
 * declarations. Included first, muse.h asks for them with _GNU_SOURCE.
 * Included after a system header, it takes what that header's mode gave:
 * the compilers' default modes (gnu11, gnu++17...) give both; strict ISO C
 * (-std=c11 alone) gives neither, and then nothing can be added afterwards. */
#if !defined(_GNU_SOURCE)
#  if defined(__GLIBC__)
#    if !defined(__USE_POSIX199309) || !defined(__USE_MISC)
#      error "muse.h: a system header was included first in strict ISO C mode (-std=c11); include muse.h first, or compile with -D_DEFAULT_SOURCE or -std=gnu11"
#    endif
#  else
#    define _GNU_SOURCE 1
#  endif
#endif

/* Never <stdlib.h>: it brings in <sys/select.h>, whose _GNU_SOURCE view of
 * fd_set clashes with Swift's Glibc module (mused imports this header). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Open file description locks (Linux 3.15) are declared only under
 * _GNU_SOURCE; their values are the kernel's, whatever the C library says. */
#ifndef F_OFD_SETLK
#  define F_OFD_GETLK 36
#  define F_OFD_SETLK 37
#  define F_OFD_SETLKW 38
#endif

#ifdef __cplusplus
extern "C" {
#  define MUSE_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#  define MUSE_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* MUSE_API marks the client functions. By default they are static inline, so
 * the header is all a C or C++ program needs. libmuse.so is this header
 * compiled once with MUSE_BUILD_LIBRARY defined (tools/build-libmuse.sh): the
 * same functions become exported, versioned symbols for other languages. */
#ifndef MUSE_API
#  if defined(MUSE_BUILD_LIBRARY)
#    define MUSE_API __attribute__((visibility("default")))
#  else
#    define MUSE_API static inline
#  endif
#endif

/* ======================================================================== */
/* PART 1. THE CLIENT API                                                    */
/* ======================================================================== */

/*
 * THE CLIENT CONTRACT
 *
 * Thread safety.
 *   - muse_client: muse_claim, muse_lookup_intent, muse_lookup_feature,
 *     muse_intent_features, muse_check_schema, muse_incarnation and
 *     muse_daemon_alive may be called from any number of threads at once.
 *     muse_open and muse_close may not run concurrently with any other call
 *     on the same client.
 *   - muse_channel: one thread at a time (submit, poll, wait, release). Hand
 *     it to another thread only with ordinary synchronisation (a mutex, a
 *     queue). Different channels of one client are fully independent: the
 *     intended design is one channel per thread.
 *   - muse_release and muse_claim on different channels may run concurrently.
 *   - muse_strerror, muse_schema_hash: pure.
 * Lifetimes.
 *   - A muse_client must not be copied or moved once opened (claims are
 *     recorded against its address) and must outlive its channels;
 *     muse_close gives back channels still claimed, after which those
 *     muse_channel objects are dead (muse_release on them is a harmless
 *     no-op; nothing else may be called).
 *   - A muse_channel must not be copied either: the copy would share ring
 *     positions with the original.
 *   - Pointers returned or filled (completions, names) are plain copies; no
 *     call returns a pointer into shared memory.
 * fork().
 *   - A child inherits the mapping and the client, not the claims: a
 *     pthread_atfork handler closes the child's copies of claim descriptors,
 *     so the parent's channels end with the parent, whatever the child does.
 *     In the child, submit/poll/wait on an inherited channel return
 *     MUSE_E_FORKED (poll returns 0) and muse_release only forgets it. The
 *     child may claim channels of its own from the inherited client, or
 *     muse_close it. exec() drops everything (O_CLOEXEC). Raw clone() or
 *     vfork() without exec are not supported.
 * Statuses and errno.
 *   - Functions return a muse_status; errno matters only with MUSE_E_SYSTEM.
 *     muse_strerror names every status. Completion statuses are 0..63,
 *     function statuses 64 and above; an OK completion always carries a
 *     finite score (a model's NaN or infinity becomes MUSE_E_BAD_SCORE).
 * When mused is stopped, hung or restarted.
 *   - Submissions keep being accepted until the rings are full (then
 *     MUSE_E_AGAIN); they wait in shared memory and a restarted mused answers
 *     them exactly once. muse_wait with a timeout returns MUSE_E_TIMEDOUT;
 *     with a negative timeout, MUSE_E_DAEMON_GONE once the heartbeat is older
 *     than MUSE_ALIVE_AGE_NS or the state says stopped.
 *   - muse_daemon_alive(client, MUSE_ALIVE_AGE_NS) tells serving from
 *     stopped/killed/hung (mused beats every 50 ms, every 200 ms for a
 *     worker serving more than 128 tenants; 1 s is five to twenty beats).
 *     A restart shows as muse_incarnation changing; nothing else to do.
 *   - What to do: keep the channel; decide per event whether to wait (the
 *     answer will come after the restart) or to fall back (e.g. a rule-based
 *     decision) and forget the tag. An abandoned tag may still be answered
 *     later: a client that gave up on tag T must expect a completion for T
 *     and ignore it (match completions by tag, not by position).
 *
 * VERSIONING. A client refuses a segment whose magic differs or whose
 * abi_major is not MUSE_ABI_MAJOR. Minor versions only add: fields carved out
 * of reserved space (which the daemon zeroes), new status codes, new
 * functions. ABI 1.1 added: the schema area (schema_offset, schema_size),
 * statuses MUSE_E_BAD_SCORE, MUSE_E_DAEMON_GONE, MUSE_E_FORKED,
 * MUSE_E_NO_SCHEMA, MUSE_E_UNKNOWN_FEATURE, MUSE_E_SCHEMA_MISMATCH, and the
 * functions muse_submit_many, muse_lookup_feature, muse_intent_features,
 * muse_check_schema, muse_schema_hash. A 1.0 client works with a 1.1 daemon
 * (it ignores the schema area); a 1.1 client works with a 1.0 segment (the
 * schema calls return MUSE_E_NO_SCHEMA). A 1.1 daemon adopts a 1.0 segment
 * as it is (no names) until it is removed while no client holds it.
 * muse_wait_idle and muse_idle_policy were added to the header after 1.1
 * without an ABI version: they change no layout and read nothing new, so they
 * work with every 1.x segment. libmuse.so 1.2 exports muse_wait_idle in the
 * symbol version node MUSE_1.2 (muse_idle_policy is a type: a binding passes
 * its values as an int). Names with the muse__ prefix (part 3) are not part
 * of any of these promises.
 */

/* ---- versions ----------------------------------------------------------- */

/** "MUSE-SHM" read as a little-endian 64-bit integer. */
#define MUSE_MAGIC 0x4D48532D4553554DULL
#define MUSE_ABI_MAJOR 1
#define MUSE_ABI_MINOR 1

/** The Muse release this header belongs to. mused, musectl, libmuse.so and
 *  the Python and Java clients of one release carry the same version; the
 *  ABI version above changes only when the shared-memory layout does. */
#define MUSE_VERSION_MAJOR 1
#define MUSE_VERSION_MINOR 3
#define MUSE_VERSION_PATCH 0
#define MUSE_VERSION_STRING "1.3.0"

/* ---- status codes ------------------------------------------------------- */

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
    MUSE_E_BAD_SCORE = 7,       /* the model produced a NaN or infinite score (ABI 1.1) */
    /* Returned by functions. */
    MUSE_E_AGAIN = 64,          /* ring full (backpressure) or nothing to read */
    MUSE_E_TIMEDOUT = 65,       /* muse_wait's timeout passed with nothing to read */
    MUSE_E_INVALID = 66,        /* a bad argument (too many features, NULL, ...) */
    MUSE_E_NO_CHANNEL = 67,     /* every channel of the segment is claimed */
    MUSE_E_ABI = 68,            /* not a Muse segment, or an incompatible ABI major */
    MUSE_E_SYSTEM = 69,         /* a system call failed; errno says which way */
    MUSE_E_NOT_READY = 70,      /* the segment is still being created */
    MUSE_E_CORRUPT = 71,        /* the channel's indices are inconsistent */
    MUSE_E_DAEMON_GONE = 72,    /* mused stopped, died or hangs (stale heartbeat) (ABI 1.1) */
    MUSE_E_FORKED = 73,         /* the channel was claimed by the parent of this forked process (ABI 1.1) */
    MUSE_E_NO_SCHEMA = 74,      /* the segment carries no feature names (made by an ABI 1.0 mused) (ABI 1.1) */
    MUSE_E_UNKNOWN_FEATURE = 75,/* the intent has no feature of that name (ABI 1.1) */
    MUSE_E_SCHEMA_MISMATCH = 76 /* the feature names differ from the intent's schema (ABI 1.1) */
} muse_status;

/* ---- limits and timing -------------------------------------------------- */

/** Where mused puts segments unless configured otherwise. */
#define MUSE_DEFAULT_RUNTIME_DIR "/run/muse"
/** Segment file name suffix: <runtime dir>/<tenant>.muse */
#define MUSE_SEGMENT_SUFFIX ".muse"
/** Longest segment path muse_open accepts, including the NUL. */
#define MUSE_PATH_SIZE 4096u
/** How long muse_wait (MUSE_IDLE_ADAPTIVE) spins before it sleeps on the futex, in nanoseconds. */
#define MUSE_SPIN_NS 50000
/** How often mused refreshes heartbeat_ns, in nanoseconds (informational). */
#define MUSE_HEARTBEAT_PERIOD_NS UINT64_C(50000000)
/** The heartbeat age past which a client should consider mused stopped or
 *  hung: twenty heartbeat periods. The recommended muse_daemon_alive age. */
#define MUSE_ALIVE_AGE_NS UINT64_C(1000000000)
/** muse_wait with a negative timeout wakes at least this often to check that
 *  mused is still there. */
#define MUSE_WAIT_CHECK_NS INT64_C(100000000)

/* ---- the types a client holds ------------------------------------------- */

/* The shared structures (part 2) and the claim registry (part 3) that a
 * client's own structures point at. */
typedef struct muse_segment_header muse_segment_header;
typedef struct muse_channel_control muse_channel_control;
typedef struct muse__registry muse__registry;

/**
 * An open segment. Fields are private to this header's functions. Must not
 * be copied (claims are recorded against its address) and must outlive every
 * channel claimed from it.
 */
typedef struct muse_client {
    int fd;                    /* the segment, O_CLOEXEC; holds no lock */
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
    /* The schema area (0, 0: none), checked at open. */
    uint64_t schema_offset;
    uint32_t schema_size;
    uint32_t abi_minor;
    /* Where muse_claim re-opens the file for a claim's own description. */
    uint64_t device;
    uint64_t inode;
    char path[MUSE_PATH_SIZE];
} muse_client;

/**
 * A completion: the daemon's answer to one submission, as muse_poll and
 * muse_wait copy it out of the completion ring. 64 bytes; part 2 pins its
 * layout, as it is also the ring's record.
 */
typedef struct muse_completion {
    uint64_t tag;               /* the submission's tag */
    int32_t status;             /* muse_status; the scores are NaN unless MUSE_OK */
    uint32_t predictor_id;      /* the predictor that scored it */
    double score;               /* on the reference scale: compare thresholds to this */
    double raw_score;           /* the predictor's probability after level 1 (posterior correction), before the tenant's level-2 map */
    uint64_t generation_id;     /* the generation that scored it */
    uint64_t reserved[3];
} muse_completion;

/** A claimed channel. Owned by one thread at a time (it may be handed to
 *  another thread with the usual synchronisation); not thread-safe. Fields
 *  are private to this header's functions. */
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
    muse__registry *registry;/* where the claim is recorded */
    uint64_t claim_id;
    uint32_t forks_at_claim; /* registry->forks when claimed: fewer than now in a forked child */
    uint32_t depth;
} muse_channel;

/** What muse_lookup_intent reports. */
typedef struct muse_intent_info {
    uint32_t id;
    uint32_t feature_count;
    uint64_t schema_hash;
} muse_intent_info;

/** One event for muse_submit_batch / muse_submit_many. */
typedef struct muse_request {
    uint64_t tag;
    uint32_t intent_id;
    uint32_t feature_count;
    const double *features;
} muse_request;

/**
 * How muse_wait_idle waits while no completion is available (the client's side
 * of mused's --idle-policy). An API addition: no field of the segment or of
 * the structures changes, so it works against any 1.x mused (libmuse.so
 * exports muse_wait_idle as MUSE_1.2).
 *
 *   MUSE_IDLE_ADAPTIVE   what muse_wait does: spin for MUSE_SPIN_NS, then
 *                        sleep on the channel's futex. A good default: a
 *                        completion that comes within tens of microseconds
 *                        is seen at once, a long wait costs no CPU. (No
 *                        sched_yield in the spin: against busy CPUs a
 *                        yielding client loses its share and falls behind;
 *                        measured in BENCHMARKS.md.)
 *   MUSE_IDLE_BUSY_SPIN  never sleeps: the lowest latency, and mused never
 *                        makes a system call to wake this thread; it burns
 *                        its core until the completion or the deadline. For
 *                        a thread that owns a core (pin it).
 *   MUSE_IDLE_LOW_POWER  sleeps on the futex at once: the least CPU, a
 *                        futex wake-up (some microseconds) per wait.
 *
 * Whatever the policy, the deadline and the checks on mused (timeout_ns < 0)
 * behave as in muse_wait.
 */
typedef enum muse_idle_policy {
    MUSE_IDLE_ADAPTIVE = 0,
    MUSE_IDLE_BUSY_SPIN = 1,
    MUSE_IDLE_LOW_POWER = 2
} muse_idle_policy;

/* ---- opening and closing ------------------------------------------------ */

/**
 * Opens a segment file and checks its layout.
 *
 * Returns MUSE_OK; MUSE_E_INVALID (NULL argument, path too long);
 * MUSE_E_SYSTEM with errno (EACCES: this process is not in the tenant's group;
 * ENOENT: no such tenant, or mused has not created it yet); MUSE_E_NOT_READY
 * (the file is shorter than a header: being created); MUSE_E_ABI (not a Muse
 * segment, or an ABI major other than MUSE_ABI_MAJOR). errno matters only
 * with MUSE_E_SYSTEM. On failure *client is left closed (muse_close is a
 * no-op on it).
 */
MUSE_API muse_status muse_open(muse_client *client, const char *segment_path);

/** Opens <runtime_dir>/<tenant>.muse; runtime_dir NULL means the
 *  environment's MUSE_RUNTIME_DIR if set and not empty (as for mused and
 *  musectl), else MUSE_DEFAULT_RUNTIME_DIR. Statuses as muse_open;
 *  MUSE_E_INVALID also for an empty tenant name or one containing '/'. */
MUSE_API muse_status muse_open_tenant(muse_client *client, const char *runtime_dir, const char *tenant);

/**
 * Unmaps the segment and closes it. Channels still claimed from it are given
 * back first (as by muse_release); the muse_channel objects are dead
 * afterwards (muse_release on them is then a harmless no-op, any other call
 * is undefined). Safe on a client whose open failed. Not concurrently with
 * other calls on the same client.
 */
MUSE_API void muse_close(muse_client *client);

/* ---- channels ----------------------------------------------------------- */

/**
 * Claims a free channel. Thread-safe: any number of threads may claim from
 * one client at once; each claim holds its channel through a file
 * description of its own. Returns MUSE_OK; MUSE_E_NO_CHANNEL when every
 * channel is taken (a channel whose owner died is freed by mused within its
 * reclaim period, well under a second; one released while events were in
 * flight, on mused's next drain); MUSE_E_INVALID; MUSE_E_SYSTEM with errno
 * (opening the claim's description, EMFILE included).
 */
MUSE_API muse_status muse_claim(muse_client *client, muse_channel *channel);

/**
 * Gives the channel back. Completions not yet read are dropped; events not
 * yet answered may still be scored but their answers are discarded. With
 * nothing in flight the channel is free again at once; otherwise mused frees
 * it on its next drain. In a forked child, on a channel inherited from the
 * parent, it only forgets the channel (the parent keeps it). Safe to call
 * twice, and after muse_close.
 */
MUSE_API void muse_release(muse_channel *channel);

/* ---- intents and their features ----------------------------------------- */

/** Looks an intent up by name in the serving table. Returns MUSE_OK;
 *  MUSE_E_UNKNOWN_INTENT; MUSE_E_INVALID; MUSE_E_AGAIN if the table kept
 *  changing under it (retry). Thread-safe. */
MUSE_API muse_status muse_lookup_intent(const muse_client *client, const char *name, muse_intent_info *out);

/**
 * Finds feature `feature` of intent `intent` by name: *index is its position
 * in the event's feature array. Returns MUSE_OK; MUSE_E_UNKNOWN_FEATURE;
 * the statuses of muse_intent_features; MUSE_E_SYSTEM (ENOMEM). Cold: it
 * copies the names (look positions up once, not per event). Thread-safe.
 */
MUSE_API muse_status muse_lookup_feature(const muse_client *client, const char *intent, const char *feature,
                                         uint32_t *index);

/**
 * Copies intent `intent`'s ordered feature names, joined by "\n" and
 * NUL-terminated, into names[0..capacity), and its id, feature count and
 * schema hash into *info (optional), all from one consistent reading of the
 * table. *length (optional) gets the joined length without the NUL, also
 * when the buffer is too small. The names are checked against schema_hash.
 *
 * Returns MUSE_OK; MUSE_E_UNKNOWN_INTENT; MUSE_E_NO_SCHEMA (the segment was
 * made by an ABI 1.0 mused, or the names did not fit its schema area);
 * MUSE_E_AGAIN (capacity too small: *length says how much is needed; or the
 * table kept changing); MUSE_E_SCHEMA_MISMATCH (the names do not hash to
 * schema_hash: a damaged segment); MUSE_E_INVALID. Thread-safe.
 */
MUSE_API muse_status muse_intent_features(const muse_client *client, const char *intent, char *names,
                                          size_t capacity, size_t *length, muse_intent_info *info);

/**
 * Checks that the features a client fills, in its order, are the intent's:
 * the names must hash to intent->schema_hash, and the segment must still
 * serve that schema for intent->id (a generation swap may change it).
 * Returns MUSE_OK; MUSE_E_SCHEMA_MISMATCH; MUSE_E_UNKNOWN_INTENT (the id is
 * gone); MUSE_E_AGAIN; MUSE_E_INVALID. Works on ABI 1.0 segments too (it
 * needs only the hash). Thread-safe.
 */
MUSE_API muse_status muse_check_schema(const muse_client *client, const muse_intent_info *intent,
                                       const char *const *names, size_t count);

/** FNV-1a of `count` feature names joined by "\n": what
 *  muse_intent_info.schema_hash holds for an intent with those features in
 *  that order. */
MUSE_API uint64_t muse_schema_hash(const char *const *names, size_t count);

/* ---- submitting --------------------------------------------------------- */

/**
 * Tells mused an event is coming on this channel, so that a worker asleep
 * wakes now and is awake (spinning) when the event is submitted: call it
 * when a request arrives, before computing its features (tens to hundreds
 * of microseconds), and the worker's wake-up (25-90 µs on a VM) overlaps
 * that work instead of adding to the event's latency. Costs one look at the
 * daemon's sleeping flag while mused is awake; when it sleeps, one futex
 * wake. It also prefetches the submission slot the event will be written to
 * (no write, no fault), which a quiet spell leaves cold. A prepared worker
 * spins at most its spin budget for the event: a prepare never followed by
 * a submission costs mused that much CPU, no more, and a client preparing
 * in a loop is muted like any doorbell ringer.
 * Safe in any state: returns MUSE_E_INVALID (NULL or released channel) or
 * MUSE_E_FORKED without touching anything, and MUSE_OK otherwise, whether or
 * not mused runs (a stopped or restarted daemon just has no worker to wake).
 */
MUSE_API muse_status muse_prepare(muse_channel *ch);

/**
 * Submits one event. Returns MUSE_OK; MUSE_E_AGAIN when the submission ring
 * is full: nothing was written; read completions (mused stops taking
 * submissions while the completion ring is full) and retry; MUSE_E_INVALID
 * (feature_count > max_features, features NULL, channel not claimed);
 * MUSE_E_FORKED (a channel inherited through fork()). Makes no system call
 * unless mused sleeps. The intent id and feature count are checked by mused,
 * which answers a bad event with a status in its completion.
 */
MUSE_API muse_status muse_submit(muse_channel *ch, uint64_t tag, uint32_t intent_id,
                                 const double *features, uint32_t feature_count);

/**
 * Submits up to `count` events with one publication and sets *accepted to how
 * many were taken (the first *accepted requests). Returns MUSE_OK when all
 * were; MUSE_E_AGAIN when the ring filled (requests[*accepted] and later were
 * not written: read completions and retry from there); MUSE_E_INVALID when
 * requests[*accepted] is malformed (too many features, NULL features) — retrying
 * it never helps; MUSE_E_INVALID with *accepted == 0 also for bad arguments;
 * MUSE_E_FORKED.
 */
MUSE_API muse_status muse_submit_many(muse_channel *ch, const muse_request *requests, size_t count,
                                      size_t *accepted);

/**
 * Submits up to `count` events with one publication; returns how many were
 * taken. Kept from ABI 1.0: it cannot say why it stopped (ring full, or
 * requests[return value] malformed); muse_submit_many can.
 */
MUSE_API size_t muse_submit_batch(muse_channel *ch, const muse_request *requests, size_t count);

/* ---- reading completions ------------------------------------------------ */

/**
 * Copies up to `max` completions into `out` without blocking; returns how
 * many (0: none waiting, a bad argument, a channel inherited through fork(),
 * or corrupt indices — muse_wait tells those apart). Never a system call
 * unless mused is asleep with more than a ring's worth in flight.
 */
MUSE_API size_t muse_poll(muse_channel *ch, muse_completion *out, size_t max);

/** Completions waiting to be read (0 if the indices are corrupt). */
MUSE_API uint64_t muse_pending_completions(const muse_channel *ch);

/**
 * Waits until at least one completion is available, then copies up to `max`
 * into `out`. Spins for up to MUSE_SPIN_NS, then sleeps on the channel's
 * futex (muse_wait_idle takes other policies).
 *
 * Returns MUSE_OK only with *count >= 1 (so out[0] is then always written);
 * MUSE_E_TIMEDOUT when timeout_ns passed with nothing to read; with
 * timeout_ns < 0 (no deadline) it checks on mused every MUSE_WAIT_CHECK_NS
 * and returns MUSE_E_DAEMON_GONE once mused is not serving with a heartbeat
 * younger than MUSE_ALIVE_AGE_NS (stopped, killed, hung): the events in
 * flight stay in the ring, and a restarted mused answers them, so waiting
 * again later is fine; MUSE_E_CORRUPT (the channel's indices are
 * inconsistent: something scribbled on the segment); MUSE_E_FORKED;
 * MUSE_E_INVALID. *count is 0 unless MUSE_OK. errno never matters.
 */
MUSE_API muse_status muse_wait(muse_channel *ch, muse_completion *out, size_t max,
                               size_t *count, int64_t timeout_ns);

/**
 * muse_wait with an idle policy (see muse_idle_policy). Same arguments,
 * statuses and *count as muse_wait, plus MUSE_E_INVALID for an unknown
 * policy. muse_wait(ch, out, max, count, t) is
 * muse_wait_idle(ch, out, max, count, t, MUSE_IDLE_ADAPTIVE).
 *
 *     muse_completion done[8]; size_t n;
 *     if (muse_wait_idle(&ch, done, 8, &n, 1000000, MUSE_IDLE_BUSY_SPIN) == MUSE_OK) ...
 */
MUSE_API muse_status muse_wait_idle(muse_channel *ch, muse_completion *out, size_t max,
                                    size_t *count, int64_t timeout_ns, muse_idle_policy policy);

/* ---- the daemon, statuses, the release ---------------------------------- */

/** Nonzero if the daemon is serving and its heartbeat is younger than
 *  max_age_ns. MUSE_ALIVE_AGE_NS (1 s) is the recommended age: mused beats
 *  every 50 ms (200 ms on a worker serving more than 128 tenants), so an
 *  older heartbeat means stopped, killed or hung.
 *  Thread-safe. */
MUSE_API int muse_daemon_alive(const muse_client *client, uint64_t max_age_ns);

/** The daemon incarnation that last adopted the segment. Thread-safe. */
MUSE_API uint64_t muse_incarnation(const muse_client *client);

/** The text of a status: a function's result or a completion's `status`
 *  (an int32_t, so C++ passes either without a cast). */
MUSE_API const char *muse_strerror(int32_t status);

/** The release of the code that runs, as "MAJOR.MINOR.PATCH": through
 *  libmuse.so, the library's own (which may be newer than the header a
 *  program was built with); inline, the header's. */
MUSE_API const char *muse_version(void);

/* ======================================================================== */
/* PART 2. THE SHARED LAYOUT                                                 */
/* ======================================================================== */

/*
 * THE SEGMENT
 *
 * One file per tenant, <runtime dir>/<tenant>.muse (default /run/muse),
 * created by the daemon with mode 0660 and the tenant's group, so only the
 * tenant's processes can open it. The daemon that owns a segment holds an
 * exclusive OFD lock on its byte 0 for as long as it serves it; a client never
 * locks byte 0 (a second daemon finding it locked refuses the segment).
 * Layout (all offsets from the start; every
 * number is little-endian, fixed width; there are no pointers, only offsets):
 *
 *     0                   muse_segment_header           MUSE_HEADER_SIZE bytes
 *     schema_offset       the schema area (ABI 1.1; absent in 1.0 segments):
 *                             feature names of every intent, see muse_schema_entry
 *     channels_offset     channel 0: muse_channel_control, then
 *                             submission ring: ring_depth slots of submission_slot_size
 *                             completion ring: ring_depth muse_completion records
 *     + channel_stride    channel 1 ...
 *
 * A channel is a pair of single-producer single-consumer rings. The client
 * produces submissions and consumes completions; the daemon consumes
 * submissions and produces completions. Ring indices are 64-bit counters that
 * only grow (slot = index & (ring_depth - 1)); each lives on its own
 * MUSE_LINE_SIZE line so producer and consumer never share a cache line. A
 * channel holds at most 2 x ring_depth events in flight: a full submission
 * ring plus a full completion ring.
 *
 * MEMORY ORDER. Every field says who writes it. A field written by one side
 * and read by the other is accessed only atomically (part 3's
 * muse__atomic_* helpers, or the same orders in another language): an index
 * is stored with release order after the slots it covers are written, and
 * loaded with acquire order before those slots are read. The "sleeping"
 * flags pair with sequentially consistent fences (see WAKE-UPS).
 *
 * CLAIMING A CHANNEL. A client takes an open-file-description lock (Linux
 * F_OFD_SETLK) on the first byte of the channel's control block, then moves
 * `state` from FREE to CLAIMED. Each claim locks through a file description
 * of its own, so no claim's unlock can drop another's lock. The kernel drops
 * the lock when the process dies, however it dies, and OFD locks do not care
 * about PID namespaces. The daemon regularly tries the same lock on every
 * claimed channel: if it gets it, the owner is gone, and the daemon resets
 * the channel to FREE (events it had not answered are dropped, as nobody is
 * left to read them). Releasing: with nothing in flight the client stores
 * FREE itself (still holding its lock); otherwise it stores RELEASED, and the
 * daemon frees the channel on its next drain.
 *
 * WAKE-UPS. Both sides spin briefly, then sleep on a futex (a shared 32-bit
 * word). Before sleeping, a side sets its "sleeping" flag, issues a seq_cst
 * fence, and checks its ring once more; after publishing, the other side
 * issues a seq_cst fence and makes the futex system call only if the flag is
 * set. So while both sides are busy, no system call is made at all. The
 * publishing half is muse__wake (part 3), for both directions.
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
 */

/* ---- sizes and states --------------------------------------------------- */

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

/* ---- the segment header ------------------------------------------------- */

/** One intent a tenant may submit: written by the daemon under intent_seq. */
typedef struct muse_intent_entry {
    char name[MUSE_INTENT_NAME_SIZE]; /* NUL-terminated, e.g. "card-not-present" */
    uint32_t id;                      /* what muse_event_header.intent_id carries */
    uint32_t feature_count;           /* features every event of this intent carries */
    uint64_t schema_hash;             /* FNV-1a of the feature names, "\n"-joined */
} muse_intent_entry;

/**
 * THE SCHEMA AREA (ABI 1.1). schema_size bytes at schema_offset, written by
 * the daemon under intent_seq together with the intent table:
 *
 *     muse_schema_entry index[MUSE_MAX_INTENTS]   entry i describes intents[i]
 *     names                                       the bytes the entries point at
 *
 * Entry i locates intents[i]'s ordered feature names, joined by "\n" with no
 * terminator: exactly the bytes whose FNV-1a is intents[i].schema_hash. A
 * feature name is 1..255 bytes of anything but "\n" and NUL. size 0 with
 * feature_count > 0 means the names did not fit (never for the demo intents).
 */
typedef struct muse_schema_entry {
    uint32_t offset;                  /* from the start of the schema area */
    uint32_t size;                    /* bytes of the joined names */
} muse_schema_entry;

/** Bytes of the schema area's index. */
#define MUSE_SCHEMA_INDEX_SIZE (MUSE_MAX_INTENTS * 8u)
/** Bytes of the longest feature name the schema area carries. */
#define MUSE_FEATURE_NAME_MAX 255u

/**
 * The first MUSE_HEADER_SIZE bytes of a segment. The daemon writes every
 * field; clients only write daemon_doorbell and daemon_prepare. The layout fields (magic ..
 * tenant) are written once, before `magic` is stored with release order.
 */
struct muse_segment_header {
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
    uint64_t heartbeat_ns;          /* daemon's CLOCK_MONOTONIC, refreshed every 50-200 ms */
    uint64_t generation_id;         /* the model generation serving this tenant */
    uint32_t daemon_state;          /* MUSE_DAEMON_* */
    uint32_t daemon_pid;            /* in the daemon's PID namespace; informational */
    uint8_t liveness_reserved[MUSE_LINE_SIZE - 32];
    /* Daemon wake-up. Offset 256. */
    uint32_t daemon_doorbell;       /* futex word: clients (and mused, to wake its own workers) add 1
                                       (seq_cst) and wake; the daemon loads acquire */
    uint32_t daemon_sleeping;       /* daemon writes (seq_cst or/and, then a seq_cst fence): bit w set while its
                                       worker w may sleep; clients read relaxed after their own fence */
    uint32_t daemon_prepare;        /* clients add 1 (seq_cst) before a muse_prepare ring; the
                                       daemon reads it after a wake (carved from reserved space
                                       after ABI 1.1: a daemon that does not know it ignores it) */
    uint8_t doorbell_reserved[MUSE_LINE_SIZE - 12];
    /* Intents. Offset 384. A seqlock: the daemon makes intent_seq odd, rewrites
     * the table, then makes it even (release); readers retry while it is odd
     * or changed. */
    uint32_t intent_seq;
    uint32_t intent_count;
    /* ABI 1.1: the schema area (feature names), layout fields written once at
     * creation like those above; zero in a 1.0 segment (no names). Its
     * contents change only under intent_seq. Offset 392. */
    uint64_t schema_offset;         /* from the segment start; >= header_size, ends <= channels_offset */
    uint32_t schema_size;           /* bytes of the area */
    uint32_t schema_reserved;
    uint8_t intent_reserved[MUSE_LINE_SIZE - 24];
    muse_intent_entry intents[MUSE_MAX_INTENTS]; /* offset 512 */
    uint8_t tail_reserved[MUSE_HEADER_SIZE - 512 - MUSE_MAX_INTENTS * 64];
};

/* ---- a channel ---------------------------------------------------------- */

/**
 * The control block at the start of each channel. Each line says who writes.
 */
struct muse_channel_control {
    /* Claim line. */
    uint32_t state;             /* client, holding the claim lock: FREE->CLAIMED (CAS acq_rel),
                                   ->RELEASED or (nothing in flight) ->FREE (release);
                                   daemon, holding the lock: ->FREE (release). Acquire loads. */
    uint32_t owner_pid;         /* client, plain store; its own PID namespace's view; informational */
    uint64_t claims;            /* client: +1 per claim (atomic add, release); lets the daemon see a re-claim */
    uint32_t fault;             /* daemon, relaxed: last muse_status it saw on this channel's indices */
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
    uint32_t client_doorbell;   /* futex word: the daemon adds 1 (seq_cst) and wakes; client loads acquire */
    uint32_t client_sleeping;   /* client, relaxed + seq_cst fence: 1 while it may sleep in muse_wait;
                                   daemon reads relaxed after its own fence */
    uint8_t wake_reserved[MUSE_LINE_SIZE - 8];
};

/**
 * A submission slot starts with this header; feature_count IEEE-754 doubles
 * follow it (muse_event_features). NaN means "missing". The client writes a
 * slot with plain stores before it publishes sq_tail (release); the daemon
 * reads it after loading sq_tail (acquire). A completion (muse_completion,
 * part 1) is the same the other way: the daemon writes it, then publishes
 * cq_tail.
 */
typedef struct muse_event_header {
    uint64_t tag;               /* the client's; echoed in the completion */
    uint32_t intent_id;         /* muse_intent_entry.id */
    uint32_t feature_count;     /* <= max_features, == the intent's feature_count */
} muse_event_header;

MUSE_STATIC_ASSERT(sizeof(muse_intent_entry) == 64, "intent entry is 64 bytes");
MUSE_STATIC_ASSERT(offsetof(muse_segment_header, tenant) == 64, "tenant at 64");
MUSE_STATIC_ASSERT(offsetof(muse_segment_header, incarnation) == 128, "liveness at 128");
MUSE_STATIC_ASSERT(offsetof(muse_segment_header, daemon_doorbell) == 256, "doorbell at 256");
MUSE_STATIC_ASSERT(offsetof(muse_segment_header, daemon_prepare) == 264, "prepare word at 264");
MUSE_STATIC_ASSERT(offsetof(muse_segment_header, intent_seq) == 384, "intent seqlock at 384");
MUSE_STATIC_ASSERT(offsetof(muse_segment_header, schema_offset) == 392, "schema area offset at 392");
MUSE_STATIC_ASSERT(offsetof(muse_segment_header, schema_size) == 400, "schema area size at 400");
MUSE_STATIC_ASSERT(offsetof(muse_segment_header, intents) == 512, "intents at 512");
MUSE_STATIC_ASSERT(sizeof(muse_schema_entry) == 8, "schema entry is 8 bytes");
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

/* ---- layout arithmetic -------------------------------------------------- */

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

/** Address of channel `index` in a mapped segment whose layout was checked. */
static inline muse_channel_control *muse_channel_at(void *base, uint64_t channels_offset,
                                                     uint64_t channel_stride, uint32_t index) {
    return (muse_channel_control *)(void *)((unsigned char *)base + channels_offset
                                            + (uint64_t)index * channel_stride);
}

/** Features of a submission slot. */
static inline double *muse_event_features(muse_event_header *event) {
    return (double *)(void *)((unsigned char *)event + sizeof(muse_event_header));
}

/** FNV-1a over a byte string: how muse_intent_entry.schema_hash is made. */
static inline uint64_t muse_fnv1a(const void *bytes, size_t length, uint64_t hash) {
    const unsigned char *p = (const unsigned char *)bytes;
    for (size_t i = 0; i < length; i++) { hash ^= p[i]; hash *= UINT64_C(0x100000001b3); }
    return hash;
}
#define MUSE_FNV1A_SEED 0xcbf29ce484222325ULL

/* ======================================================================== */
/* PART 3. INTERNALS: NOT API                                                */
/* ======================================================================== */

/*
 * Everything named muse__ from here on serves this header's own functions
 * (part 4) and Muse's daemon, tools and tests, which are built from the same
 * tree (MUSE_TEST_HOOK_POLL_READ is a hook for those tests). A release may change or remove any of it; a client must not
 * call it. A binding that speaks the protocol without this header needs
 * only part 2; what follows is one way of doing it.
 */

/* ---- atomics, the clock, futexes, locks --------------------------------- */

/* The only ways a field shared between the sides is touched (MEMORY ORDER). */
static inline uint64_t muse__atomic_load_acquire_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline uint64_t muse__atomic_load_relaxed_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void muse__atomic_store_release_u64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline uint32_t muse__atomic_load_acquire_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline uint32_t muse__atomic_load_relaxed_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void muse__atomic_store_release_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline void muse__atomic_store_relaxed_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
static inline uint32_t muse__atomic_add_u32(uint32_t *p, uint32_t v) { return __atomic_add_fetch(p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t muse__atomic_or_u32(uint32_t *p, uint32_t v) { return __atomic_or_fetch(p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t muse__atomic_and_u32(uint32_t *p, uint32_t v) { return __atomic_and_fetch(p, v, __ATOMIC_SEQ_CST); }
static inline int muse__atomic_cas_u32(uint32_t *p, uint32_t expected, uint32_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
static inline void muse__atomic_fence_seq_cst(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

/* A pause for spin loops: lets the sibling hyperthread run. */
static inline void muse__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* CLOCK_MONOTONIC in nanoseconds: the clock of heartbeat_ns. */
static inline uint64_t muse__now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* Sleeps while *word == expected, at most timeout_ns (< 0: forever). Shared
 * (not FUTEX_PRIVATE) because the word lives in a file mapping. */
static inline int muse__futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    return (int)syscall(SYS_futex, word, FUTEX_WAIT, expected, tsp, NULL, 0);
}

/* Wakes every sleeper on *word. */
static inline int muse__futex_wake(uint32_t *word) {
    return (int)syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Takes (type F_WRLCK) or drops (F_UNLCK) an OFD lock on one byte, without
 * blocking. Returns 0, or -1 with errno (EAGAIN/EACCES: someone holds it). */
static inline int muse__ofd_lock_byte(int fd, uint64_t offset, short type) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)offset;
    fl.l_len = 1;
    return fcntl(fd, F_OFD_SETLK, &fl);
}

/* ---- the wake-up protocol, publishing side ------------------------------ */

/* Rings a doorbell unconditionally: +1 on the futex word (seq_cst), then wake
 * every sleeper on it. The +1 makes a sleeper that read the word before it
 * went to sleep find it changed, so the wake cannot be lost in between. */
static inline void muse__ring(uint32_t *doorbell) {
    muse__atomic_add_u32(doorbell, 1);
    muse__futex_wake(doorbell);
}

/* The one publishing half of WAKE-UPS, for both directions (a client waking
 * mused through daemon_doorbell/daemon_sleeping, mused waking a client
 * through client_doorbell/client_sleeping). Called after the publication
 * (a release store of an index, or a state change the sleeper must see):
 * a seq_cst fence, then one relaxed look at the sleeper's flag; only if it is
 * set, `*announce` (if not NULL) gets +1 first, then the doorbell rings. The
 * fence pairs with the sleeper's fence between setting its flag and checking
 * its ring again: either that check sees the publication, or this look sees
 * the flag. Returns nonzero if it rang. No system call while the sleeper is
 * awake. */
static inline int muse__wake(uint32_t *doorbell, const uint32_t *sleeping, uint32_t *announce) {
    muse__atomic_fence_seq_cst();
    if (!muse__atomic_load_relaxed_u32(sleeping)) return 0;
    /* Before the doorbell: the woken side reads the count after the bell. */
    if (announce) muse__atomic_add_u32(announce, 1);
    muse__ring(doorbell);
    return 1;
}

/* muse__wake towards mused, for a client: after a submission, a release or a
 * prepare (which also counts itself in daemon_prepare). */
static inline int muse__wake_daemon(muse_client *client, int prepare) {
    muse_segment_header *h = client->header;
    return muse__wake(&h->daemon_doorbell, &h->daemon_sleeping, prepare ? &h->daemon_prepare : NULL);
}

/* ---- the intent table's one reader -------------------------------------- */

/* What one consistent reading of the intent table found about one intent. */
typedef struct muse__intent_reading {
    muse_intent_info info;
    uint32_t names_size;        /* bytes of its joined feature names: 0 if the segment has no
                                   schema area, the names did not fit it, or the entry is out of bounds */
    int names_copied;           /* names_size < capacity: the names were copied (unterminated) */
} muse__intent_reading;

/* Finds one intent, by name (`name` not NULL) or else by `id`, under the
 * intent_seq seqlock (the daemon makes it odd, rewrites, makes it even with
 * release): reads the sequence (acquire), the table, an acquire fence, the
 * sequence again (relaxed), and retries while it was odd or moved. If the
 * segment has a schema area and `names` has room for the names and a NUL,
 * the names are copied within the same reading, so they belong to the entry
 * returned. Bounds come from the client's copy of the layout: a torn or
 * hostile entry can make the read fail, never stray. Returns MUSE_OK,
 * MUSE_E_UNKNOWN_INTENT, or MUSE_E_AGAIN when the table kept changing. */
static inline muse_status muse__read_intent(const muse_client *client, const char *name, uint32_t id,
                                            char *names, size_t capacity, muse__intent_reading *out) {
    const muse_segment_header *h = client->header;
    const unsigned char *area = client->schema_size ? client->base + client->schema_offset : NULL;
    for (int attempt = 0; attempt < 1000; attempt++) {
        uint32_t seq = muse__atomic_load_acquire_u32(&h->intent_seq);
        uint32_t count;
        int found = 0;
        muse__intent_reading got;
        memset(&got, 0, sizeof got);
        if (seq & 1u) { muse__cpu_relax(); continue; }
        count = muse__atomic_load_relaxed_u32(&h->intent_count);
        if (count > MUSE_MAX_INTENTS) count = MUSE_MAX_INTENTS;
        for (uint32_t i = 0; i < count && !found; i++) {
            const muse_intent_entry *e = &h->intents[i];
            if (name ? strncmp(e->name, name, MUSE_INTENT_NAME_SIZE) != 0 : e->id != id) continue;
            found = 1;
            got.info.id = e->id;
            got.info.feature_count = e->feature_count;
            got.info.schema_hash = e->schema_hash;
            if (area) {
                const muse_schema_entry *s = (const muse_schema_entry *)(const void *)area + i;
                uint32_t offset = s->offset, size = s->size;
                if ((uint64_t)offset < MUSE_SCHEMA_INDEX_SIZE || (uint64_t)offset + size > client->schema_size) size = 0;
                got.names_size = size;
                got.names_copied = (size_t)size < capacity;
                if (got.names_copied && size) memcpy(names, area + offset, size);
            }
        }
        /* Order the table reads before the second sequence read. */
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (muse__atomic_load_relaxed_u32(&h->intent_seq) != seq) continue;
        if (!found) return MUSE_E_UNKNOWN_INTENT;
        *out = got;
        return MUSE_OK;
    }
    return MUSE_E_AGAIN;
}

/* ---- the claim registry ------------------------------------------------- */

/* The process's claims, one registry per copy of this header's code (per
 * translation unit in header-only mode, one in libmuse.so). A channel records
 * which registry holds its claim, so any copy of the code releases it right.
 *
 * Every claim holds an OFD lock on a file description of its own (opened with
 * O_CLOEXEC), never shared with another claim: unlocking one claim can never
 * drop another's lock, whichever thread does it. `lock` serialises claims,
 * releases, muse_close and fork(): a pthread_atfork handler takes it before
 * fork, so a child never inherits a half-made claim, and in the child it
 * closes every inherited claim descriptor (the parent's claims stay the
 * parent's: when the parent dies its channels are reclaimed, whatever the
 * child does) and adds one to `forks`, which makes every call on an
 * inherited channel return MUSE_E_FORKED. */
typedef struct muse__claim_record {
    uint64_t id;
    const muse_client *client;
    muse_channel_control *control;
    int fd;
} muse__claim_record;

struct muse__registry {
    pthread_mutex_t lock;
    uint32_t forks;             /* fork()s between this process and the one that first used this
                                   registry: +1 in each child, by the child's only thread, under
                                   lock (relaxed store); read relaxed */
    uint32_t count;             /* records in use, under lock */
    uint32_t capacity;          /* records allocated, under lock */
    uint64_t next_id;           /* under lock */
    muse__claim_record *records;
};

static inline void muse__registry_prepare(void);
static inline void muse__registry_parent(void);
static inline void muse__registry_child(void);

static inline muse__registry *muse__registry_instance(void) {
    static muse__registry registry = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 1, NULL };
    return &registry;
}

static inline void muse__registry_prepare(void) { pthread_mutex_lock(&muse__registry_instance()->lock); }
static inline void muse__registry_parent(void) { pthread_mutex_unlock(&muse__registry_instance()->lock); }

/* In the child of fork(): single-threaded, the registry lock held by this
 * thread (taken by the prepare handler). Drops every inherited claim: closing
 * the child's copy of each claim descriptor leaves the parent's the only
 * reference, so the lock ends when the parent ends. Shared memory is not
 * touched: the channels still belong to the parent. */
static inline void muse__registry_child(void) {
    muse__registry *r = muse__registry_instance();
    for (uint32_t i = 0; i < r->count; i++) close(r->records[i].fd);
    r->count = 0;
    __atomic_store_n(&r->forks, r->forks + 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&r->lock);
}

static inline void muse__registry_install(void) {
    pthread_atfork(muse__registry_prepare, muse__registry_parent, muse__registry_child);
}

/* The registry, with its fork handlers registered on first use. */
static inline muse__registry *muse__registry_get(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, muse__registry_install);
    return muse__registry_instance();
}

/* Doubles the record table. Under r->lock. Memory comes from mmap, not
 * malloc: <stdlib.h> would drag <sys/select.h> into this header, whose
 * _GNU_SOURCE view of fd_set clashes with Swift's Glibc module. The table of
 * one copy of the code lives as long as the process. */
static inline int muse__registry_grow(muse__registry *r) {
    uint32_t capacity = r->capacity ? r->capacity * 2 : 128;
    size_t bytes = (size_t)capacity * sizeof *r->records;
    void *grown = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (grown == MAP_FAILED) return -1;
    if (r->records) {
        memcpy(grown, r->records, (size_t)r->count * sizeof *r->records);
        munmap(r->records, (size_t)r->capacity * sizeof *r->records);
    }
    r->records = (muse__claim_record *)grown;
    r->capacity = capacity;
    return 0;
}

/* Index of the record with `id`, or -1. Under r->lock. */
static inline int64_t muse__registry_find(const muse__registry *r, uint64_t id) {
    for (uint32_t i = 0; i < r->count; i++)
        if (r->records[i].id == id) return (int64_t)i;
    return -1;
}

/* Removes record i (order does not matter). Under r->lock. */
static inline void muse__registry_remove(muse__registry *r, uint32_t i) {
    r->records[i] = r->records[r->count - 1];
    r->count--;
}

/* Nonzero if `ch` was claimed in this process, not inherited through fork().
 * One relaxed load: the fork count changes only in a new child, before any
 * other thread exists there. */
static inline int muse__owned(const muse_channel *ch) {
    return __atomic_load_n(&ch->registry->forks, __ATOMIC_RELAXED) == ch->forks_at_claim;
}

/* A new file description of the segment (so a new OFD lock owner): through
 * /proc/self/fd, which names the very file open as client->fd, else by path,
 * checked to be the same file. O_CLOEXEC so exec() drops it too. */
static inline int muse__reopen(const muse_client *client) {
    char proc[64];
    struct stat st;
    int fd;
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", client->fd);
    fd = open(proc, O_RDWR | O_CLOEXEC);
    if (fd < 0) fd = open(client->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_dev != client->device || (uint64_t)st.st_ino != client->inode) {
        close(fd);
        errno = ESTALE;
        return -1;
    }
    return fd;
}

/* Gives a claimed channel back; the caller holds r->lock and the claim's
 * lock (on `fd`). `sq_tail` and `cq_head` are what this client published.
 *
 * If nothing is in flight the client frees the channel itself. The daemon's
 * private head for the channel (ChannelEndpoint.head) only moves in a drain
 * that answers submissions, and a drain publishes cq_tail = sq_head = head
 * before it returns; with sq_tail == cq_tail nothing is left to drain, so
 * head == cq_tail, and all four indices equal to it are exactly the
 * quiescent state the daemon's reclaim would have written. Otherwise the
 * state becomes RELEASED and the daemon is woken: it frees the channel on its
 * next drain, dropping what was left unanswered.
 *
 * The state is stored while the claim's lock is still held, then the lock
 * dropped: storing after unlocking could overwrite the CLAIMED of a client
 * that claimed the channel in between. Returns nonzero if mused should be
 * woken (muse__wake_daemon) once the lock is dropped: ringing after the
 * unlock means the lock is free when mused tries it. */
static inline int muse__give_back(muse_channel_control *c, uint64_t sq_tail, uint64_t cq_head) {
    /* Everything submitted is answered and read. sq_head is not looked at:
     * mused stores it just after cq_tail (never before), to the same value,
     * so a client that read an answer in between has nothing in flight. */
    uint64_t cq_tail = muse__atomic_load_acquire_u64(&c->cq_tail);
    if (sq_tail == cq_tail && cq_head == cq_tail) {
        muse__atomic_store_release_u32(&c->state, MUSE_CHANNEL_FREE);
        return 0;
    }
    muse__atomic_store_release_u32(&c->state, MUSE_CHANNEL_RELEASED);
    return 1;
}

/* ---- the client's rings ------------------------------------------------- */

/* Test hook: runs inside muse_poll between reading cq_tail and publishing
 * cq_head, so a test can reproduce a preemption there. Empty unless a test
 * defines it before including this header. */
#ifndef MUSE_TEST_HOOK_POLL_READ
#  define MUSE_TEST_HOOK_POLL_READ(channel) ((void)0)
#endif

/* Writes one event into the next slot without publishing it. Returns 0 if
 * the submission ring is full (sq_head, re-read only then, says so). */
static inline int muse__stage(muse_channel *ch, uint64_t tag, uint32_t intent_id,
                              const double *features, uint32_t feature_count) {
    muse_client *client = ch->client;
    muse_event_header *slot;
    if (ch->sq_tail - ch->sq_head_cache >= ch->depth) {
        ch->sq_head_cache = muse__atomic_load_acquire_u64(&ch->control->sq_head);
        if (ch->sq_tail - ch->sq_head_cache >= ch->depth) return 0;
    }
    slot = (muse_event_header *)(void *)(ch->submissions + (ch->sq_tail & ch->mask) * client->slot_size);
    slot->tag = tag;
    slot->intent_id = intent_id;
    slot->feature_count = feature_count;
    if (feature_count) memcpy(muse_event_features(slot), features, (size_t)feature_count * sizeof(double));
    ch->sq_tail++;
    return 1;
}

/* One look at the completion ring for muse_wait_idle's loops: MUSE_OK with
 * *count >= 1 (copied by muse_poll); MUSE_E_AGAIN, nothing yet;
 * MUSE_E_CORRUPT when cq_tail is out of range, also if it moved out of range
 * between this look and muse_poll's. */
static inline muse_status muse__take(muse_channel *ch, muse_completion *out, size_t max, size_t *count) {
    uint64_t available = muse__atomic_load_acquire_u64(&ch->control->cq_tail) - ch->cq_head;
    size_t n;
    if (available > ch->depth) return MUSE_E_CORRUPT;
    if (available == 0) return MUSE_E_AGAIN;
    n = muse_poll(ch, out, max);
    if (n == 0) return MUSE_E_CORRUPT;
    *count = n;
    return MUSE_OK;
}

/* ---- the process environment -------------------------------------------- */

/* The process's environment, as unistd.h declares it under _GNU_SOURCE
 * (declared here too, for a header included after others without it). */
extern char **environ;

/* $MUSE_RUNTIME_DIR if set and not empty, else NULL. Read from `environ`
 * rather than with getenv: <stdlib.h> would bring in <sys/select.h>, whose
 * fd_set then clashes with the C library's own module in Swift importers. */
static inline const char *muse__runtime_dir_from_environment(void) {
    static const char key[] = "MUSE_RUNTIME_DIR=";
    for (char **e = environ; e && *e; e++)
        if (!strncmp(*e, key, sizeof key - 1)) return (*e)[sizeof key - 1] ? *e + sizeof key - 1 : NULL;
    return NULL;
}

/* ---- former names ------------------------------------------------------- */

/* The names part 3's helpers had in release 1.3.0 and before, when they sat
 * beside the API, so a C program that called them still compiles. They go
 * in the next major release; define MUSE_NO_FORMER_NAMES to check that a
 * program no longer needs them (Muse's own code builds that way). */
#ifndef MUSE_NO_FORMER_NAMES
#  define muse_atomic_load_acquire_u64 muse__atomic_load_acquire_u64
#  define muse_atomic_load_relaxed_u64 muse__atomic_load_relaxed_u64
#  define muse_atomic_store_release_u64 muse__atomic_store_release_u64
#  define muse_atomic_load_acquire_u32 muse__atomic_load_acquire_u32
#  define muse_atomic_load_relaxed_u32 muse__atomic_load_relaxed_u32
#  define muse_atomic_store_release_u32 muse__atomic_store_release_u32
#  define muse_atomic_store_relaxed_u32 muse__atomic_store_relaxed_u32
#  define muse_atomic_add_u32 muse__atomic_add_u32
#  define muse_atomic_or_u32 muse__atomic_or_u32
#  define muse_atomic_and_u32 muse__atomic_and_u32
#  define muse_atomic_cas_u32 muse__atomic_cas_u32
#  define muse_atomic_fence_seq_cst muse__atomic_fence_seq_cst
#  define muse_cpu_relax muse__cpu_relax
#  define muse_now_ns muse__now_ns
#  define muse_futex_wait muse__futex_wait
#  define muse_futex_wake muse__futex_wake
#  define muse_ofd_lock_byte muse__ofd_lock_byte
#endif

/* ======================================================================== */
/* PART 4. THE CLIENT API'S DEFINITIONS                                      */
/* ======================================================================== */

/* In part 1's order; each function's contract is its declaration there. */

/* ---- opening and closing ------------------------------------------------ */

MUSE_API muse_status muse_open(muse_client *client, const char *segment_path) {
    struct stat st;
    const muse_segment_header *h;
    void *base;
    int fd;
    size_t path_length;
    if (!client) return MUSE_E_INVALID;
    memset(client, 0, sizeof *client);
    client->fd = -1;
    if (!segment_path) return MUSE_E_INVALID;
    path_length = strlen(segment_path);
    if (path_length == 0 || path_length >= MUSE_PATH_SIZE) return MUSE_E_INVALID;
    fd = open(segment_path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return MUSE_E_SYSTEM;
    if (fstat(fd, &st) != 0) { int e = errno; close(fd); errno = e; return MUSE_E_SYSTEM; }
    if ((uint64_t)st.st_size < MUSE_HEADER_SIZE) { close(fd); return MUSE_E_NOT_READY; }
    base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) { int e = errno; close(fd); errno = e; return MUSE_E_SYSTEM; }
    h = (const muse_segment_header *)base;
    if (muse__atomic_load_acquire_u64(&h->magic) != MUSE_MAGIC || h->abi_major != MUSE_ABI_MAJOR
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
    /* The schema area must lie between the header and channel 0; a 1.0
     * segment has none (its bytes there are reserved zeroes). */
    if (h->abi_minor >= 1 && h->schema_size != 0) {
        if (h->schema_offset < h->header_size || h->schema_size < MUSE_SCHEMA_INDEX_SIZE
            || h->schema_offset + h->schema_size > h->channels_offset) {
            munmap(base, (size_t)st.st_size);
            close(fd);
            return MUSE_E_ABI;
        }
        client->schema_offset = h->schema_offset;
        client->schema_size = h->schema_size;
    }
    client->abi_minor = h->abi_minor;
    client->device = (uint64_t)st.st_dev;
    client->inode = (uint64_t)st.st_ino;
    memcpy(client->path, segment_path, path_length + 1);
    return MUSE_OK;
}

MUSE_API muse_status muse_open_tenant(muse_client *client, const char *runtime_dir, const char *tenant) {
    char path[MUSE_PATH_SIZE];
    int n;
    if (client) { memset(client, 0, sizeof *client); client->fd = -1; }
    if (!tenant || !*tenant || strchr(tenant, '/')) return MUSE_E_INVALID;
    if (!runtime_dir) runtime_dir = muse__runtime_dir_from_environment();
    n = snprintf(path, sizeof path, "%s/%s%s", runtime_dir ? runtime_dir : MUSE_DEFAULT_RUNTIME_DIR,
                 tenant, MUSE_SEGMENT_SUFFIX);
    if (n < 0 || (size_t)n >= sizeof path) return MUSE_E_INVALID;
    return muse_open(client, path);
}

MUSE_API void muse_close(muse_client *client) {
    muse__registry *r;
    int wake = 0;
    if (!client || !client->base) return;
    r = muse__registry_get();
    pthread_mutex_lock(&r->lock);
    for (uint32_t i = 0; i < r->count;) {
        muse__claim_record *rec = &r->records[i];
        if (rec->client != client) { i++; continue; }
        wake |= muse__give_back(rec->control, muse__atomic_load_acquire_u64(&rec->control->sq_tail),
                                muse__atomic_load_acquire_u64(&rec->control->cq_head));
        close(rec->fd);
        muse__registry_remove(r, i);
    }
    pthread_mutex_unlock(&r->lock);
    if (wake) muse__wake_daemon(client, 0);
    munmap(client->base, (size_t)client->size);
    close(client->fd);
    memset(client, 0, sizeof *client);
    client->fd = -1;
}

/* ---- channels ----------------------------------------------------------- */

MUSE_API muse_status muse_claim(muse_client *client, muse_channel *channel) {
    muse__registry *r;
    muse_status result = MUSE_E_NO_CHANNEL;
    int fd;
    if (!client || !client->base || !channel) return MUSE_E_INVALID;
    r = muse__registry_get();
    /* Held from before the descriptor exists until it is recorded: a fork()
     * meanwhile would give the child a lock-holding descriptor the child's
     * handler does not know about. */
    pthread_mutex_lock(&r->lock);
    if (r->count == r->capacity && muse__registry_grow(r) != 0) {
        int e = errno;
        pthread_mutex_unlock(&r->lock);
        errno = e;
        return MUSE_E_SYSTEM;
    }
    fd = muse__reopen(client);
    if (fd < 0) { int e = errno; pthread_mutex_unlock(&r->lock); errno = e; return MUSE_E_SYSTEM; }
    for (uint32_t i = 0; i < client->channel_count; i++) {
        muse_channel_control *c = muse_channel_at(client->base, client->channels_offset,
                                                  client->channel_stride, i);
        uint64_t offset = (uint64_t)((unsigned char *)c - client->base);
        uint64_t sq_tail, sq_head, cq_tail, cq_head;
        if (muse__atomic_load_relaxed_u32(&c->state) != MUSE_CHANNEL_FREE) continue;
        if (muse__ofd_lock_byte(fd, offset, F_WRLCK) != 0) {
            if (errno == EAGAIN || errno == EACCES) continue;
            result = MUSE_E_SYSTEM;
            break;
        }
        /* Holding the lock: no other claim (on its own description) and no
         * daemon reclaim can hold it now. Take the channel only if FREE and
         * quiescent (the daemon resets all four indices to one value). */
        sq_tail = muse__atomic_load_acquire_u64(&c->sq_tail);
        sq_head = muse__atomic_load_acquire_u64(&c->sq_head);
        cq_tail = muse__atomic_load_acquire_u64(&c->cq_tail);
        cq_head = muse__atomic_load_acquire_u64(&c->cq_head);
        if (sq_tail != sq_head || sq_head != cq_tail || cq_tail != cq_head
            || !muse__atomic_cas_u32(&c->state, MUSE_CHANNEL_FREE, MUSE_CHANNEL_CLAIMED)) {
            /* Drops only this description's lock: ours alone. */
            muse__ofd_lock_byte(fd, offset, F_UNLCK);
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
        channel->depth = client->ring_depth;
        channel->sq_tail = sq_tail;
        channel->sq_head_cache = sq_head;
        channel->cq_head = cq_head;
        channel->registry = r;
        channel->claim_id = r->next_id++;
        channel->forks_at_claim = r->forks;
        r->records[r->count].id = channel->claim_id;
        r->records[r->count].client = client;
        r->records[r->count].control = c;
        r->records[r->count].fd = fd;
        r->count++;
        pthread_mutex_unlock(&r->lock);
        return MUSE_OK;
    }
    {
        int e = errno;
        close(fd);
        pthread_mutex_unlock(&r->lock);
        errno = e;
    }
    return result;
}

MUSE_API void muse_release(muse_channel *channel) {
    muse__registry *r;
    int64_t i;
    int wake = 0;
    if (!channel || !channel->control || !channel->registry) return;
    r = channel->registry;
    pthread_mutex_lock(&r->lock);
    i = muse__registry_find(r, channel->claim_id);
    /* Absent: muse_close gave it back already, or fork() dropped it. */
    if (i >= 0) {
        wake = muse__give_back(channel->control, channel->sq_tail, channel->cq_head);
        close(r->records[i].fd);
        muse__registry_remove(r, (uint32_t)i);
    }
    pthread_mutex_unlock(&r->lock);
    /* The mapping is still there: the client outlives its channels. */
    if (wake) muse__wake_daemon(channel->client, 0);
    channel->control = NULL;
}

/* ---- intents and their features ----------------------------------------- */

MUSE_API muse_status muse_lookup_intent(const muse_client *client, const char *name, muse_intent_info *out) {
    muse__intent_reading found;
    muse_status status;
    if (!client || !client->base || !name || !out) return MUSE_E_INVALID;
    status = muse__read_intent(client, name, 0, NULL, 0, &found);
    if (status == MUSE_OK) *out = found.info;
    return status;
}

MUSE_API muse_status muse_lookup_feature(const muse_client *client, const char *intent, const char *feature,
                                         uint32_t *index) {
    char *names;
    size_t length = 0, wanted;
    muse_status status;
    if (!client || !client->base || !intent || !feature || !index) return MUSE_E_INVALID;
    wanted = strlen(feature);
    if (client->schema_size == 0) return MUSE_E_NO_SCHEMA;
    /* mmap rather than malloc: see muse__registry_grow. */
    names = (char *)mmap(NULL, (size_t)client->schema_size + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
    if ((void *)names == MAP_FAILED) return MUSE_E_SYSTEM;
    status = muse_intent_features(client, intent, names, (size_t)client->schema_size + 1, &length, NULL);
    if (status == MUSE_OK) {
        const char *p = names, *end = names + length;
        uint32_t position = 0;
        status = MUSE_E_UNKNOWN_FEATURE;
        while (p <= end) {
            const char *stop = (const char *)memchr(p, '\n', (size_t)(end - p));
            size_t n = stop ? (size_t)(stop - p) : (size_t)(end - p);
            if (n == wanted && memcmp(p, feature, n) == 0) { *index = position; status = MUSE_OK; break; }
            if (!stop) break;
            p = stop + 1;
            position++;
        }
    }
    munmap(names, (size_t)client->schema_size + 1);
    return status;
}

MUSE_API muse_status muse_intent_features(const muse_client *client, const char *intent, char *names,
                                          size_t capacity, size_t *length, muse_intent_info *info) {
    muse__intent_reading found;
    muse_status status;
    if (length) *length = 0;
    if (!client || !client->base || !intent || (!names && capacity)) return MUSE_E_INVALID;
    if (client->schema_size == 0) return MUSE_E_NO_SCHEMA;
    status = muse__read_intent(client, intent, 0, names, capacity, &found);
    if (status != MUSE_OK) return status;
    if (found.names_size == 0 && found.info.feature_count > 0) return MUSE_E_NO_SCHEMA;
    if (length) *length = found.names_size;
    if (info) *info = found.info;
    if (!found.names_copied) return MUSE_E_AGAIN;
    names[found.names_size] = 0;
    if (muse_fnv1a(names, found.names_size, MUSE_FNV1A_SEED) != found.info.schema_hash) return MUSE_E_SCHEMA_MISMATCH;
    return MUSE_OK;
}

MUSE_API muse_status muse_check_schema(const muse_client *client, const muse_intent_info *intent,
                                       const char *const *names, size_t count) {
    muse__intent_reading found;
    muse_status status;
    if (!client || !client->base || !intent || (!names && count)) return MUSE_E_INVALID;
    if (count != intent->feature_count || muse_schema_hash(names, count) != intent->schema_hash)
        return MUSE_E_SCHEMA_MISMATCH;
    status = muse__read_intent(client, NULL, intent->id, NULL, 0, &found);
    if (status != MUSE_OK) return status;
    return found.info.schema_hash == intent->schema_hash && found.info.feature_count == intent->feature_count
        ? MUSE_OK : MUSE_E_SCHEMA_MISMATCH;
}

MUSE_API uint64_t muse_schema_hash(const char *const *names, size_t count) {
    uint64_t hash = MUSE_FNV1A_SEED;
    for (size_t i = 0; i < count; i++) {
        if (i) hash = muse_fnv1a("\n", 1, hash);
        if (names[i]) hash = muse_fnv1a(names[i], strlen(names[i]), hash);
    }
    return hash;
}

/* ---- submitting --------------------------------------------------------- */

MUSE_API muse_status muse_prepare(muse_channel *ch) {
    if (!ch || !ch->control) return MUSE_E_INVALID;
    if (!muse__owned(ch)) return MUSE_E_FORKED;
#if defined(__GNUC__)
    {
        /* The slot the next submission writes, fetched for writing while the
         * client computes the event: after a quiet spell it is cold. Its
         * first 512 bytes (the header and 62 features), a 64-byte line at a time. */
        const unsigned char *slot = ch->submissions + (ch->sq_tail & ch->mask) * ch->client->slot_size;
        uint32_t at, bytes = ch->client->slot_size < 512u ? ch->client->slot_size : 512u;
        for (at = 0; at < bytes; at += 64u) __builtin_prefetch(slot + at, 1, 3);
    }
#endif
    muse__wake_daemon(ch->client, 1);
    return MUSE_OK;
}

MUSE_API muse_status muse_submit(muse_channel *ch, uint64_t tag, uint32_t intent_id,
                                 const double *features, uint32_t feature_count) {
    if (!ch || !ch->control || feature_count > ch->client->max_features || (feature_count && !features))
        return MUSE_E_INVALID;
    if (!muse__owned(ch)) return MUSE_E_FORKED;
    if (!muse__stage(ch, tag, intent_id, features, feature_count)) return MUSE_E_AGAIN;
    muse__atomic_store_release_u64(&ch->control->sq_tail, ch->sq_tail);
    muse__wake_daemon(ch->client, 0);
    return MUSE_OK;
}

MUSE_API muse_status muse_submit_many(muse_channel *ch, const muse_request *requests, size_t count,
                                      size_t *accepted) {
    size_t n = 0;
    muse_status status = MUSE_OK;
    if (accepted) *accepted = 0;
    if (!ch || !ch->control || (!requests && count) || !accepted) return MUSE_E_INVALID;
    if (!muse__owned(ch)) return MUSE_E_FORKED;
    for (; n < count; n++) {
        const muse_request *r = &requests[n];
        if (r->feature_count > ch->client->max_features || (r->feature_count && !r->features)) {
            status = MUSE_E_INVALID;
            break;
        }
        if (!muse__stage(ch, r->tag, r->intent_id, r->features, r->feature_count)) {
            status = MUSE_E_AGAIN;
            break;
        }
    }
    if (n) {
        muse__atomic_store_release_u64(&ch->control->sq_tail, ch->sq_tail);
        muse__wake_daemon(ch->client, 0);
    }
    *accepted = n;
    return status;
}

MUSE_API size_t muse_submit_batch(muse_channel *ch, const muse_request *requests, size_t count) {
    size_t n = 0;
    (void)muse_submit_many(ch, requests, count, &n);
    return n;
}

/* ---- reading completions ------------------------------------------------ */

MUSE_API size_t muse_poll(muse_channel *ch, muse_completion *out, size_t max) {
    uint64_t tail, available, head;
    size_t n;
    if (!ch || !ch->control || !out || !muse__owned(ch)) return 0;
    head = ch->cq_head;
    tail = muse__atomic_load_acquire_u64(&ch->control->cq_tail);
    available = tail - head;
    if (available == 0 || available > ch->depth) return 0;
    n = available < max ? (size_t)available : max;
    for (size_t i = 0; i < n; i++) out[i] = ch->completions[(head + i) & ch->mask];
    MUSE_TEST_HOOK_POLL_READ(ch);
    ch->cq_head = head + n;
    muse__atomic_store_release_u64(&ch->control->cq_head, ch->cq_head);
    /*
     * Does mused need waking because we made room? It stops answering a
     * channel while its completion ring is full (cq_tail - cq_head == depth)
     * and may then sleep. That can only happen while more than `depth` events
     * are in flight past our old head (sq_tail - head > depth): otherwise the
     * ring holds every answer still owed and there is nothing left to stall.
     * In that case: fence (seq_cst), then re-read cq_tail. mused, before it
     * sleeps, sets daemon_sleeping, fences, and re-reads cq_head. If our fence
     * came first, mused's re-read sees our new cq_head and it does not sleep
     * on a full ring. If mused's came first, its cq_tail store (made before
     * its fence) is visible to our re-read: then we see the ring was full
     * (tail - head == depth) and ring the doorbell if it sleeps (muse__wake
     * fences once more before it looks at the flag: harmless, and only on
     * this path). Deciding from the cq_tail read before the copy (as ABI 1.0
     * did) misses a ring that filled while we copied, leaving mused asleep
     * until its housekeeping.
     */
    if (ch->sq_tail - head > ch->depth) {
        muse__atomic_fence_seq_cst();
        tail = muse__atomic_load_acquire_u64(&ch->control->cq_tail);
        if (tail - head >= ch->depth) muse__wake_daemon(ch->client, 0);
    }
    return n;
}

MUSE_API uint64_t muse_pending_completions(const muse_channel *ch) {
    uint64_t available = muse__atomic_load_acquire_u64(&ch->control->cq_tail) - ch->cq_head;
    return available > ch->depth ? 0 : available;
}

MUSE_API muse_status muse_wait(muse_channel *ch, muse_completion *out, size_t max,
                               size_t *count, int64_t timeout_ns) {
    return muse_wait_idle(ch, out, max, count, timeout_ns, MUSE_IDLE_ADAPTIVE);
}

MUSE_API muse_status muse_wait_idle(muse_channel *ch, muse_completion *out, size_t max,
                                    size_t *count, int64_t timeout_ns, muse_idle_policy policy) {
    uint64_t start, spin_until, deadline;
    muse_channel_control *c;
    muse_status status;
    if (count) *count = 0;
    if (!ch || !ch->control || !out || !count || max == 0) return MUSE_E_INVALID;
    if (policy != MUSE_IDLE_ADAPTIVE && policy != MUSE_IDLE_BUSY_SPIN && policy != MUSE_IDLE_LOW_POWER)
        return MUSE_E_INVALID;
    if (!muse__owned(ch)) return MUSE_E_FORKED;
    {
        size_t n = muse_poll(ch, out, max);
        if (n > 0) { *count = n; return MUSE_OK; }
    }
    c = ch->control;
    start = muse__now_ns();
    deadline = timeout_ns < 0 ? UINT64_MAX : start + (uint64_t)timeout_ns;
    if (policy == MUSE_IDLE_BUSY_SPIN) {
        /* Spin to the deadline; with none, look at mused every MUSE_WAIT_CHECK_NS.
         * client_sleeping stays 0, so mused never rings this channel. */
        uint64_t next_check = start + (uint64_t)MUSE_WAIT_CHECK_NS;
        for (unsigned spins = 0;; spins++) {
            if ((status = muse__take(ch, out, max, count)) != MUSE_E_AGAIN) return status;
            if ((spins & 63u) == 63u) {
                uint64_t now = muse__now_ns();
                if (now >= deadline) return MUSE_E_TIMEDOUT;
                if (timeout_ns < 0 && now >= next_check) {
                    if (!muse_daemon_alive(ch->client, MUSE_ALIVE_AGE_NS)) return MUSE_E_DAEMON_GONE;
                    next_check = now + (uint64_t)MUSE_WAIT_CHECK_NS;
                }
            }
            muse__cpu_relax();
        }
    }
    if (policy == MUSE_IDLE_ADAPTIVE) {
        spin_until = start + MUSE_SPIN_NS < deadline ? start + MUSE_SPIN_NS : deadline;
        for (unsigned spins = 0;; spins++) {
            if (muse__atomic_load_acquire_u64(&c->cq_tail) != ch->cq_head) break;
            if ((spins & 63u) == 63u && muse__now_ns() >= spin_until) break;
            muse__cpu_relax();
        }
    }
    /* Sleep on the futex, the sleeping half of WAKE-UPS: the client writes
     * client_sleeping (relaxed) and fences seq_cst; mused publishes cq_tail
     * (release), then muse__wake rings client_doorbell only if it sees the
     * flag. */
    for (;;) {
        uint64_t now;
        uint32_t bell;
        if ((status = muse__take(ch, out, max, count)) != MUSE_E_AGAIN) return status;
        now = muse__now_ns();
        if (now >= deadline) return MUSE_E_TIMEDOUT;
        if (timeout_ns < 0 && now - start >= (uint64_t)MUSE_WAIT_CHECK_NS
            && !muse_daemon_alive(ch->client, MUSE_ALIVE_AGE_NS))
            return MUSE_E_DAEMON_GONE;
        bell = muse__atomic_load_acquire_u32(&c->client_doorbell);
        muse__atomic_store_relaxed_u32(&c->client_sleeping, 1);
        muse__atomic_fence_seq_cst(); /* pairs with the fence in mused's muse__wake after it publishes cq_tail */
        if (muse__atomic_load_acquire_u64(&c->cq_tail) == ch->cq_head) {
            int64_t left = deadline == UINT64_MAX ? MUSE_WAIT_CHECK_NS : (int64_t)(deadline - now);
            if (timeout_ns < 0 && left > MUSE_WAIT_CHECK_NS) left = MUSE_WAIT_CHECK_NS;
            muse__futex_wait(&c->client_doorbell, bell, left);
        }
        muse__atomic_store_relaxed_u32(&c->client_sleeping, 0);
    }
}

/* ---- the daemon, statuses, the release ---------------------------------- */

MUSE_API int muse_daemon_alive(const muse_client *client, uint64_t max_age_ns) {
    uint64_t beat = muse__atomic_load_acquire_u64(&client->header->heartbeat_ns);
    uint64_t now = muse__now_ns();
    return muse__atomic_load_acquire_u32(&client->header->daemon_state) == MUSE_DAEMON_SERVING
        && (now < beat || now - beat < max_age_ns);
}

MUSE_API uint64_t muse_incarnation(const muse_client *client) {
    return muse__atomic_load_acquire_u64(&client->header->incarnation);
}

MUSE_API const char *muse_strerror(int32_t status) {
    switch ((muse_status)status) {
    case MUSE_OK: return "ok";
    case MUSE_E_UNKNOWN_INTENT: return "unknown intent id";
    case MUSE_E_FEATURE_COUNT: return "feature count does not match the intent";
    case MUSE_E_NO_ROUTE: return "no predictor is routed for this intent";
    case MUSE_E_OVERLOADED: return "tenant over its rate limit";
    case MUSE_E_NOT_SERVING: return "no model generation is serving";
    case MUSE_E_INTERNAL: return "internal scoring error";
    case MUSE_E_BAD_SCORE: return "the model produced a non-finite score";
    case MUSE_E_AGAIN: return "ring full or empty; try again";
    case MUSE_E_TIMEDOUT: return "timed out";
    case MUSE_E_INVALID: return "invalid argument";
    case MUSE_E_NO_CHANNEL: return "no free channel in the segment";
    case MUSE_E_ABI: return "not a Muse segment of a compatible ABI";
    case MUSE_E_SYSTEM: return "system call failed (see errno)";
    case MUSE_E_NOT_READY: return "segment not initialised yet";
    case MUSE_E_CORRUPT: return "channel indices are corrupt";
    case MUSE_E_DAEMON_GONE: return "mused is not serving (stopped, dead or hung)";
    case MUSE_E_FORKED: return "channel belongs to the parent process (inherited through fork)";
    case MUSE_E_NO_SCHEMA: return "the segment carries no feature names (ABI 1.0 daemon)";
    case MUSE_E_UNKNOWN_FEATURE: return "the intent has no feature of that name";
    case MUSE_E_SCHEMA_MISMATCH: return "feature names differ from the intent's schema";
    }
    return "unknown status";
}

MUSE_API const char *muse_version(void) { return MUSE_VERSION_STRING; }

#ifdef __cplusplus
}
#endif

#endif /* MUSE_H */
