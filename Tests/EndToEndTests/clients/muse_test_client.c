/*
 * A C client of muse.h that the end-to-end tests run as real processes.
 * Every mode prints one result line and exits 0 only if what it checked held.
 * Scores are checked exactly against mused's built-in generation: logistic(sum(x)).
 */
/* The poll wake-up test preempts muse_poll at the point ABI 1.0 got wrong. */
struct muse_channel;
static void (*poll_hook)(struct muse_channel *);
#define MUSE_TEST_HOOK_POLL_READ(channel) (poll_hook ? poll_hook(channel) : (void)0)
#include "muse.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#ifndef MUSE_PATH_SIZE
/* Built against the ABI 1.0 header, to show the issue-9 tests failing there. */
#  define MUSE_OLD_HEADER 1
#  define MUSE_E_BAD_SCORE 7
#  define MUSE_E_DAEMON_GONE 72
#  define MUSE_E_FORKED 73
/* The 1.0 header's names for the helpers muse.h now keeps internal. */
#  define muse__atomic_load_acquire_u32 muse_atomic_load_acquire_u32
#  define muse__atomic_load_acquire_u64 muse_atomic_load_acquire_u64
#  define muse__atomic_or_u32 muse_atomic_or_u32
#  define muse__atomic_store_release_u64 muse_atomic_store_release_u64
#  define muse__cpu_relax muse_cpu_relax
#  define muse__now_ns muse_now_ns
#  define muse__ofd_lock_byte muse_ofd_lock_byte
#endif

#define INTENT "card-not-present"
#define FEATURES 16

static void features_for(uint64_t seq, uint32_t client, double *x) {
    for (int i = 0; i < FEATURES; i++)
        x[i] = (double)((seq * 31u + (uint64_t)i * 7u + client * 13u) % 1000u) / 1000.0 - 0.5;
}

static double expected_score(const double *x) {
    double margin = 0;
    for (int i = 0; i < FEATURES; i++) margin += x[i];
    return 1 / (1 + exp(-margin));
}

static int open_and_claim(const char *dir, const char *tenant, muse_client *c, muse_channel *ch,
                          muse_intent_info *intent, uint64_t claim_timeout_ns) {
    /* "-": the default runtime directory ($MUSE_RUNTIME_DIR, else /run/muse). */
    muse_status s = muse_open_tenant(c, strcmp(dir, "-") ? dir : NULL, tenant);
    if (s != MUSE_OK) { fprintf(stderr, "open: %s (%s)\n", muse_strerror(s), strerror(errno)); return 0; }
    uint64_t until = muse__now_ns() + claim_timeout_ns;
    while ((s = muse_claim(c, ch)) == MUSE_E_NO_CHANNEL && muse__now_ns() < until) usleep(1000);
    if (s != MUSE_OK) { fprintf(stderr, "claim: %s\n", muse_strerror(s)); return 0; }
    if ((s = muse_lookup_intent(c, INTENT, intent)) != MUSE_OK) {
        fprintf(stderr, "lookup: %s\n", muse_strerror(s));
        return 0;
    }
    return 1;
}

static volatile sig_atomic_t stop_requested;

/* "record" mode: stream without the built-in generation's expected score,
 * printing each OK answer as "R SEQ GENERATION SCORE" (%.17g round-trips)
 * for the test to check against the generation that names it. */
static int recording;
static void request_stop(int signal) { (void)signal; stop_requested = 1; }

/* Waits as muse_wait_idle with the named policy ("busy-spin", "adaptive",
 * "low-power"; NULL: muse_wait). The ABI 1.0 header has only muse_wait. */
static muse_status wait_with(const char *policy, muse_channel *ch, muse_completion *out, size_t max,
                             size_t *n, int64_t timeout_ns) {
#ifdef MUSE_OLD_HEADER
    (void)policy;
    return muse_wait(ch, out, max, n, timeout_ns);
#else
    if (!policy) return muse_wait(ch, out, max, n, timeout_ns);
    muse_idle_policy p = !strcmp(policy, "busy-spin") ? MUSE_IDLE_BUSY_SPIN
                       : !strcmp(policy, "low-power") ? MUSE_IDLE_LOW_POWER : MUSE_IDLE_ADAPTIVE;
    return muse_wait_idle(ch, out, max, n, timeout_ns, p);
#endif
}

/* Submits `count` events (0: until SIGTERM) with at most `window` in flight
 * (0: the ring depth), waiting with idle `policy` (NULL: muse_wait), and
 * checks every completion: own tag, in submission order (so each exactly
 * once), status OK, exact score. */
static int stream(const char *dir, const char *tenant, uint32_t client_id, uint64_t count, uint64_t window,
                  const char *policy) {
    muse_client c; muse_channel ch; muse_intent_info intent;
    if (!open_and_claim(dir, tenant, &c, &ch, &intent, 5000000000ull)) return 1;
    /* The parent may have blocked SIGTERM; this mode needs it. */
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &term, NULL);
    signal(SIGTERM, request_stop);
    uint64_t sent = 0, answered = 0, next = 0, duplicates = 0, lost = 0, wrong = 0, foreign = 0;
    uint64_t again = 0, timeouts = 0;
    uint64_t first_incarnation = muse_incarnation(&c), deadline = muse__now_ns() + 120000000000ull;
    double x[FEATURES];
    muse_completion done[256];
    if (window == 0 || window > c.ring_depth) window = c.ring_depth;
    for (;;) {
        int more = count ? sent < count : !stop_requested;
        if (!more && answered == sent) break;
        if (muse__now_ns() >= deadline) break;
        while (more && sent - answered < window) {
            features_for(sent, client_id, x);
            muse_status s = muse_submit(&ch, ((uint64_t)client_id << 40) | sent, intent.id, x, FEATURES);
            if (s == MUSE_E_AGAIN) { again++; break; }
            if (s != MUSE_OK) { fprintf(stderr, "submit: %s\n", muse_strerror(s)); return 1; }
            sent++;
            more = count ? sent < count : !stop_requested;
        }
        size_t n = 0;
        muse_status s = wait_with(policy, &ch, done, 256, &n, 100000000);
        if (s == MUSE_E_TIMEDOUT) { timeouts++; continue; }
        if (s != MUSE_OK) { fprintf(stderr, "wait: %s\n", muse_strerror(s)); return 1; }
        for (size_t i = 0; i < n; i++) {
            uint64_t tag = done[i].tag, seq = tag & ((1ull << 40) - 1);
            answered++;
            if ((tag >> 40) != client_id || seq >= sent) { foreign++; continue; }
            if (seq < next) { duplicates++; continue; }
            lost += seq - next;
            next = seq + 1;
            features_for(seq, client_id, x);
            if (recording) {
                if (done[i].status != MUSE_OK) wrong++;
                else printf("R %llu %llu %.17g\n", (unsigned long long)seq,
                            (unsigned long long)done[i].generation_id, done[i].score);
            } else if (done[i].status != MUSE_OK || done[i].score != expected_score(x)) wrong++;
        }
    }
    printf("answered=%llu sent=%llu duplicates=%llu lost=%llu wrong=%llu foreign=%llu again=%llu timeouts=%llu "
           "incarnations=%llu\n", (unsigned long long)answered, (unsigned long long)sent,
           (unsigned long long)duplicates, (unsigned long long)lost, (unsigned long long)wrong,
           (unsigned long long)foreign, (unsigned long long)again, (unsigned long long)timeouts,
           (unsigned long long)(muse_incarnation(&c) - first_incarnation));
    muse_release(&ch);
    muse_close(&c);
    int complete = count ? answered == count : answered == sent && answered > 0;
    return complete && duplicates == 0 && lost == 0 && wrong == 0 && foreign == 0 ? 0 : 1;
}

/* Waits for a free channel, reports how long it took, then uses it. */
static int claim_when_free(const char *dir, const char *tenant, uint64_t timeout_ms) {
    muse_client c; muse_channel ch; muse_intent_info intent;
    uint64_t start = muse__now_ns();
    if (!open_and_claim(dir, tenant, &c, &ch, &intent, timeout_ms * 1000000ull)) return 1;
    printf("claimed channel=%u after_ms=%.1f\n", ch.index, (double)(muse__now_ns() - start) / 1e6);
    fflush(stdout);
    muse_release(&ch);
    muse_close(&c);
    return 0;
}

/* Claims `n` channels and holds them until killed. */
static int hold(const char *dir, const char *tenant, int n) {
    static muse_client c;
    static muse_channel ch[64];
    if (muse_open_tenant(&c, dir, tenant) != MUSE_OK || n > 64) return 1;
    for (int i = 0; i < n; i++)
        if (muse_claim(&c, &ch[i]) != MUSE_OK) { printf("held=%d\n", i); return 1; }
    printf("held=%d\n", n);
    fflush(stdout);
    for (;;) pause();
}

/* Fills the rings without reading, checks that submission stops with
 * MUSE_E_AGAIN, then reads everything back: nothing lost or overwritten. */
static int backpressure(const char *dir, const char *tenant) {
    muse_client c; muse_channel ch; muse_intent_info intent;
    if (!open_and_claim(dir, tenant, &c, &ch, &intent, 1000000000ull)) return 1;
    double x[FEATURES];
    uint64_t accepted = 0, refusals = 0;
    for (;;) {
        features_for(accepted, 1, x);
        muse_status s = muse_submit(&ch, accepted, intent.id, x, FEATURES);
        if (s == MUSE_OK) { accepted++; continue; }
        if (s != MUSE_E_AGAIN) return 1;
        /* Give the daemon time to drain what it can; stop once it is stuck. */
        if (++refusals == 50) break;
        usleep(2000);
    }
    uint64_t depth = c.ring_depth;
    unsigned char *seen = (unsigned char *)calloc((size_t)accepted, 1);
    uint64_t answered = 0, bad = 0;
    muse_completion done[64];
    size_t n;
    while (answered < accepted && muse_wait(&ch, done, 64, &n, 1000000000) == MUSE_OK) {
        for (size_t i = 0; i < n; i++, answered++) {
            uint64_t tag = done[i].tag;
            if (tag >= accepted || seen[tag]) { bad++; continue; }
            seen[tag] = 1;
            features_for(tag, 1, x);
            if (done[i].status != MUSE_OK || done[i].score != expected_score(x)) bad++;
        }
    }
    /* The rings are empty again: submission works. */
    features_for(0, 1, x);
    muse_status after = muse_submit(&ch, 0, intent.id, x, FEATURES);
    printf("depth=%llu accepted=%llu answered=%llu bad=%llu resumed=%s\n", (unsigned long long)depth,
           (unsigned long long)accepted, (unsigned long long)answered, (unsigned long long)bad,
           after == MUSE_OK ? "yes" : "no");
    return accepted == 2 * depth && answered == accepted && bad == 0 && after == MUSE_OK ? 0 : 1;
}

/* Malformed events get a status, not a crash or silence. */
static int malformed(const char *dir, const char *tenant) {
    muse_client c; muse_channel ch; muse_intent_info intent;
    if (!open_and_claim(dir, tenant, &c, &ch, &intent, 1000000000ull)) return 1;
    double x[FEATURES] = {0};
    muse_submit(&ch, 1, 9999, x, FEATURES);          /* unknown intent */
    muse_submit(&ch, 2, intent.id, x, FEATURES - 1); /* wrong feature count */
    muse_submit(&ch, 3, intent.id, x, FEATURES);     /* fine */
    muse_completion done[3];
    size_t got = 0, n;
    while (got < 3 && muse_wait(&ch, done + got, 3 - got, &n, 1000000000) == MUSE_OK) got += n;
    int ok = got == 3 && done[0].tag == 1 && done[0].status == MUSE_E_UNKNOWN_INTENT && isnan(done[0].score)
        && done[1].tag == 2 && done[1].status == MUSE_E_FEATURE_COUNT && isnan(done[1].score)
        && done[2].tag == 3 && done[2].status == MUSE_OK && done[2].score == 0.5;
    printf("statuses=%d,%d,%d\n", got > 0 ? done[0].status : -1, got > 1 ? done[1].status : -1,
           got > 2 ? done[2].status : -1);
    return ok ? 0 : 1;
}

/* Scribbles random bytes over the whole segment: header, indices, slots. */
static int hostile(const char *dir, const char *tenant, double seconds, unsigned seed) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", dir, tenant, MUSE_SEGMENT_SUFFIX);
    int fd = open(path, O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) return 1;
    unsigned char *p = (unsigned char *)mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return 1;
    muse_client c; muse_channel ch;
    int claimed = muse_open_tenant(&c, dir, tenant) == MUSE_OK && muse_claim(&c, &ch) == MUSE_OK;
    srand(seed);
    uint64_t writes = 0, until = muse__now_ns() + (uint64_t)(seconds * 1e9);
    uint64_t size = (uint64_t)st.st_size;
    while (muse__now_ns() < until) {
        uint64_t r = ((uint64_t)rand() << 31) ^ (uint64_t)rand();
        uint64_t offset;
        switch (r % 4) {
        case 0: /* anywhere */
            offset = (r >> 2) % size;
            break;
        case 1: /* the header */
            offset = (r >> 2) % MUSE_HEADER_SIZE;
            break;
        default: { /* a channel's control block: states and indices */
            if (c.channel_count == 0) { offset = (r >> 2) % size; break; }
            uint64_t channel = (r >> 2) % c.channel_count;
            offset = c.channels_offset + channel * c.channel_stride + (r >> 12) % MUSE_CHANNEL_CONTROL_SIZE;
            offset &= ~(uint64_t)7;
        }
        }
        uint64_t len = 1 + (r >> 40) % 16;
        for (uint64_t i = 0; i < len && offset + i < size; i++) p[offset + i] = (unsigned char)rand();
        writes++;
        if (claimed && (writes & 1023) == 0) {
            double x[FEATURES] = {0};
            muse_completion done[16];
            muse_submit(&ch, writes, (uint32_t)rand(), x, FEATURES);
            muse_poll(&ch, done, 16);
        }
    }
    printf("writes=%llu\n", (unsigned long long)writes);
    return 0;
}

/* Shrinks the segment file under the daemon's mapping. */
static int truncate_segment(const char *dir, const char *tenant) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", dir, tenant, MUSE_SEGMENT_SUFFIX);
    int fd = open(path, O_RDWR);
    if (fd < 0 || ftruncate(fd, 0) != 0) { perror(path); return 1; }
    printf("truncated=%s\n", path);
    return 0;
}

static int try_open(const char *dir, const char *tenant) {
    muse_client c;
    muse_status s = muse_open_tenant(&c, dir, tenant);
    printf("open=%s errno=%s\n", muse_strerror(s), s == MUSE_E_SYSTEM ? strerror(errno) : "-");
    if (s == MUSE_OK) { muse_close(&c); return 0; }
    return s == MUSE_E_SYSTEM && errno == EACCES ? 3 : 1;
}


/* ---- client-contract regression tests ------------------------------- */

/* Nonzero if a new file description can take the lock on the channel's claim
 * byte, which is what mused does to find dead owners: the claim is then not
 * protected and mused will free a live channel. */
static int claim_unprotected(const char *path, const muse_client *c, const muse_channel *ch) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    uint64_t offset = (uint64_t)((unsigned char *)ch->control - c->base);
    int taken = fd >= 0 && muse__ofd_lock_byte(fd, offset, F_WRLCK) == 0;
    if (fd >= 0) close(fd);
    return taken;
}

typedef struct {
    muse_client *client;
    muse_channel channel;
    muse_status status;
    pthread_barrier_t *barrier;
} race_arg;

static void *race_claim(void *p) {
    race_arg *a = (race_arg *)p;
    pthread_barrier_wait(a->barrier);
    a->status = muse_claim(a->client, &a->channel);
    return NULL;
}

/* Bug 1: threads sharing one muse_client claim at once. Every claim must stay
 * locked (else mused frees a live channel), and channels must be distinct. */
static int claim_race(const char *dir, const char *tenant, int rounds, int threads) {
    muse_client c;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", dir, tenant, MUSE_SEGMENT_SUFFIX);
    if (muse_open_tenant(&c, dir, tenant) != MUSE_OK || threads > 16) return 1;
    int unprotected = 0, shared = 0, failed = 0, freed_by_daemon = 0;
    for (int round = 0; round < rounds; round++) {
        pthread_barrier_t barrier;
        pthread_t t[16];
        race_arg a[16];
        pthread_barrier_init(&barrier, NULL, (unsigned)threads);
        for (int i = 0; i < threads; i++) {
            memset(&a[i], 0, sizeof a[i]);
            a[i].client = &c;
            a[i].barrier = &barrier;
            pthread_create(&t[i], NULL, race_claim, &a[i]);
        }
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        pthread_barrier_destroy(&barrier);
        for (int i = 0; i < threads; i++) {
            if (a[i].status != MUSE_OK) { failed++; continue; }
            if (claim_unprotected(path, &c, &a[i].channel)) unprotected++;
            for (int j = 0; j < i; j++)
                if (a[j].status == MUSE_OK && a[j].channel.index == a[i].channel.index) shared++;
        }
        /* Every few rounds, give mused time to reclaim what it wrongly thinks dead. */
        if (round % 10 == 0) {
            usleep(150000);
            for (int i = 0; i < threads; i++)
                if (a[i].status == MUSE_OK
                    && muse__atomic_load_acquire_u32(&a[i].channel.control->state) != MUSE_CHANNEL_CLAIMED)
                    freed_by_daemon++;
        }
        for (int i = 0; i < threads; i++)
            if (a[i].status == MUSE_OK) muse_release(&a[i].channel);
    }
    printf("rounds=%d unprotected=%d shared=%d failed=%d freed_by_daemon=%d\n", rounds, unprotected, shared, failed,
           freed_by_daemon);
    muse_close(&c);
    return unprotected == 0 && shared == 0 && failed == 0 && freed_by_daemon == 0 ? 0 : 1;
}

/* Builds a segment file the way mused does, for tests that play the daemon
 * themselves (no mused runs on it). */
static int fake_segment(const char *path, uint32_t channels, uint32_t depth, uint32_t max_features) {
    uint64_t stride = muse_channel_stride(depth, max_features);
    uint64_t size = MUSE_HEADER_SIZE + channels * stride;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0) return 0;
    muse_segment_header *h = (muse_segment_header *)mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if ((void *)h == MAP_FAILED) return 0;
    h->abi_major = MUSE_ABI_MAJOR;
    h->abi_minor = MUSE_ABI_MINOR;
    h->header_size = MUSE_HEADER_SIZE;
    h->segment_size = size;
    h->channel_count = channels;
    h->ring_depth = depth;
    h->submission_slot_size = muse_submission_slot_size(max_features);
    h->completion_slot_size = sizeof(muse_completion);
    h->max_features = max_features;
    h->channels_offset = MUSE_HEADER_SIZE;
    h->channel_stride = stride;
    strcpy(h->tenant, "fake");
    h->daemon_state = MUSE_DAEMON_SERVING;
    h->heartbeat_ns = muse__now_ns();
    muse__atomic_store_release_u64(&h->magic, MUSE_MAGIC);
    munmap(h, size);
    return 1;
}

/* Plays mused's drain: answers `n` submissions on the channel (score = tag). */
static void fake_answer(muse_channel *ch, uint64_t n) {
    muse_channel_control *c = ch->control;
    uint64_t head = muse__atomic_load_acquire_u64(&c->cq_tail);
    for (uint64_t i = 0; i < n; i++) {
        muse_event_header *e = (muse_event_header *)(void *)(ch->submissions
                               + ((head + i) & ch->mask) * ch->client->slot_size);
        muse_completion *out = &ch->completions[(head + i) & ch->mask];
        memset(out, 0, sizeof *out);
        out->tag = e->tag;
        out->score = (double)e->tag;
    }
    muse__atomic_store_release_u64(&c->cq_tail, head + n);
    muse__atomic_store_release_u64(&c->sq_head, head + n);
}

static muse_channel *hooked;
static void fill_and_sleep(struct muse_channel *ch) {
    /* While the client copies: mused fills the completion ring, finds it
     * full (it still reads the old cq_head) and goes to sleep. */
    if (ch != hooked) return;
    poll_hook = NULL;
    muse_channel_control *c = ch->control;
    uint64_t unread = muse__atomic_load_acquire_u64(&c->cq_tail) - muse__atomic_load_acquire_u64(&c->cq_head);
    fake_answer(ch, ch->client->ring_depth - unread);
    muse__atomic_or_u32(&ch->client->header->daemon_sleeping, 1);
}

/* Bug 2: a completion ring that fills while muse_poll copies must not leave
 * mused asleep. Deterministic: the test plays mused. */
static int poll_wakeup(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/fake-poll.muse", dir);
    if (!fake_segment(path, 1, 8, 4)) { perror(path); return 1; }
    muse_client c; muse_channel ch;
    if (muse_open(&c, path) != MUSE_OK || muse_claim(&c, &ch) != MUSE_OK) return 1;
    double x[4] = {0};
    uint64_t sent = 0;
    /* Submission ring full (8), then mused answers 3 and takes 3 more: 11 in flight. */
    while (muse_submit(&ch, sent, 1, x, 4) == MUSE_OK) sent++;
    fake_answer(&ch, 3);
    while (muse_submit(&ch, sent, 1, x, 4) == MUSE_OK) sent++;
    uint32_t bell = ch.client->header->daemon_doorbell;
    muse_completion done[8];
    hooked = &ch;
    poll_hook = fill_and_sleep;
    size_t n = muse_poll(&ch, done, 8);
    uint32_t rung = ch.client->header->daemon_doorbell - bell;
    printf("sent=%llu polled=%zu doorbell_rung=%u\n", (unsigned long long)sent, n, rung);
    return sent == 11 && n == 3 && rung == 1 ? 0 : 1;
}

/* muse_submit_many tells a full ring from a malformed event. */
static int submit_many(const char *dir) {
#ifdef MUSE_OLD_HEADER
    (void)dir;
    printf("muse_submit_many does not exist\n");
    return 1;
#else
    char path[4096];
    snprintf(path, sizeof path, "%s/fake-batch.muse", dir);
    if (!fake_segment(path, 1, 16, 4)) return 1;
    muse_client c; muse_channel ch;
    if (muse_open(&c, path) != MUSE_OK || muse_claim(&c, &ch) != MUSE_OK) return 1;
    double x[4] = {0};
    muse_request r[20];
    for (int i = 0; i < 20; i++) { r[i].tag = (uint64_t)i; r[i].intent_id = 1; r[i].feature_count = 4; r[i].features = x; }
    r[5].feature_count = 5000; /* more than max_features */
    size_t accepted = 99;
    muse_status bad = muse_submit_many(&ch, r, 20, &accepted);
    size_t bad_accepted = accepted;
    muse_status full = muse_submit_many(&ch, r + 6, 14, &accepted);
    size_t full_accepted = accepted;
    muse_status again = muse_submit_many(&ch, r + 6, 1, &accepted);
    printf("bad=%s@%zu full=%s@%zu then=%s@%zu\n", muse_strerror(bad), bad_accepted, muse_strerror(full),
           full_accepted, muse_strerror(again), accepted);
    return bad == MUSE_E_INVALID && bad_accepted == 5 && full == MUSE_E_AGAIN && full_accepted == 11
        && again == MUSE_E_AGAIN && accepted == 0 ? 0 : 1;
#endif
}

/* Bug 3: a forked child that never uses Muse must not keep its parent's
 * channel after the parent exits. The segment has one channel. The parent
 * forks a sleeper (never touches Muse, outlives it) and a checker (finds its
 * inherited channel refused with MUSE_E_FORKED and releases it, which must
 * not disturb the parent), checks its channel still works, and exits. */
static int fork_orphan(const char *dir, const char *tenant) {
    int up[2];
    if (pipe(up) != 0) return 1;
    pid_t parent = fork();
    if (parent == 0) {
        muse_client c; muse_channel ch; muse_intent_info intent;
        int down[2];
        close(up[0]);
        if (!open_and_claim(dir, tenant, &c, &ch, &intent, 1000000000ull) || pipe(down) != 0) _exit(1);
        pid_t sleeper = fork();
        if (sleeper == 0) { sleep(5); _exit(0); }
        pid_t checker = fork();
        if (checker == 0) {
            double x[FEATURES] = {0};
            muse_completion done[1];
            size_t n;
            int refused = muse_submit(&ch, 1, intent.id, x, FEATURES) == MUSE_E_FORKED
                && muse_wait(&ch, done, 1, &n, 0) == MUSE_E_FORKED && muse_poll(&ch, done, 1) == 0;
#ifndef MUSE_OLD_HEADER
            muse_release(&ch);
#endif
            _exit(refused ? 0 : 1);
        }
        int status = 0;
        waitpid(checker, &status, 0);
        int refused = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        double x[FEATURES] = {0};
        muse_completion done[1];
        size_t n;
        int works = muse__atomic_load_acquire_u32(&ch.control->state) == MUSE_CHANNEL_CLAIMED
            && muse_submit(&ch, 7, intent.id, x, FEATURES) == MUSE_OK
            && muse_wait(&ch, done, 1, &n, 1000000000) == MUSE_OK && done[0].tag == 7;
        char line[64];
        int len = snprintf(line, sizeof line, "%c%c%d\n", refused ? 'R' : 'r', works ? 'W' : 'w', (int)sleeper);
        if (write(up[1], line, (size_t)len) != len) _exit(1);
        _exit(0); /* dies holding the claim: only the kernel can end it */
    }
    close(up[1]);
    int status;
    waitpid(parent, &status, 0);
    char line[64] = {0};
    ssize_t got = read(up[0], line, sizeof line - 1);
    int sleeper = got > 2 ? atoi(line + 2) : 0;
    /* mused should reclaim the dead parent's channel well within a second. */
    muse_client c; muse_channel ch;
    if (muse_open_tenant(&c, dir, tenant) != MUSE_OK) return 1;
    uint64_t start = muse__now_ns(), waited;
    muse_status s;
    while ((s = muse_claim(&c, &ch)) == MUSE_E_NO_CHANNEL && muse__now_ns() - start < 1500000000ull) usleep(1000);
    waited = (muse__now_ns() - start) / 1000000;
    if (sleeper > 0) kill(sleeper, SIGKILL);
    printf("child_refused=%s parent_kept=%s reclaimed=%s after_ms=%llu\n", got > 0 && line[0] == 'R' ? "yes" : "no",
           got > 1 && line[1] == 'W' ? "yes" : "no", s == MUSE_OK ? "yes" : "no", (unsigned long long)waited);
    if (s == MUSE_OK) muse_release(&ch);
    muse_close(&c);
    return got > 1 && line[0] == 'R' && line[1] == 'W' && s == MUSE_OK ? 0 : 1;
}

/* Bug 4: claim and release in a loop; a released channel is reusable at
 * once. Phase 1 releases with nothing in flight (the client frees it);
 * phase 2 releases with an event unanswered (mused frees it on its next
 * drain). */
static int churn(const char *dir, const char *tenant, int loops) {
    muse_client c; muse_channel ch; muse_intent_info intent;
    if (muse_open_tenant(&c, dir, tenant) != MUSE_OK) return 1;
    if (muse_lookup_intent(&c, INTENT, &intent) != MUSE_OK) return 1;
    double x[FEATURES] = {0};
    muse_completion done[1];
    size_t n;
    int no_channel = 0, errors = 0;
    for (int i = 0; i < loops; i++) {
        muse_status s = muse_claim(&c, &ch);
        if (s == MUSE_E_NO_CHANNEL) { no_channel++; continue; }
        if (s != MUSE_OK) { errors++; continue; }
        if (muse_submit(&ch, (uint64_t)i, intent.id, x, FEATURES) != MUSE_OK
            || muse_wait(&ch, done, 1, &n, 1000000000) != MUSE_OK || done[0].tag != (uint64_t)i)
            errors++;
        muse_release(&ch);
    }
    /* Phase 2. */
    int loops2 = loops / 10, gave_up = 0;
    uint64_t total_wait = 0, worst = 0;
    for (int i = 0; i < loops2; i++) {
        uint64_t start = muse__now_ns();
        muse_status s;
        while ((s = muse_claim(&c, &ch)) == MUSE_E_NO_CHANNEL && muse__now_ns() - start < 1000000000ull) muse__cpu_relax();
        uint64_t waited = muse__now_ns() - start;
        total_wait += waited;
        if (waited > worst) worst = waited;
        if (s != MUSE_OK) { gave_up++; continue; }
        if (muse_submit(&ch, (uint64_t)i, intent.id, x, FEATURES) != MUSE_OK) errors++;
        muse_release(&ch);
    }
    double mean_ms = loops2 ? (double)total_wait / loops2 / 1e6 : 0;
    printf("loops=%d no_channel=%d errors=%d inflight_loops=%d gave_up=%d mean_reuse_ms=%.3f worst_reuse_ms=%.3f\n",
           loops, no_channel, errors, loops2, gave_up, mean_ms, (double)worst / 1e6);
    muse_close(&c);
    return no_channel == 0 && errors == 0 && gave_up == 0 && mean_ms < 10 ? 0 : 1;
}

/* Bug 5: an OK completion always carries a finite score. */
static int bad_scores(const char *dir, const char *tenant) {
    muse_client c; muse_channel ch; muse_intent_info intent;
    if (!open_and_claim(dir, tenant, &c, &ch, &intent, 1000000000ull)) return 1;
    double x[4][FEATURES];
    memset(x, 0, sizeof x);
    x[0][3] = NAN;                                 /* a missing feature: the model imputes it */
    x[1][0] = INFINITY; x[1][1] = -INFINITY;       /* inf - inf: NaN */
    x[2][5] = INFINITY;                            /* logistic(inf) = 1: finite */
    x[3][2] = 0.25;                                /* ordinary */
    for (int i = 0; i < 4; i++)
        if (muse_submit(&ch, (uint64_t)i, intent.id, x[i], FEATURES) != MUSE_OK) return 1;
    muse_completion done[4];
    size_t got = 0, n;
    while (got < 4 && muse_wait(&ch, done + got, 4 - got, &n, 1000000000) == MUSE_OK) got += n;
    if (got != 4) return 1;
    int finite_ok = 1;
    for (int i = 0; i < 4; i++)
        if (done[i].status == MUSE_OK && !(isfinite(done[i].score) && isfinite(done[i].raw_score))) finite_ok = 0;
    printf("statuses=%d,%d,%d,%d scores=%g,%g,%g,%g\n", done[0].status, done[1].status, done[2].status,
           done[3].status, done[0].score, done[1].score, done[2].score, done[3].score);
    return finite_ok && done[0].status == MUSE_OK && done[0].score == 0.5
        && done[1].status == MUSE_E_BAD_SCORE && done[2].status == MUSE_OK && done[2].score == 1.0
        && done[3].status == MUSE_OK ? 0 : 1;
}

/* Bug 6: muse_wait with no deadline returns once mused is gone. */
static int wait_forever(const char *dir, const char *tenant) {
    muse_client c; muse_channel ch; muse_intent_info intent;
    if (!open_and_claim(dir, tenant, &c, &ch, &intent, 1000000000ull)) return 1;
    printf("waiting\n");
    fflush(stdout);
    muse_completion done[4];
    size_t n = 99;
    uint64_t start = muse__now_ns();
    muse_status s = muse_wait(&ch, done, 4, &n, -1);
    printf("wait=%s count=%zu after_ms=%llu\n", muse_strerror((muse_status)s), n,
           (unsigned long long)((muse__now_ns() - start) / 1000000));
    return s == MUSE_E_DAEMON_GONE && n == 0 ? 0 : 1;
}

/* Self-describing schemas (ABI 1.1): features placed by name, order checked. */
static int schema(const char *dir, const char *tenant) {
#ifdef MUSE_OLD_HEADER
    (void)dir; (void)tenant;
    return 1;
#else
    muse_client c; muse_channel ch; muse_intent_info intent;
    if (!open_and_claim(dir, tenant, &c, &ch, &intent, 1000000000ull)) return 1;
    /* The integrator's own names, in an order of their choosing. */
    const char *mine[FEATURES];
    char storage[FEATURES][8];
    int wrong_index = 0;
    for (int i = 0; i < FEATURES; i++) {
        snprintf(storage[i], sizeof storage[i], "f%d", FEATURES - 1 - i);
        mine[i] = storage[i];
    }
    double x[FEATURES], by_name[FEATURES];
    features_for(5, 1, x);
    for (int i = 0; i < FEATURES; i++) {
        uint32_t index = 999;
        if (muse_lookup_feature(&c, INTENT, mine[i], &index) != MUSE_OK || index != (uint32_t)(FEATURES - 1 - i))
            wrong_index++;
        else
            by_name[index] = x[FEATURES - 1 - i];
    }
    uint32_t unused;
    muse_status unknown = muse_lookup_feature(&c, INTENT, "amount", &unused);
    /* Reversed order is not the schema; the served order is. */
    muse_status reversed = muse_check_schema(&c, &intent, mine, FEATURES);
    const char *served[FEATURES];
    for (int i = 0; i < FEATURES; i++) served[i] = mine[FEATURES - 1 - i];
    muse_status in_order = muse_check_schema(&c, &intent, served, FEATURES);
    muse_completion done[1];
    size_t n = 0;
    int scored = muse_submit(&ch, 1, intent.id, by_name, FEATURES) == MUSE_OK
        && muse_wait(&ch, done, 1, &n, 1000000000) == MUSE_OK && done[0].status == MUSE_OK
        && done[0].score == expected_score(x);
    printf("wrong_index=%d unknown=%d reversed=%d in_order=%d scored=%s\n", wrong_index, unknown, reversed, in_order,
           scored ? "yes" : "no");
    return wrong_index == 0 && unknown == MUSE_E_UNKNOWN_FEATURE && reversed == MUSE_E_SCHEMA_MISMATCH
        && in_order == MUSE_OK && scored ? 0 : 1;
#endif
}

/* Fills `nchannels` channels twice over without reading: a ring's worth is
 * answered into the completion ring, a second ring's worth then waits for
 * room. Says so, gives the test half a second to stop mused, then reads:
 * a mused that drains before it stops answers the waiting events as room
 * appears. Passes if every event was answered once, in order. */
static int preload(const char *dir, const char *tenant, int nchannels) {
    static muse_client c;
    static muse_channel ch[16];
    muse_intent_info intent;
    if (nchannels < 1 || nchannels > 16 || muse_open_tenant(&c, dir, tenant) != MUSE_OK) return 1;
    if (muse_lookup_intent(&c, INTENT, &intent) != MUSE_OK) return 1;
    uint64_t sent[16] = {0}, next[16] = {0}, total = 0, answered = 0, bad = 0;
    double x[FEATURES];
    for (int k = 0; k < nchannels; k++) {
        if (muse_claim(&c, &ch[k]) != MUSE_OK) { fprintf(stderr, "claim %d\n", k); return 1; }
        uint64_t until = muse__now_ns() + 5000000000ull;
        while (sent[k] < 2 * c.ring_depth && muse__now_ns() < until) {
            features_for(sent[k], (uint32_t)k, x);
            muse_status s = muse_submit(&ch[k], sent[k], intent.id, x, FEATURES);
            if (s == MUSE_E_AGAIN) { usleep(1000); continue; }
            if (s != MUSE_OK) { fprintf(stderr, "submit: %s\n", muse_strerror(s)); return 1; }
            sent[k]++;
        }
        total += sent[k];
    }
    printf("submitted=%llu\n", (unsigned long long)total);
    fflush(stdout);
    usleep(500000);
    muse_completion done[256];
    uint64_t deadline = muse__now_ns() + 20000000000ull;
    while (answered < total && muse__now_ns() < deadline) {
        size_t got = 0;
        for (int k = 0; k < nchannels; k++) {
            size_t n = muse_poll(&ch[k], done, 256);
            for (size_t i = 0; i < n; i++) {
                if (done[i].tag != next[k] || done[i].status != MUSE_OK) bad++;
                next[k] = done[i].tag + 1;
            }
            got += n;
        }
        answered += got;
        if (got == 0) usleep(1000);
    }
    printf("answered=%llu sent=%llu bad=%llu\n", (unsigned long long)answered, (unsigned long long)total,
           (unsigned long long)bad);
    return answered == total && bad == 0 ? 0 : 1;
}

/* Tenants PREFIX0 ... PREFIX(count-1), one after another: open, claim, one
 * event, its exact answer, release, close. Every tenant of a large mused
 * answers, whichever of them its worker is asleep on. */
static int sweep(const char *dir, const char *prefix, int count) {
    int ok = 0;
    for (int t = 0; t < count; t++) {
        char tenant[64];
        snprintf(tenant, sizeof tenant, "%s%d", prefix, t);
        muse_client c; muse_channel ch; muse_intent_info intent;
        if (!open_and_claim(dir, tenant, &c, &ch, &intent, 5000000000ull)) { fprintf(stderr, "%s\n", tenant); break; }
        double x[FEATURES];
        features_for((uint64_t)t, 1, x);
        muse_status s = muse_submit(&ch, (uint64_t)t, intent.id, x, FEATURES);
        muse_completion done;
        size_t n = 0;
        if (s == MUSE_OK) s = muse_wait(&ch, &done, 1, &n, 5000000000ll);
        if (s == MUSE_OK && n == 1 && done.tag == (uint64_t)t && done.status == MUSE_OK
            && done.score == expected_score(x)) ok++;
        else fprintf(stderr, "%s: %s (n=%zu)\n", tenant, muse_strerror(s), n);
        muse_release(&ch);
        muse_close(&c);
    }
    printf("sweep tenants=%d ok=%d\n", count, ok);
    return ok == count ? 0 : 1;
}

#ifndef MUSE_OLD_HEADER
/* muse_prepare from every state a client can be in: never claimed, claimed,
 * released, inherited by a fork child; then, for `seconds`, once every 10 ms
 * while the test kills and restarts mused: every call returns without harm
 * (OK while claimed, whatever the daemon does). */
static int prepare_states(const char *dir, const char *tenant, double seconds) {
    muse_channel never;
    memset(&never, 0, sizeof never);
    int ok = muse_prepare(NULL) == MUSE_E_INVALID && muse_prepare(&never) == MUSE_E_INVALID;
    muse_client c; muse_channel ch; muse_intent_info intent;
    if (!open_and_claim(dir, tenant, &c, &ch, &intent, 5000000000ull)) return 1;
    ok = ok && muse_prepare(&ch) == MUSE_OK;
    pid_t child = fork();
    if (child == 0) _exit(muse_prepare(&ch) == MUSE_E_FORKED ? 0 : 1);
    int status = 0;
    waitpid(child, &status, 0);
    int forked = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    uint64_t calls = 0, good = 0, until = muse__now_ns() + (uint64_t)(seconds * 1e9);
    while (muse__now_ns() < until) {
        calls++;
        if (muse_prepare(&ch) == MUSE_OK) good++;
        struct timespec pause = {0, 10000000};
        nanosleep(&pause, NULL);
    }
    muse_release(&ch);
    int released = muse_prepare(&ch) == MUSE_E_INVALID;
    muse_close(&c);
    printf("prepare-states ok=%d forked=%d calls=%llu good=%llu released=%d\n", ok, forked,
           (unsigned long long)calls, (unsigned long long)good, released);
    return ok && forked && released && calls == good ? 0 : 1;
}

/* `count` prepares, `interval_ms` apart, and never an event. */
static int prepare_idle(const char *dir, const char *tenant, int count, int interval_ms) {
    muse_client c; muse_channel ch; muse_intent_info intent;
    if (!open_and_claim(dir, tenant, &c, &ch, &intent, 5000000000ull)) return 1;
    int good = 0;
    for (int i = 0; i < count; i++) {
        if (muse_prepare(&ch) == MUSE_OK) good++;
        struct timespec pause = {interval_ms / 1000, (long)(interval_ms % 1000) * 1000000L};
        nanosleep(&pause, NULL);
    }
    muse_release(&ch);
    muse_close(&c);
    printf("prepare-idle count=%d good=%d\n", count, good);
    return good == count ? 0 : 1;
}
#endif

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODE DIR TENANT [ARGS]\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1], *dir = argv[2], *tenant = argv[3];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "stream") && argc >= 6)
        return stream(dir, tenant, (uint32_t)atoi(argv[4]), strtoull(argv[5], NULL, 10),
                      argc > 6 ? strtoull(argv[6], NULL, 10) : 0, argc > 7 ? argv[7] : NULL);
    if (!strcmp(mode, "record") && argc >= 6) {
        recording = 1;
        setvbuf(stdout, NULL, _IOFBF, 1 << 16);
        int rc = stream(dir, tenant, (uint32_t)atoi(argv[4]), strtoull(argv[5], NULL, 10),
                        argc > 6 ? strtoull(argv[6], NULL, 10) : 0, NULL);
        fflush(stdout);
        return rc;
    }
    if (!strcmp(mode, "sweep") && argc >= 5) return sweep(dir, tenant, atoi(argv[4]));
#ifndef MUSE_OLD_HEADER
    if (!strcmp(mode, "prepare-states") && argc >= 5) return prepare_states(dir, tenant, atof(argv[4]));
    if (!strcmp(mode, "prepare-idle") && argc >= 6) return prepare_idle(dir, tenant, atoi(argv[4]), atoi(argv[5]));
#endif
    if (!strcmp(mode, "claim") && argc >= 5) return claim_when_free(dir, tenant, strtoull(argv[4], NULL, 10));
    if (!strcmp(mode, "hold") && argc >= 5) return hold(dir, tenant, atoi(argv[4]));
    if (!strcmp(mode, "backpressure")) return backpressure(dir, tenant);
    if (!strcmp(mode, "malformed")) return malformed(dir, tenant);
    if (!strcmp(mode, "hostile") && argc >= 6) return hostile(dir, tenant, atof(argv[4]), (unsigned)atoi(argv[5]));
    if (!strcmp(mode, "open")) return try_open(dir, tenant);
    if (!strcmp(mode, "truncate")) return truncate_segment(dir, tenant);
    if (!strcmp(mode, "claim-race") && argc >= 6) return claim_race(dir, tenant, atoi(argv[4]), atoi(argv[5]));
    if (!strcmp(mode, "poll-wakeup")) return poll_wakeup(dir);
    if (!strcmp(mode, "submit-many")) return submit_many(dir);
    if (!strcmp(mode, "fork-orphan")) return fork_orphan(dir, tenant);
    if (!strcmp(mode, "churn") && argc >= 5) return churn(dir, tenant, atoi(argv[4]));
    if (!strcmp(mode, "bad-scores")) return bad_scores(dir, tenant);
    if (!strcmp(mode, "wait-forever")) return wait_forever(dir, tenant);
    if (!strcmp(mode, "schema")) return schema(dir, tenant);
    if (!strcmp(mode, "preload") && argc >= 5) return preload(dir, tenant, atoi(argv[4]));
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
