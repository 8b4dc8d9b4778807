/*
 * score_events: a minimal Muse client. Copy it as a starting point.
 *
 *     cc -std=c11 -O2 -I <muse>/Sources/CMuse/include score_events.c -o score_events -lm
 *     ./score_events /run/muse demo-a 1000 [FEATURE]
 *
 * It claims a channel of the tenant's segment, looks the intent
 * "card-not-present" up and the position of its feature FEATURE (default:
 * the intent's first feature) by name (a wrong feature order is the
 * likeliest silent mistake),
 * varies that feature and leaves the others missing (NaN), submits N events
 * with up to twice the ring depth in flight, and reads every
 * completion back. If mused is down it waits up to 5 s for it to come back,
 * then gives up (exit 1): what it submitted stays in the ring and a restarted
 * mused would answer it.
 */
#include "muse.h"

#include <math.h>
#include <stdlib.h>

/* CLOCK_MONOTONIC in nanoseconds (mused's heartbeat clock). */
static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Gives up when mused has shown no sign of life for this long. */
#define GIVE_UP_NS UINT64_C(5000000000)

/* Prints a failed call's status; errno only means something for MUSE_E_SYSTEM. */
static void report(const char *what, muse_status status) {
    if (status == MUSE_E_SYSTEM)
        fprintf(stderr, "%s: %s\n", what, strerror(errno));
    else
        fprintf(stderr, "%s: %s\n", what, muse_strerror(status));
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : MUSE_DEFAULT_RUNTIME_DIR;
    const char *tenant = argc > 2 ? argv[2] : "demo-a"; /* mused's embedded default serves demo-a and demo-b */
    unsigned long total = argc > 3 ? strtoul(argv[3], NULL, 10) : 1000;
    const char *feature = argc > 4 ? argv[4] : NULL;
    char what[4200];

    muse_client client;
    muse_status status = muse_open_tenant(&client, dir, tenant);
    if (status != MUSE_OK) {
        snprintf(what, sizeof what, "open %s/%s", dir, tenant);
        report(what, status);
        return 1;
    }
    muse_channel channel;
    if ((status = muse_claim(&client, &channel)) != MUSE_OK) {
        report("claim", status);
        return 1;
    }
    muse_intent_info intent;
    if ((status = muse_lookup_intent(&client, "card-not-present", &intent)) != MUSE_OK) {
        report("intent card-not-present", status);
        return 1;
    }
    if (intent.feature_count > 64) {
        fprintf(stderr, "intent card-not-present has %u features; this example handles 64\n", intent.feature_count);
        return 1;
    }

    /* Place features by name: the segment lists each intent's feature names
     * in order. A segment made by an ABI 1.0 mused has no names
     * (MUSE_E_NO_SCHEMA); then only the documented order can be used. */
    uint32_t f0 = 0;
    status = feature ? muse_lookup_feature(&client, "card-not-present", feature, &f0) : MUSE_OK;
    if (status != MUSE_OK && status != MUSE_E_NO_SCHEMA) {
        snprintf(what, sizeof what, "feature %s", feature);
        report(what, status);
        return 1;
    }

    double features[64];
    for (int i = 0; i < 64; i++) features[i] = NAN; /* missing unless set */
    muse_completion done[64];
    unsigned long sent = 0, answered = 0, failed = 0;
    uint64_t last_sign_of_life = now_ns();
    double sum = 0;
    while (answered < total) {
        /* Submit until the ring pushes back or all are sent. */
        while (sent < total) {
            features[f0] = (double)(sent % 100) / 10.0 - 5.0; /* your event's features */
            status = muse_submit(&channel, sent, intent.id, features, intent.feature_count);
            if (status == MUSE_E_AGAIN) break;
            if (status != MUSE_OK) { report("submit", status); return 1; }
            sent++;
        }
        size_t n;
        status = muse_wait(&channel, done, 64, &n, 1000000000); /* 1 s */
        if (status == MUSE_E_TIMEDOUT) {
            if (muse_daemon_alive(&client, MUSE_ALIVE_AGE_NS)) {
                last_sign_of_life = now_ns();
                fprintf(stderr, "no answer for 1 s; mused is alive (busy or overloaded)\n");
            } else if (now_ns() - last_sign_of_life >= GIVE_UP_NS) {
                fprintf(stderr, "mused is not serving (stopped, dead or hung); giving up with %lu of %lu answered\n",
                        answered, total);
                return 1;
            } else {
                fprintf(stderr, "no answer for 1 s; mused is not serving, waiting for it\n");
            }
            continue;
        }
        if (status != MUSE_OK) { report("wait", status); return 1; }
        last_sign_of_life = now_ns();
        for (size_t i = 0; i < n; i++) {
            if (done[i].status != MUSE_OK) {
                failed++;
                fprintf(stderr, "event %llu: %s\n", (unsigned long long)done[i].tag,
                        muse_strerror((muse_status)done[i].status));
            } else {
                sum += done[i].score;
            }
        }
        answered += n;
    }
    printf("answered %lu of %lu, %lu refused, mean score %.6f\n", answered, total, failed,
           answered > failed ? sum / (double)(answered - failed) : 0.0);
    muse_release(&channel);
    muse_close(&client);
    return failed ? 1 : 0;
}
