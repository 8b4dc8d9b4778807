/*
 * Uses libmuse.so the way a foreign-language binding does: dlopen, then each
 * function by name and symbol version (dlvsym), structures allocated by the
 * sizes the library reports. Exchanges events with a real mused.
 * Usage: libmuse_smoke LIBRARY DIR TENANT
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { uint64_t tag; int32_t status; uint32_t predictor_id; double score, raw_score; uint64_t generation_id, reserved[3]; } completion;
typedef struct { uint32_t id, feature_count; uint64_t schema_hash; } intent_info;

#define LOAD(name, version, type) __typeof__(type) name = (type)dlvsym(lib, #name, version); \
    if (!name) { printf("missing %s@%s\n", #name, version); return 1; }

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { printf("dlopen: %s\n", dlerror()); return 1; }
    LOAD(muse_sizeof_client, "MUSE_1.1", size_t (*)(void));
    LOAD(muse_sizeof_channel, "MUSE_1.1", size_t (*)(void));
    LOAD(muse_open_tenant, "MUSE_1.0", int (*)(void *, const char *, const char *));
    LOAD(muse_claim, "MUSE_1.0", int (*)(void *, void *));
    LOAD(muse_lookup_intent, "MUSE_1.0", int (*)(void *, const char *, intent_info *));
    LOAD(muse_lookup_feature, "MUSE_1.1", int (*)(void *, const char *, const char *, uint32_t *));
    LOAD(muse_submit, "MUSE_1.0", int (*)(void *, uint64_t, uint32_t, const double *, uint32_t));
    LOAD(muse_wait, "MUSE_1.0", int (*)(void *, completion *, size_t, size_t *, int64_t));
    LOAD(muse_wait_idle, "MUSE_1.2", int (*)(void *, completion *, size_t, size_t *, int64_t, int));
    LOAD(muse_release, "MUSE_1.0", void (*)(void *));
    LOAD(muse_close, "MUSE_1.0", void (*)(void *));
    LOAD(muse_strerror, "MUSE_1.0", const char *(*)(int));
    LOAD(muse_version, "MUSE_1.3", const char *(*)(void));
    void *client = calloc(1, muse_sizeof_client()), *channel = calloc(1, muse_sizeof_channel());
    intent_info intent;
    uint32_t f7 = 0;
    int s;
    if ((s = muse_open_tenant(client, argv[2], argv[3])) != 0 || (s = muse_claim(client, channel)) != 0
        || (s = muse_lookup_intent(client, "card-present", &intent)) != 0
        || (s = muse_lookup_feature(client, "card-present", "f7", &f7)) != 0) {
        printf("setup: %s\n", muse_strerror(s));
        return 1;
    }
    int wrong = 0;
    for (int i = 0; i < 1000; i++) {
        double x[8] = {0};
        x[f7] = (double)i / 1000.0;
        completion done[1];
        size_t n;
        if (muse_submit(channel, (uint64_t)i, intent.id, x, intent.feature_count) != 0
            || (i % 2 ? muse_wait_idle(channel, done, 1, &n, 1000000000, 1 /* MUSE_IDLE_BUSY_SPIN */)
                      : muse_wait(channel, done, 1, &n, 1000000000)) != 0
            || n != 1 || done[0].tag != (uint64_t)i
            || done[0].status != 0 || done[0].score != 1 / (1 + exp(-x[f7])))
            wrong++;
    }
    muse_release(channel);
    muse_close(client);
    printf("libmuse events=1000 wrong=%d f7=%u strerror=%s version=%s\n", wrong, f7, muse_strerror(75), muse_version());
    return wrong == 0 && f7 == 7 ? 0 : 1;
}
