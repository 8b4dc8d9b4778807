#include "muse_uring.h"
#include <errno.h>
#include <liburing.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

struct muse_uring { struct io_uring ring; };

int muse_uring_create(unsigned entries, muse_uring **out) {
    muse_uring *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    int rc = io_uring_queue_init(entries, &r->ring, 0);
    if (rc < 0) { free(r); return rc; }
    *out = r;
    return 0;
}

void muse_uring_destroy(muse_uring *r) {
    if (!r) return;
    io_uring_queue_exit(&r->ring);
    free(r);
}

int muse_uring_queue_read(muse_uring *r, int fd, void *buffer, unsigned length, uint64_t offset, uint64_t user_data) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) return -EBUSY;
    io_uring_prep_read(sqe, fd, buffer, length, offset);
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int muse_uring_submit(muse_uring *r) { return io_uring_submit(&r->ring); }

int muse_uring_complete(muse_uring *r, int wait, uint64_t *user_data, int32_t *result) {
    struct io_uring_cqe *cqe = NULL;
    int rc = wait ? io_uring_wait_cqe(&r->ring, &cqe) : io_uring_peek_cqe(&r->ring, &cqe);
    if (rc < 0) return rc;
    if (!cqe) return -EAGAIN;
    *user_data = io_uring_cqe_get_data64(cqe);
    *result = cqe->res;
    io_uring_cqe_seen(&r->ring, cqe);
    return 0;
}

/* The kernel's IORING_OP_FUTEX_WAITV (Linux 6.7); Debian 12's liburing
 * predates it, so the request is prepared by hand. */
#define MUSE_IORING_OP_FUTEX_WAITV 53
#define MUSE_CANCEL_TAG UINT64_MAX

struct muse_futex_waiter {
    struct io_uring ring;
    unsigned entries;
    struct futex_waitv *vectors;
    unsigned capacity;
    /* Per group of words: whether its request is in the kernel. */
    uint8_t *in_flight;
    unsigned groups;
    unsigned in_flight_count;
    uint64_t submissions;
};

static void prep_futex_waitv(struct io_uring_sqe *sqe, struct futex_waitv *vector, unsigned count, uint64_t tag) {
    io_uring_prep_rw(MUSE_IORING_OP_FUTEX_WAITV, sqe, 0, vector, count, 0);
    io_uring_sqe_set_data64(sqe, tag);
}

int muse_futex_waiter_create(muse_futex_waiter **out) {
    muse_futex_waiter *w = calloc(1, sizeof *w);
    if (!w) return -ENOMEM;
    w->entries = 16;
    int rc = io_uring_queue_init(w->entries, &w->ring, 0);
    if (rc < 0) { free(w); return rc; }
    /* Probe: a word that already differs completes at once with -EAGAIN
     * where the request exists, and with -EINVAL where it does not. */
    uint32_t word = 1;
    struct futex_waitv probe = { .val = 0, .uaddr = (uint64_t)(uintptr_t)&word, .flags = FUTEX_32 };
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    prep_futex_waitv(sqe, &probe, 1, 0);
    struct io_uring_cqe *cqe = NULL;
    rc = io_uring_submit_and_wait(&w->ring, 1);
    if (rc >= 0) rc = io_uring_wait_cqe(&w->ring, &cqe);
    if (rc >= 0) {
        rc = cqe->res == -EAGAIN ? 0 : -ENOSYS;
        io_uring_cqe_seen(&w->ring, cqe);
    }
    if (rc < 0) { io_uring_queue_exit(&w->ring); free(w); return rc; }
    *out = w;
    return 0;
}

void muse_futex_waiter_destroy(muse_futex_waiter *w) {
    if (!w) return;
    if (w->entries != 0) io_uring_queue_exit(&w->ring);
    free(w->vectors);
    free(w->in_flight);
    free(w);
}

/* After an unexpected ring error, requests may be left queued or in flight:
 * tearing the ring down cancels them all; the next wait makes a new one. */
static int fail(muse_futex_waiter *w, int rc) {
    if (w->entries != 0) io_uring_queue_exit(&w->ring);
    w->entries = 0;
    if (w->in_flight) memset(w->in_flight, 0, w->groups);
    w->in_flight_count = 0;
    return rc;
}

/* Takes one completion: a group's request ended (woken, value differed,
 * cancelled) or a cancellation did. */
static void take(muse_futex_waiter *w, struct io_uring_cqe *cqe, unsigned *cancels) {
    uint64_t tag = io_uring_cqe_get_data64(cqe);
    if (tag == MUSE_CANCEL_TAG) {
        if (*cancels > 0) (*cancels)--;
    } else if (tag < w->groups && w->in_flight[tag]) {
        w->in_flight[tag] = 0;
        w->in_flight_count--;
    }
    io_uring_cqe_seen(&w->ring, cqe);
}

/* Waits until every cancellation queued and every request it targets is reaped. */
static int reap(muse_futex_waiter *w, unsigned cancels, const uint8_t *until_out) {
    for (;;) {
        int waiting = cancels > 0;
        if (until_out) for (unsigned g = 0; g < w->groups && !waiting; g++) waiting = until_out[g] && w->in_flight[g];
        if (!waiting) return 0;
        struct io_uring_cqe *cqe = NULL;
        int rc = io_uring_wait_cqe(&w->ring, &cqe);
        if (rc == -EINTR) continue;
        if (rc < 0) return fail(w, rc);
        take(w, cqe, &cancels);
    }
}

void muse_futex_waiter_end(muse_futex_waiter *w) {
    if (w->entries == 0 || w->in_flight_count == 0) return;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data64(sqe, MUSE_CANCEL_TAG);
    if (io_uring_submit(&w->ring) < 0) { fail(w, -EIO); return; }
    unsigned cancels = 1;
    while (cancels > 0 || w->in_flight_count > 0) {
        struct io_uring_cqe *cqe = NULL;
        int rc = io_uring_wait_cqe(&w->ring, &cqe);
        if (rc == -EINTR) continue;
        if (rc < 0) { fail(w, rc); return; }
        take(w, cqe, &cancels);
    }
}

/* Takes every completion posted in the completion queue: a group's request
 * that ended marks it woken; a cancellation's is dropped. */
static unsigned take_posted(muse_futex_waiter *w, uint8_t *woken) {
    struct io_uring_cqe *cqe = NULL;
    unsigned head, seen = 0, ended = 0;
    io_uring_for_each_cqe(&w->ring, head, cqe) {
        uint64_t tag = io_uring_cqe_get_data64(cqe);
        if (tag < w->groups && w->in_flight[tag]) {
            w->in_flight[tag] = 0;
            w->in_flight_count--;
            if (woken) woken[tag] = 1;
            ended++;
        }
        seen++;
    }
    io_uring_cq_advance(&w->ring, seen);
    return ended;
}

int muse_futex_waiter_poll(muse_futex_waiter *w, uint8_t *woken) {
    if (w->entries == 0 || w->in_flight_count == 0) return 0;
    if (io_uring_cq_ready(&w->ring) == 0) return 0;
    return (int)take_posted(w, woken);
}

uint64_t muse_futex_waiter_submissions(const muse_futex_waiter *w) { return w->submissions; }

int muse_futex_waiter_wait(muse_futex_waiter *w, uint32_t *const *words, const uint32_t *values, unsigned count,
                           const uint8_t *stale, uint8_t *woken, int64_t timeout_ns) {
    if (count == 0) return -EINVAL;
    unsigned groups = (count + MUSE_FUTEX_WAITER_GROUP - 1) / MUSE_FUTEX_WAITER_GROUP;
    if (groups != w->groups) {
        /* Another set of words: start over. */
        muse_futex_waiter_end(w);
        uint8_t *flags = realloc(w->in_flight, groups);
        if (!flags) return -ENOMEM;
        memset(flags, 0, groups);
        w->in_flight = flags;
        w->groups = groups;
        w->in_flight_count = 0;
        stale = NULL;
    }
    /* Room for a request and a cancellation per group (entries 0: the ring
     * was torn down after a failure). */
    if (2 * groups > w->entries) {
        unsigned entries = 16;
        while (entries < 2 * groups) entries *= 2;
        muse_futex_waiter_end(w);
        if (w->entries != 0) io_uring_queue_exit(&w->ring);
        w->entries = 0;
        int rc = io_uring_queue_init(entries, &w->ring, 0);
        if (rc < 0) return rc;
        w->entries = entries;
    }
    if (count > w->capacity) {
        /* Requests in flight point into the old array: they end first. */
        muse_futex_waiter_end(w);
        struct futex_waitv *v = realloc(w->vectors, count * sizeof *v);
        if (!v) return -ENOMEM;
        w->vectors = v;
        w->capacity = count;
    }
    /* Stale groups still in the kernel are cancelled and reaped first. */
    unsigned cancels = 0;
    uint8_t cancelled[groups];
    memset(cancelled, 0, groups);
    for (unsigned g = 0; g < groups; g++) {
        if (!w->in_flight[g] || (stale && !stale[g])) continue;
        struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
        io_uring_prep_cancel64(sqe, g, 0);
        io_uring_sqe_set_data64(sqe, MUSE_CANCEL_TAG);
        cancelled[g] = 1;
        cancels++;
    }
    if (cancels > 0) {
        int rc = io_uring_submit(&w->ring);
        if (rc < 0) return fail(w, rc);
        rc = reap(w, cancels, cancelled);
        if (rc < 0) return rc;
    }
    /* Every group not in the kernel goes in with the words and values now. */
    for (unsigned g = 0; g < groups; g++) {
        if (w->in_flight[g]) continue;
        unsigned first = g * MUSE_FUTEX_WAITER_GROUP;
        unsigned n = count - first < MUSE_FUTEX_WAITER_GROUP ? count - first : MUSE_FUTEX_WAITER_GROUP;
        for (unsigned i = first; i < first + n; i++) {
            w->vectors[i] = (struct futex_waitv){ .val = values[i], .uaddr = (uint64_t)(uintptr_t)words[i], .flags = FUTEX_32 };
        }
        prep_futex_waitv(io_uring_get_sqe(&w->ring), w->vectors + first, n, g);
        w->in_flight[g] = 1;
        w->in_flight_count++;
        w->submissions++;
    }
    struct io_uring_cqe *cqe = NULL;
    struct __kernel_timespec ts = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
    int rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, timeout_ns < 0 ? NULL : &ts, NULL);
    if (rc < 0 && rc != -ETIME && rc != -EINTR) return fail(w, rc);
    /* Take what completed; the rest stays in the kernel for the next wait. */
    take_posted(w, woken);
    return 0;
}
