/* A few liburing calls behind an opaque handle. liburing.h itself cannot be
 * imported into Swift next to Glibc here (the two modules disagree on
 * fd_set), so Swift sees only these declarations. Each returns 0 or a
 * negative errno, as liburing does. */
#ifndef MUSE_URING_H
#define MUSE_URING_H
#include <stdint.h>

typedef struct muse_uring muse_uring;

/* A ring of `entries` submission slots; -ENOSYS, -EPERM, -ENOMEM when the
 * kernel has no io_uring, forbids it, or lacks memory for it. */
int muse_uring_create(unsigned entries, muse_uring **out);
void muse_uring_destroy(muse_uring *ring);
/* Queues a read of `length` bytes at `offset` into `buffer`; -EBUSY when
 * the submission queue is full. */
int muse_uring_queue_read(muse_uring *ring, int fd, void *buffer, unsigned length, uint64_t offset, uint64_t user_data);
/* Submits what is queued; returns how many, or a negative errno. */
int muse_uring_submit(muse_uring *ring);
/* Takes one completion, waiting for it (`wait` != 0) or not (-EAGAIN when
 * none is ready). */
int muse_uring_complete(muse_uring *ring, int wait, uint64_t *user_data, int32_t *result);

/* A futex wait on any number of 32-bit words: futex_waitv(2) takes at most
 * 128, so the words go to io_uring as one FUTEX_WAITV request per 128 (Linux
 * 6.7+); the first to complete ends the wait and the others are cancelled.
 * One waiter per thread. */
typedef struct muse_futex_waiter muse_futex_waiter;

/* -ENOSYS when the kernel has io_uring without its futex requests, or the
 * errors of muse_uring_create. */
int muse_futex_waiter_create(muse_futex_waiter **out);
void muse_futex_waiter_destroy(muse_futex_waiter *waiter);
/* Sleeps until any words[i] differs from values[i], one is woken, or
 * timeout_ns passes (< 0: no timeout). Returns 0 however the wait ended,
 * or a negative errno when the ring itself failed. */
int muse_futex_waiter_wait(muse_futex_waiter *waiter, uint32_t *const *words, const uint32_t *values, unsigned count,
                           int64_t timeout_ns);

#endif
