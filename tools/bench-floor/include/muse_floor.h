#ifndef MUSE_FLOOR_H
#define MUSE_FLOOR_H

/* The machine's own floor for an event crossing two CPUs through shared
 * memory, with no Muse code: per client a single-producer ring of 8-byte tags
 * to a server process and one back, the server answering each tag with
 * itself. In spin mode both sides poll; in sleep mode each side, finding
 * nothing to do, raises a flag and sleeps on a futex word that the other side
 * bumps and wakes only when the flag is up (the same protocol as muse.h's
 * doorbells, with nothing else around it). muse-bench latency drives it with
 * the generator it drives Muse with. */

#include <stdint.h>

typedef struct muse_floor muse_floor;

/* Creates the shared file at `path` for `lanes` clients (at most 64) and
 * maps it; NULL with errno on failure. */
muse_floor *muse_floor_create(const char *path, unsigned lanes);
/* Maps an existing one; NULL with errno. */
muse_floor *muse_floor_open(const char *path);

/* Serves every lane until muse_floor_stop (the server process). sleep: 0
 * spin, 1 sleep on the futex when idle. */
void muse_floor_serve(muse_floor *floor, int sleep);
void muse_floor_stop(muse_floor *floor);

/* Client side of `lane`: one thread per lane. */
int muse_floor_send(muse_floor *floor, unsigned lane, uint64_t tag); /* 0, or -1 when full */
unsigned muse_floor_poll(muse_floor *floor, unsigned lane, uint64_t *tags, unsigned max);
/* Waits up to timeout_ns for answers: spins (sleep 0) or sleeps on the
 * lane's futex (sleep 1) when none is there. */
unsigned muse_floor_wait(muse_floor *floor, unsigned lane, uint64_t *tags, unsigned max, int64_t timeout_ns,
                         int sleep);

#endif
