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
 * 128, so the words go to io_uring as one FUTEX_WAITV request per group of
 * MUSE_FUTEX_WAITER_GROUP (Linux 6.7+). A wait ends when any request
 * completes; the others stay in the kernel for the next wait (also while
 * the thread is awake in between: `muse_futex_waiter_poll` shows what
 * completed meanwhile), so a wake costs the kernel's setup of one group (it
 * looks up each word's page), not of every word; `muse_futex_waiter_end`
 * cancels them. Small groups make a
 * wake cheap; more of them cost little more to start. One waiter per thread. */
#define MUSE_FUTEX_WAITER_GROUP 32
typedef struct muse_futex_waiter muse_futex_waiter;

/* -ENOSYS when the kernel has io_uring without its futex requests, or the
 * errors of muse_uring_create. */
int muse_futex_waiter_create(muse_futex_waiter **out);
void muse_futex_waiter_destroy(muse_futex_waiter *waiter);
/* Sleeps until any words[i] differs from values[i], one is woken, or
 * timeout_ns passes (< 0: no timeout). Groups whose request is still in the
 * kernel keep the words and values they were submitted with, unless
 * stale[g] (NULL: all are stale) says they changed: those are cancelled and
 * submitted again. If `woken` is not NULL (one byte per group), woken[g]
 * is set to 1 for each group whose request completed in this wait (rung,
 * or a word already moved when it went in) and left alone otherwise, so the
 * caller looks only at those groups' words. Returns 0 however the wait
 * ended, or a negative errno when the ring itself failed (everything was
 * cancelled). */
int muse_futex_waiter_wait(muse_futex_waiter *waiter, uint32_t *const *words, const uint32_t *values, unsigned count,
                           const uint8_t *stale, uint8_t *woken, int64_t timeout_ns);
/* Takes the completions the kernel has already posted, without a system
 * call: woken[g] is set to 1 for each group whose request completed (the
 * rest stay in the kernel). Returns how many completed; 0 at once when none
 * is posted. For a waiter whose requests stay in the kernel while its
 * thread is awake: a ring meanwhile shows here. */
int muse_futex_waiter_poll(muse_futex_waiter *waiter, uint8_t *woken);
/* How many group requests this waiter has submitted so far (each costs the
 * kernel a lookup of its words' pages): what keeping them in the kernel
 * across waits saves, for tests. */
uint64_t muse_futex_waiter_submissions(const muse_futex_waiter *waiter);
/* Cancels and reaps every request still in the kernel. */
void muse_futex_waiter_end(muse_futex_waiter *waiter);

#endif
