/*
 * score_events: a minimal Muse client. Copy it as a starting point.
 *
 *     cc -std=c11 -O2 -I <muse>/Sources/CMuse/include score_events.c -o score_events -lm
 *     ./score_events /run/muse demo 1000
 *
 * It claims a channel of the tenant's segment, submits N events of the intent
 * "card-not-present" with up to a ring's worth in flight, and reads every
 * completion back.
 */
#include "muse.h"

#include <stdlib.h>

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : MUSE_DEFAULT_RUNTIME_DIR;
    const char *tenant = argc > 2 ? argv[2] : "demo";
    unsigned long total = argc > 3 ? strtoul(argv[3], NULL, 10) : 1000;

    muse_client client;
    muse_status status = muse_open_tenant(&client, dir, tenant);
    if (status != MUSE_OK) {
        fprintf(stderr, "open %s/%s: %s (%s)\n", dir, tenant, muse_strerror(status), strerror(errno));
        return 1;
    }
    muse_channel channel;
    if ((status = muse_claim(&client, &channel)) != MUSE_OK) {
        fprintf(stderr, "claim: %s\n", muse_strerror(status));
        return 1;
    }
    muse_intent_info intent;
    if ((status = muse_lookup_intent(&client, "card-not-present", &intent)) != MUSE_OK) {
        fprintf(stderr, "intent: %s\n", muse_strerror(status));
        return 1;
    }

    double features[64] = {0};
    muse_completion done[64];
    unsigned long sent = 0, answered = 0, failed = 0;
    double sum = 0;
    while (answered < total) {
        /* Submit until the ring pushes back or all are sent. */
        while (sent < total) {
            features[0] = (double)(sent % 100) / 100.0; /* your event's features */
            status = muse_submit(&channel, sent, intent.id, features, intent.feature_count);
            if (status == MUSE_E_AGAIN) break;
            if (status != MUSE_OK) { fprintf(stderr, "submit: %s\n", muse_strerror(status)); return 1; }
            sent++;
        }
        size_t n;
        status = muse_wait(&channel, done, 64, &n, 1000000000); /* 1 s */
        if (status == MUSE_E_TIMEDOUT) {
            fprintf(stderr, "no answer for 1 s; daemon %s\n", muse_daemon_alive(&client, 1000000000) ? "alive" : "down");
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (done[i].status != MUSE_OK) {
                failed++;
                fprintf(stderr, "event %llu: %s\n", (unsigned long long)done[i].tag, muse_strerror((muse_status)done[i].status));
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
