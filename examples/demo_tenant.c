/*
 * demo_tenant: one tenant's client in tools/demo.sh, and a fuller example
 * than score_events.c of what a client can see in each completion.
 *
 *     cc -std=c11 -O2 -I <muse>/Sources/CMuse/include demo_tenant.c -o demo_tenant -lm
 *     ./demo_tenant RUNTIME_DIR TENANT MIX SEED SECONDS THRESHOLDS [IN_FLIGHT [PROGRESS_FILE]]
 *     ./demo_tenant --rows MIX SEED COUNT NAME...
 *
 * It sends "card-not-present" events for SECONDS seconds (or until SIGTERM or
 * SIGINT), keeping up to
 * IN_FLIGHT (default 16) in flight. Every event is new: its features are
 * drawn from the tenant's MIX, "RISKY:SHIFT:MISSING" (e.g. 0.1:1.5:0.02): a
 * share RISKY of the events has every feature shifted by SHIFT standard
 * deviations from the others' standard normal, and each feature is missing
 * (NaN) with probability MISSING; SEED starts the generator, so two tenants,
 * or two runs, never send the same stream. Every completion names the
 * generation that scored it, so a swap in the middle splits the figures: for
 * each generation it prints the events, the throughput while that
 * generation answered, the latency from submit to completion (p50, p99,
 * p99.9), and, for each of THRESHOLDS (comma-separated, on the reference
 * scale: what the tenant's rules compare), the alert rate with its sampling
 * error (one standard deviation, sqrt(p(1 - p)/n)) next to what it would have
 * been on raw_score (the model's probability after level 1, before the
 * tenant's level-2 map). PROGRESS_FILE, if given, is rewritten about every
 * 200 ms with "EVENTS GENERATION" for a progress line. With --rows it writes
 * COUNT events of MIX as CSV instead (header NAME..., "nan" where missing):
 * a tenant's past traffic, to fit a generation's maps on.
 */
#include "muse.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CLOCK_MONOTONIC in nanoseconds (mused's heartbeat clock). */
static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define MAX_FEATURES 64
#define MAX_THRESHOLDS 4
#define EVENTS 4096                 /* drawn ahead, a power of two: refilled as they are sent */
#define MAX_IN_FLIGHT 1024          /* a power of two */
#define MAX_GENERATIONS 8
#define BUCKETS_PER_OCTAVE 16       /* latency resolution: 2^(1/16), about 4.4% */
#define BUCKETS (64 * BUCKETS_PER_OCTAVE)

static double thresholds[MAX_THRESHOLDS];
static int threshold_count;

typedef struct {
    uint64_t id, events, first_ns, last_ns;
    uint64_t alerts[MAX_THRESHOLDS], raw_alerts[MAX_THRESHOLDS];
    uint64_t latency[BUCKETS];
} generation_stats;

static generation_stats stats[MAX_GENERATIONS];
static int generations;

static generation_stats *stats_for(uint64_t id) {
    for (int i = 0; i < generations; i++)
        if (stats[i].id == id) return &stats[i];
    if (generations == MAX_GENERATIONS) return NULL;
    stats[generations].id = id;
    return &stats[generations++];
}

static int bucket(uint64_t ns) {
    int b = (int)(log2((double)(ns ? ns : 1)) * BUCKETS_PER_OCTAVE);
    return b < 0 ? 0 : b >= BUCKETS ? BUCKETS - 1 : b;
}

/* The latency (µs) below which a fraction q of the generation's events came back. */
static double percentile_us(const generation_stats *s, double q) {
    uint64_t want = (uint64_t)ceil(q * (double)s->events), seen = 0;
    for (int b = 0; b < BUCKETS; b++) {
        seen += s->latency[b];
        if (seen >= want && want) return exp2((double)(b + 1) / BUCKETS_PER_OCTAVE) / 1000.0;
    }
    return 0;
}

/* SIGTERM or SIGINT: stop sending, read what is in flight, report. */
static volatile sig_atomic_t stop_requested;
static void request_stop(int signal) { (void)signal; stop_requested = 1; }

/* The tenant's event generator: xorshift64* for uniforms, Box-Muller for normals. */
typedef struct {
    uint64_t state;
    double risky, shift, missing;
} generator;

static double uniform(generator *g) {
    g->state ^= g->state >> 12;
    g->state ^= g->state << 25;
    g->state ^= g->state >> 27;
    return ((double)((g->state * UINT64_C(2685821657736338717)) >> 11) + 0.5) / 9007199254740992.0; /* (0, 1) */
}

static double normal(generator *g) {
    return sqrt(-2.0 * log(uniform(g))) * cos(6.283185307179586 * uniform(g));
}

/* One event of `count` features from the tenant's mix. */
static void draw(generator *g, double *features, uint32_t count) {
    double shift = uniform(g) < g->risky ? g->shift : 0.0;
    for (uint32_t i = 0; i < count; i++)
        features[i] = uniform(g) < g->missing ? NAN : normal(g) + shift;
}

/* "RISKY:SHIFT:MISSING"; 0 when it does not parse. */
static int parse_mix(const char *text, generator *g) {
    char *end;
    g->risky = strtod(text, &end);
    if (*end++ != ':') return 0;
    g->shift = strtod(end, &end);
    if (*end++ != ':') return 0;
    g->missing = strtod(end, &end);
    return *end == 0 && g->risky >= 0 && g->risky <= 1 && g->missing >= 0 && g->missing < 1 && isfinite(g->shift);
}

/* Comma-separated thresholds in (0, 1); their count, 0 when they do not parse. */
static int parse_thresholds(const char *text) {
    int n = 0;
    for (const char *p = text; *p;) {
        char *end;
        double t = strtod(p, &end);
        if (end == p || n == MAX_THRESHOLDS || !(t > 0 && t < 1)) return 0;
        thresholds[n++] = t;
        if (*end == ',') end++;
        else if (*end) return 0;
        p = end;
    }
    return n;
}

static void write_progress(const char *path, uint64_t events, uint64_t generation) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f, "%llu %llu\n", (unsigned long long)events, (unsigned long long)generation);
    fclose(f);
    rename(tmp, path);
}

/* demo_tenant --rows MIX SEED COUNT NAME...: COUNT events of the mix as CSV
 * (a header of the feature names, "nan" where missing) on standard output, to
 * fit a generation's maps on a tenant's past traffic. */
static int write_rows(int argc, char **argv) {
    generator g;
    if (argc < 6 || !parse_mix(argv[2], &g)) {
        fprintf(stderr, "usage: %s --rows RISKY:SHIFT:MISSING SEED COUNT NAME...\n", argv[0]);
        return 2;
    }
    g.state = strtoull(argv[3], NULL, 10) * UINT64_C(0x9E3779B97F4A7C15) | 1;
    long count = atol(argv[4]);
    uint32_t features = (uint32_t)(argc - 5);
    if (features > MAX_FEATURES) { fprintf(stderr, "at most %d features\n", MAX_FEATURES); return 2; }
    for (uint32_t i = 0; i < features; i++) printf("%s%s", i ? "," : "", argv[5 + i]);
    printf("\n");
    double event[MAX_FEATURES];
    for (long r = 0; r < count; r++) {
        draw(&g, event, features);
        for (uint32_t i = 0; i < features; i++) {
            if (i) printf(",");
            if (isnan(event[i])) printf("nan");
            else printf("%.17g", event[i]);
        }
        printf("\n");
    }
    return ferror(stdout) ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--rows") == 0) return write_rows(argc, argv);
    if (argc < 7) {
        fprintf(stderr, "usage: %s RUNTIME_DIR TENANT MIX SEED SECONDS THRESHOLDS [IN_FLIGHT [PROGRESS_FILE]]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *tenant = argv[2], *progress = argc > 8 ? argv[8] : NULL;
    generator g;
    if (!parse_mix(argv[3], &g)) { fprintf(stderr, "MIX must be RISKY:SHIFT:MISSING, e.g. 0.1:1.5:0.02\n"); return 2; }
    g.state = strtoull(argv[4], NULL, 10) * UINT64_C(0x9E3779B97F4A7C15) | 1;
    double seconds = atof(argv[5]);
    if (!(threshold_count = parse_thresholds(argv[6]))) {
        fprintf(stderr, "THRESHOLDS: 1 to %d comma-separated numbers in (0, 1)\n", MAX_THRESHOLDS);
        return 2;
    }
    unsigned in_flight = argc > 7 ? (unsigned)atoi(argv[7]) : 16;
    if (in_flight < 1 || in_flight > MAX_IN_FLIGHT) { fprintf(stderr, "IN_FLIGHT must be 1...%d\n", MAX_IN_FLIGHT); return 2; }

    muse_client client;
    muse_status status = muse_open_tenant(&client, dir, tenant);
    if (status != MUSE_OK) { fprintf(stderr, "open %s/%s: %s\n", dir, tenant, muse_strerror(status)); return 1; }
    muse_channel channel;
    if ((status = muse_claim(&client, &channel)) != MUSE_OK) { fprintf(stderr, "claim: %s\n", muse_strerror(status)); return 1; }
    muse_intent_info intent;
    if ((status = muse_lookup_intent(&client, "card-not-present", &intent)) != MUSE_OK) {
        fprintf(stderr, "intent card-not-present: %s\n", muse_strerror(status));
        return 1;
    }
    if (intent.feature_count > MAX_FEATURES) { fprintf(stderr, "too many features\n"); return 1; }
    /* Events are drawn ahead in a ring and each slot redrawn once its event
     * is answered, so none is ever sent twice. */
    static double events[EVENTS][MAX_FEATURES];
    for (int e = 0; e < EVENTS; e++) draw(&g, events[e], intent.feature_count);

    signal(SIGTERM, request_stop);
    signal(SIGINT, request_stop);
    static uint64_t submitted_at[MAX_IN_FLIGHT];
    muse_completion done[64];
    uint64_t sent = 0, answered = 0, failed = 0, current = 0;
    uint64_t start = now_ns(), stop = start + (uint64_t)(seconds * 1e9), next_progress = start;
    for (;;) {
        uint64_t now = now_ns();
        if (stop_requested && now < stop) stop = now;
        if (now >= stop && answered == sent) break;
        if (now >= stop + UINT64_C(5000000000)) { fprintf(stderr, "%s: %llu events unanswered\n", tenant, (unsigned long long)(sent - answered)); return 1; }
        while (now < stop && sent - answered < in_flight) {
            status = muse_submit(&channel, sent, intent.id, events[sent % EVENTS], intent.feature_count);
            if (status == MUSE_E_AGAIN) break;
            if (status != MUSE_OK) { fprintf(stderr, "submit: %s\n", muse_strerror(status)); return 1; }
            submitted_at[sent % MAX_IN_FLIGHT] = now_ns();
            sent++;
        }
        size_t n = 0;
        status = muse_wait(&channel, done, 64, &n, 100000000); /* 100 ms */
        if (status == MUSE_E_TIMEDOUT) continue;
        if (status != MUSE_OK) { fprintf(stderr, "wait: %s\n", muse_strerror(status)); return 1; }
        now = now_ns();
        for (size_t i = 0; i < n; i++) {
            const muse_completion *c = &done[i];
            /* Its features were copied into the ring at submit: a fresh event takes the slot. */
            draw(&g, events[c->tag % EVENTS], intent.feature_count);
            if (c->status != MUSE_OK) { failed++; continue; }
            generation_stats *s = stats_for(c->generation_id);
            if (!s) continue;
            if (!s->events) s->first_ns = now;
            s->last_ns = now;
            s->events++;
            for (int t = 0; t < threshold_count; t++) {
                s->alerts[t] += c->score >= thresholds[t];
                s->raw_alerts[t] += c->raw_score >= thresholds[t];
            }
            s->latency[bucket(now - submitted_at[c->tag % MAX_IN_FLIGHT])]++;
            current = c->generation_id;
        }
        answered += n;
        if (progress && now >= next_progress) {
            write_progress(progress, answered, current);
            next_progress = now + 200000000;
        }
    }
    if (progress) write_progress(progress, answered, current);

    /* One line per generation, in the order they answered, then per threshold
     * the alert rate ± its sampling error and the raw score's: tools/demo.sh
     * prints the header. */
    for (int gen = 0; gen < generations; gen++) {
        const generation_stats *s = &stats[gen];
        double span = (double)(s->last_ns - s->first_ns) / 1e9, n = (double)s->events;
        printf("%-8s %4llu %10llu %10.0f %8.1f %8.1f %8.1f", tenant, (unsigned long long)s->id,
               (unsigned long long)s->events, span > 0 ? n / span : 0.0,
               percentile_us(s, 0.5), percentile_us(s, 0.99), percentile_us(s, 0.999));
        for (int t = 0; t < threshold_count; t++) {
            double p = (double)s->alerts[t] / n;
            printf("   %6.2f%% ±%.2f%% %7.2f%%", 100.0 * p, 100.0 * sqrt(p * (1 - p) / n),
                   100.0 * (double)s->raw_alerts[t] / n);
        }
        printf("\n");
    }
    if (failed) fprintf(stderr, "%s: %llu events refused\n", tenant, (unsigned long long)failed);
    muse_release(&channel);
    muse_close(&client);
    return failed ? 1 : 0;
}
