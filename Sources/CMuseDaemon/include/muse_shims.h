/*
 * Daemon-side shims: system calls Swift cannot make directly (syscall(2) is
 * variadic). Not part of the client API; clients need only muse.h.
 */
#ifndef MUSE_SHIMS_H
#define MUSE_SHIMS_H

#include "muse.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Sleeps until any of `words[i]` differs from `values[i]`, one is woken, or
 * timeout_ns passes (< 0: forever), with futex_waitv(2) (Linux 5.16+).
 * Returns the woken index, or -1 with errno (ETIMEDOUT, EAGAIN when a word
 * already differed, EINTR, ENOSYS on older kernels). At most 128 words.
 */
int muse_futex_waitv(uint32_t *const *words, const uint32_t *values, unsigned count, int64_t timeout_ns);

/**
 * SIGBUS guard for segment mappings. A tenant's process may shrink its
 * segment file with ftruncate(2); the daemon's next access past the new end
 * would raise SIGBUS and kill it, and every tenant with it. Registered
 * mappings are instead replaced by anonymous zero pages from the signal
 * handler (the faulting access then succeeds) and flagged as damaged, so the
 * daemon can stop serving that tenant. Faults elsewhere keep the default
 * action. Up to 4096 mappings.
 */
int muse_sigbus_guard_install(void);
/** Registers [base, base + size); returns a slot for the calls below, or -1. */
int muse_sigbus_guard_register(void *base, size_t size);
void muse_sigbus_guard_unregister(int slot);
/** Nonzero once a SIGBUS hit the slot's mapping (it is then anonymous memory). */
int muse_sigbus_guard_damaged(int slot);

/** Pins the calling thread to one CPU; returns 0 or -1 with errno. */
int muse_pin_thread_to_cpu(int cpu);

/**
 * The credentials of a Unix socket's peer (SO_PEERCRED), and up to
 * *group_count of its supplementary groups (SO_PEERGROUPS; *group_count is
 * set to how many were stored, 0 if the kernel cannot say). 0 or -1 with errno.
 */
int muse_peer_credentials(int fd, uint32_t *uid, uint32_t *gid, uint32_t *groups, unsigned *group_count);

/** Sets the calling thread's nice value (Linux: per thread); 0 or -1 with errno. */
int muse_set_thread_nice(int nice);

/** Names the calling thread (at most 15 bytes are kept). */
void muse_set_thread_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif
