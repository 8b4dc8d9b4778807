/*
 * demo_tenant: one tenant's client in tools/demo.sh, and a fuller example
 * than score_events.c of what a client can see in each completion.
 *
 *     cc -std=c11 -O2 -I <muse>/Sources/CMuse/include demo_tenant.c -o demo_tenant -lm
 *     ./demo_tenant RUNTIME_DIR TENANT ROWS.csv SECONDS THRESHOLD [IN_FLIGHT [PROGRESS_FILE]]
 *
 * It replays the events of ROWS.csv (a header of feature names, then one
 * event per line; empty, nan or NaN is missing) as "card-not-present" events
 * for SECONDS seconds, keeping up to IN_FLIGHT (default 16) in flight, and
 * places each column by feature name. Every completion names the generation
 * that scored it, so a swap in the middle splits the figures: for each
 * generation it prints the events, the throughput while that generation
 * answered, the latency from submit to completion (p50, p99, p99.9), and the
 * alert rate at THRESHOLD on the reference-scale score (what the tenant's
 * rules compare) next to what it would have been on raw_score (the model's
 * probability after level 1, before the tenant's level-2 map).
 * PROGRESS_FILE, if given, is rewritten about every 200 ms with
 * "EVENTS GENERATION" for a progress line.
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

#define MAX_FEATURES 64
#define MAX_ROWS 10000
#define MAX_IN_FLIGHT 1024          /* a power of two */
#define MAX_GENERATIONS 8
#define BUCKETS_PER_OCTAVE 16       /* latency resolution: 2^(1/16), about 4.4% */
#define BUCKETS (64 * BUCKETS_PER_OCTAVE)

typedef struct {
    uint64_t id, events, alerts, raw_alerts, first_ns, last_ns;
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

/* Reads ROWS.csv: fills names (the header) and rows; returns the row count. */
static int read_rows(const char *path, char names[][128], int *columns, double *rows) {
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); return -1; }
    static char line[1 << 16];
    int count = -1;
    while (fgets(line, sizeof line, f) && count < MAX_ROWS) {
        line[strcspn(line, "\r\n")] = 0;
        int column = 0;
        char *field = line;
        for (;;) {
            char *end = field + strcspn(field, ",");
            int last = *end == 0;
            *end = 0;
            if (column >= MAX_FEATURES) { fprintf(stderr, "%s: more than %d columns\n", path, MAX_FEATURES); fclose(f); return -1; }
            if (count < 0) {
                if (strlen(field) >= 128) { fprintf(stderr, "%s: feature name too long\n", path); fclose(f); return -1; }
                memcpy(names[column], field, strlen(field) + 1);
            } else {
                char *rest;
                double v = strtod(field, &rest);
                rows[(size_t)count * MAX_FEATURES + column] = (*field == 0 || *rest != 0) ? NAN : v;
            }
            column++;
            if (last) break;
            field = end + 1;
        }
        if (count < 0) *columns = column;
        else if (column != *columns) { fprintf(stderr, "%s: line %d has %d fields, not %d\n", path, count + 2, column, *columns); fclose(f); return -1; }
        count++;
    }
    fclose(f);
    return count;
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

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s RUNTIME_DIR TENANT ROWS.csv SECONDS THRESHOLD [IN_FLIGHT [PROGRESS_FILE]]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *tenant = argv[2], *progress = argc > 7 ? argv[7] : NULL;
    double seconds = atof(argv[4]), threshold = atof(argv[5]);
    unsigned in_flight = argc > 6 ? (unsigned)atoi(argv[6]) : 16;
    if (in_flight < 1 || in_flight > MAX_IN_FLIGHT) { fprintf(stderr, "IN_FLIGHT must be 1...%d\n", MAX_IN_FLIGHT); return 2; }

    static char names[MAX_FEATURES][128];
    static double rows[(size_t)MAX_ROWS * MAX_FEATURES];
    int columns = 0, count = read_rows(argv[3], names, &columns, rows);
    if (count <= 0) { fprintf(stderr, "%s: no events\n", argv[3]); return 1; }

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
    /* Column c of the file goes to feature position[c] of the event. */
    uint32_t position[MAX_FEATURES];
    for (int c = 0; c < columns; c++) {
        if ((status = muse_lookup_feature(&client, "card-not-present", names[c], &position[c])) != MUSE_OK) {
            fprintf(stderr, "feature %s: %s\n", names[c], muse_strerror(status));
            return 1;
        }
    }
    static double events[MAX_ROWS][MAX_FEATURES];
    for (int r = 0; r < count; r++) {
        for (uint32_t i = 0; i < intent.feature_count; i++) events[r][i] = NAN;
        for (int c = 0; c < columns; c++) events[r][position[c]] = rows[(size_t)r * MAX_FEATURES + c];
    }

    static uint64_t submitted_at[MAX_IN_FLIGHT];
    muse_completion done[64];
    uint64_t sent = 0, answered = 0, failed = 0, current = 0;
    uint64_t start = now_ns(), stop = start + (uint64_t)(seconds * 1e9), next_progress = start;
    for (;;) {
        uint64_t now = now_ns();
        if (now >= stop && answered == sent) break;
        if (now >= stop + UINT64_C(5000000000)) { fprintf(stderr, "%s: %llu events unanswered\n", tenant, (unsigned long long)(sent - answered)); return 1; }
        while (now < stop && sent - answered < in_flight) {
            status = muse_submit(&channel, sent, intent.id, events[sent % (uint64_t)count], intent.feature_count);
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
            if (c->status != MUSE_OK) { failed++; continue; }
            generation_stats *s = stats_for(c->generation_id);
            if (!s) continue;
            if (!s->events) s->first_ns = now;
            s->last_ns = now;
            s->events++;
            s->alerts += c->score >= threshold;
            s->raw_alerts += c->raw_score >= threshold;
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

    /* One line per generation, in the order they answered: tools/demo.sh prints the header. */
    for (int g = 0; g < generations; g++) {
        const generation_stats *s = &stats[g];
        double span = (double)(s->last_ns - s->first_ns) / 1e9;
        printf("%-8s %4llu %10llu %10.0f %8.1f %8.1f %8.1f %11.2f%% %11.2f%%\n", tenant, (unsigned long long)s->id,
               (unsigned long long)s->events, span > 0 ? (double)s->events / span : 0.0,
               percentile_us(s, 0.5), percentile_us(s, 0.99), percentile_us(s, 0.999),
               100.0 * (double)s->alerts / (double)s->events, 100.0 * (double)s->raw_alerts / (double)s->events);
    }
    if (failed) fprintf(stderr, "%s: %llu events refused\n", tenant, (unsigned long long)failed);
    muse_release(&channel);
    muse_close(&client);
    return failed ? 1 : 0;
}
