/*
 * Round trip from C through muse.h with one event in flight, 16 features:
 * submit, spin on muse_poll until the answer is read. Prints p50/p90/p99/p99.9.
 * Usage: client_roundtrip DIR TENANT EVENTS
 */
#include "muse.h"

#include <stdlib.h>

/* CLOCK_MONOTONIC in nanoseconds (mused's heartbeat clock). */
static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A pause for the spin loops: lets the sibling hyperthread run. */
static void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static int by_value(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    size_t events = strtoull(argv[3], NULL, 10), warmup = events / 10;
    muse_client c; muse_channel ch; muse_intent_info intent;
    if (muse_open_tenant(&c, argv[1], argv[2]) != MUSE_OK || muse_claim(&c, &ch) != MUSE_OK
        || muse_lookup_intent(&c, "card-not-present", &intent) != MUSE_OK) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    uint64_t *ns = (uint64_t *)malloc(events * sizeof *ns);
    double x[16];
    for (int i = 0; i < 16; i++) x[i] = 0.01;
    muse_completion done;
    for (size_t i = 0; i < warmup + events; i++) {
        uint64_t start = now_ns();
        while (muse_submit(&ch, i, intent.id, x, 16) != MUSE_OK) relax();
        while (muse_poll(&ch, &done, 1) == 0) relax();
        uint64_t end = now_ns();
        if (done.tag != i || done.status != MUSE_OK) { fprintf(stderr, "bad answer\n"); return 1; }
        if (i >= warmup) ns[i - warmup] = end - start;
    }
    qsort(ns, events, sizeof *ns, by_value);
    printf("c_roundtrip events=%zu p50_us=%.3f p90_us=%.3f p99_us=%.3f p999_us=%.3f\n", events,
           ns[events / 2] / 1e3, ns[events * 9 / 10] / 1e3, ns[events * 99 / 100] / 1e3, ns[events * 999 / 1000] / 1e3);
    muse_release(&ch);
    muse_close(&c);
    return 0;
}
