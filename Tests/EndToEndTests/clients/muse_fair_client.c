/*
 * The fairness tests' C clients, as real processes against a real
 * mused. Each mode prints one result line of key=value pairs and exits 0 only
 * if every event it submitted was answered exactly once, in order.
 *
 *   flood  DIR TENANT CHANNELS SECONDS   keeps CHANNELS rings full
 *   paced  DIR TENANT RATE SECONDS       one event every 1/RATE s, timed
 *   ring   DIR TENANT SECONDS            rings the daemon doorbell in a loop
 */
#include "muse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INTENT "card-not-present"
#define FEATURES 16
#define MAX_CHANNELS 1024

static int open_tenant(const char *dir, const char *tenant, muse_client *c, muse_intent_info *intent) {
    muse_status s = muse_open_tenant(c, dir, tenant);
    if (s != MUSE_OK) { fprintf(stderr, "open: %s\n", muse_strerror(s)); return 0; }
    if ((s = muse_lookup_intent(c, INTENT, intent)) != MUSE_OK) {
        fprintf(stderr, "lookup: %s\n", muse_strerror(s));
        return 0;
    }
    return 1;
}

typedef struct counts {
    uint64_t sent, answered, ok, overloaded, other, disorder;
} counts;

static void tally(counts *n, const muse_completion *done, size_t count, uint64_t *next, uint64_t tag_base) {
    for (size_t i = 0; i < count; i++) {
        n->answered++;
        if (done[i].tag != tag_base + *next) n->disorder++;
        *next = done[i].tag - tag_base + 1;
        if (done[i].status == MUSE_OK) n->ok++;
        else if (done[i].status == MUSE_E_OVERLOADED && isnan(done[i].score)) n->overloaded++;
        else n->other++;
    }
}

static int report(const char *mode, const counts *n, double seconds, const char *extra) {
    printf("mode=%s sent=%llu answered=%llu ok=%llu overloaded=%llu other=%llu disorder=%llu seconds=%.3f%s\n",
           mode, (unsigned long long)n->sent, (unsigned long long)n->answered, (unsigned long long)n->ok,
           (unsigned long long)n->overloaded, (unsigned long long)n->other, (unsigned long long)n->disorder,
           seconds, extra);
    fflush(stdout);
    return n->sent > 0 && n->answered == n->sent && n->disorder == 0 && n->other == 0 ? 0 : 1;
}

/* Claims `channels` channels and keeps every ring full for `seconds`, then
 * collects everything still in flight. */
static int flood(const char *dir, const char *tenant, int channels, double seconds) {
    static muse_client c;
    static muse_channel ch[MAX_CHANNELS];
    static uint64_t sent[MAX_CHANNELS], next[MAX_CHANNELS];
    static muse_completion done[256];
    static muse_request requests[256];
    muse_intent_info intent;
    if (channels < 1 || channels > MAX_CHANNELS || !open_tenant(dir, tenant, &c, &intent)) return 1;
    for (int k = 0; k < channels; k++) {
        muse_status s = muse_claim(&c, &ch[k]);
        if (s != MUSE_OK) { fprintf(stderr, "claim %d: %s\n", k, muse_strerror(s)); return 1; }
    }
    double x[FEATURES];
    for (int i = 0; i < FEATURES; i++) x[i] = 0.01 * i - 0.05;
    for (int i = 0; i < 256; i++) {
        requests[i].intent_id = intent.id;
        requests[i].feature_count = FEATURES;
        requests[i].features = x;
    }
    counts n = {0};
    uint64_t start = muse__now_ns(), until = start + (uint64_t)(seconds * 1e9), deadline = until + 30000000000ull;
    for (;;) {
        uint64_t now = muse__now_ns();
        int more = now < until;
        if ((!more && n.answered == n.sent) || now >= deadline) break;
        uint64_t progress = n.sent + n.answered;
        for (int k = 0; k < channels; k++) {
            uint64_t base = (uint64_t)k << 40;
            if (more) {
                for (int i = 0; i < 256; i++) requests[i].tag = base + sent[k] + (uint64_t)i;
                size_t accepted = muse_submit_batch(&ch[k], requests, 256);
                sent[k] += accepted;
                n.sent += accepted;
            }
            size_t got;
            while ((got = muse_poll(&ch[k], done, 256)) > 0) tally(&n, done, got, &next[k], base);
        }
        /* Every ring full and nothing answered: nap rather than spin, so the
         * flood is the daemon's load, not a core taken from the other
         * processes (the rings hold far more than a nap's worth of work). */
        if (n.sent + n.answered == progress) {
            struct timespec pause = {0, 100000};
            nanosleep(&pause, NULL);
        }
    }
    double elapsed = (double)(muse__now_ns() - start) / 1e9;
    for (int k = 0; k < channels; k++) muse_release(&ch[k]);
    muse_close(&c);
    return report("flood", &n, elapsed, "");
}

static int compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Submits one event every 1/rate seconds (on an absolute schedule: a late
 * answer does not lower the rate) and times each from submission to its
 * completion; prints the latency percentiles in microseconds. */
static int paced(const char *dir, const char *tenant, double rate, double seconds) {
    muse_client c; muse_channel ch; muse_intent_info intent;
    if (rate <= 0 || !open_tenant(dir, tenant, &c, &intent)) return 1;
    muse_status s = muse_claim(&c, &ch);
    if (s != MUSE_OK) { fprintf(stderr, "claim: %s\n", muse_strerror(s)); return 1; }
    size_t total = (size_t)(rate * seconds);
    uint64_t *submitted = calloc(total + 1, sizeof *submitted), *latency = calloc(total + 1, sizeof *latency);
    if (!submitted || !latency) return 1;
    double x[FEATURES];
    for (int i = 0; i < FEATURES; i++) x[i] = 0.02 * i - 0.1;
    uint64_t interval = (uint64_t)(1e9 / rate), start = muse__now_ns(), deadline = start + (uint64_t)(seconds * 1e9) + 30000000000ull;
    counts n = {0};
    uint64_t next = 0, again = 0, skipped = 0;
    muse_completion done[64];
    while (n.answered < total && muse__now_ns() < deadline) {
        uint64_t now = muse__now_ns();
        /* Never catch up more than 10 ms at once: after this process was
         * descheduled, a burst of the backlog would be a different load
         * (and could exceed a rate limit meant for 10,000/s). */
        if (n.sent < total && now > start + (n.sent + 100) * interval) {
            start = now - n.sent * interval;
            skipped++;
        }
        while (n.sent < total && now >= start + n.sent * interval) {
            submitted[n.sent] = muse__now_ns();
            s = muse_submit(&ch, n.sent, intent.id, x, FEATURES);
            if (s == MUSE_E_AGAIN) { again++; break; }
            if (s != MUSE_OK) { fprintf(stderr, "submit: %s\n", muse_strerror(s)); return 1; }
            n.sent++;
        }
        if (n.answered == n.sent) {
            /* Nothing in flight: sleep until the next event is due. */
            uint64_t due = start + n.sent * interval;
            now = muse__now_ns();
            if (due > now + 60000) {
                struct timespec pause = {0, (long)(due - now - 50000)};
                nanosleep(&pause, NULL);
            }
            continue;
        }
        size_t got = 0;
        uint64_t due = start + n.sent * interval;
        now = muse__now_ns();
        int64_t wait = n.sent < total && due > now ? (int64_t)(due - now) : 100000000;
        s = muse_wait(&ch, done, 64, &got, wait);
        if (s == MUSE_E_TIMEDOUT) continue;
        if (s != MUSE_OK) { fprintf(stderr, "wait: %s\n", muse_strerror(s)); return 1; }
        now = muse__now_ns();
        for (size_t i = 0; i < got; i++)
            if (done[i].tag < total) latency[done[i].tag] = now - submitted[done[i].tag];
        tally(&n, done, got, &next, 0);
    }
    double elapsed = (double)(muse__now_ns() - start) / 1e9;
    qsort(latency, n.answered, sizeof *latency, compare);
    char extra[256] = "";
    if (n.answered > 0)
        snprintf(extra, sizeof extra, " rate=%.0f again=%llu skipped=%llu p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f",
                 (double)n.sent / elapsed, (unsigned long long)again, (unsigned long long)skipped, latency[n.answered / 2] / 1e3,
                 latency[n.answered * 99 / 100] / 1e3, latency[n.answered * 999 / 1000] / 1e3,
                 latency[n.answered - 1] / 1e3);
    muse_release(&ch);
    muse_close(&c);
    return report("paced", &n, elapsed, extra);
}

/* Rings the daemon's doorbell in a loop without submitting anything. */
static int ring(const char *dir, const char *tenant, double seconds) {
    muse_client c; muse_intent_info intent;
    if (!open_tenant(dir, tenant, &c, &intent)) return 1;
    uint64_t rings = 0, until = muse__now_ns() + (uint64_t)(seconds * 1e9);
    while (muse__now_ns() < until) {
        for (int i = 0; i < 64; i++) {
            muse__ring(&c.header->daemon_doorbell);
        }
        rings += 64;
    }
    printf("mode=ring rings=%llu\n", (unsigned long long)rings);
    muse_close(&c);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODE DIR TENANT ARGS\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1], *dir = argv[2], *tenant = argv[3];
    if (!strcmp(mode, "flood") && argc >= 6) return flood(dir, tenant, atoi(argv[4]), atof(argv[5]));
    if (!strcmp(mode, "paced") && argc >= 6) return paced(dir, tenant, atof(argv[4]), atof(argv[5]));
    if (!strcmp(mode, "ring")) return ring(dir, tenant, atof(argv[4]));
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
