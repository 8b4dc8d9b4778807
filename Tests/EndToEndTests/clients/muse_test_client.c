/*
 * A C client of muse.h that the end-to-end tests run as real processes.
 * Every mode prints one result line and exits 0 only if what it checked held.
 * Scores are checked exactly against mused's demo scorer: logistic(sum(x)).
 */
#include "muse.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>

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
    muse_status s = muse_open_tenant(c, dir, tenant);
    if (s != MUSE_OK) { fprintf(stderr, "open: %s (%s)\n", muse_strerror(s), strerror(errno)); return 0; }
    uint64_t until = muse_now_ns() + claim_timeout_ns;
    while ((s = muse_claim(c, ch)) == MUSE_E_NO_CHANNEL && muse_now_ns() < until) usleep(1000);
    if (s != MUSE_OK) { fprintf(stderr, "claim: %s\n", muse_strerror(s)); return 0; }
    if ((s = muse_lookup_intent(c, INTENT, intent)) != MUSE_OK) {
        fprintf(stderr, "lookup: %s\n", muse_strerror(s));
        return 0;
    }
    return 1;
}

static volatile sig_atomic_t stop_requested;
static void request_stop(int signal) { (void)signal; stop_requested = 1; }

/* Submits `count` events (0: until SIGTERM) with at most `window` in flight,
 * and checks every completion: own tag, in submission order (so each exactly
 * once), status OK, exact score. */
static int stream(const char *dir, const char *tenant, uint32_t client_id, uint64_t count, uint64_t window) {
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
    uint64_t first_incarnation = muse_incarnation(&c), deadline = muse_now_ns() + 120000000000ull;
    double x[FEATURES];
    muse_completion done[256];
    if (window == 0 || window > c.ring_depth) window = c.ring_depth;
    for (;;) {
        int more = count ? sent < count : !stop_requested;
        if (!more && answered == sent) break;
        if (muse_now_ns() >= deadline) break;
        while (more && sent - answered < window) {
            features_for(sent, client_id, x);
            muse_status s = muse_submit(&ch, ((uint64_t)client_id << 40) | sent, intent.id, x, FEATURES);
            if (s == MUSE_E_AGAIN) { again++; break; }
            if (s != MUSE_OK) { fprintf(stderr, "submit: %s\n", muse_strerror(s)); return 1; }
            sent++;
            more = count ? sent < count : !stop_requested;
        }
        size_t n = 0;
        muse_status s = muse_wait(&ch, done, 256, &n, 100000000);
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
            if (done[i].status != MUSE_OK || done[i].score != expected_score(x)) wrong++;
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
    uint64_t start = muse_now_ns();
    if (!open_and_claim(dir, tenant, &c, &ch, &intent, timeout_ms * 1000000ull)) return 1;
    printf("claimed channel=%u after_ms=%.1f\n", ch.index, (double)(muse_now_ns() - start) / 1e6);
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
    uint64_t writes = 0, until = muse_now_ns() + (uint64_t)(seconds * 1e9);
    uint64_t size = (uint64_t)st.st_size;
    while (muse_now_ns() < until) {
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

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODE DIR TENANT [ARGS]\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1], *dir = argv[2], *tenant = argv[3];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "stream") && argc >= 6)
        return stream(dir, tenant, (uint32_t)atoi(argv[4]), strtoull(argv[5], NULL, 10),
                      argc > 6 ? strtoull(argv[6], NULL, 10) : 0);
    if (!strcmp(mode, "claim") && argc >= 5) return claim_when_free(dir, tenant, strtoull(argv[4], NULL, 10));
    if (!strcmp(mode, "hold") && argc >= 5) return hold(dir, tenant, atoi(argv[4]));
    if (!strcmp(mode, "backpressure")) return backpressure(dir, tenant);
    if (!strcmp(mode, "malformed")) return malformed(dir, tenant);
    if (!strcmp(mode, "hostile") && argc >= 6) return hostile(dir, tenant, atof(argv[4]), (unsigned)atoi(argv[5]));
    if (!strcmp(mode, "open")) return try_open(dir, tenant);
    if (!strcmp(mode, "truncate")) return truncate_segment(dir, tenant);
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
