#include "muse_shims.h"

#include <pthread.h>
#include <sched.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

/* Declared here rather than taken from <linux/futex.h>, whose copy depends on
 * the kernel headers' age; the layout is fixed by the kernel ABI. */
struct muse_futex_waitv_entry {
    uint64_t val;
    uint64_t uaddr;
    uint32_t flags;
    uint32_t reserved;
};

#define MUSE_FUTEX2_SIZE_U32 0x02

int muse_futex_waitv(uint32_t *const *words, const uint32_t *values, unsigned count, int64_t timeout_ns) {
    struct muse_futex_waitv_entry entries[128];
    struct timespec deadline, *deadline_ptr = NULL;
    if (count == 0 || count > 128) { errno = EINVAL; return -1; }
    for (unsigned i = 0; i < count; i++) {
        entries[i].val = values[i];
        entries[i].uaddr = (uint64_t)(uintptr_t)words[i];
        entries[i].flags = MUSE_FUTEX2_SIZE_U32; /* shared: no FUTEX2_PRIVATE */
        entries[i].reserved = 0;
    }
    if (timeout_ns >= 0) {
        /* futex_waitv takes an absolute deadline on the given clock. */
        uint64_t at = muse_now_ns() + (uint64_t)timeout_ns;
        deadline.tv_sec = (time_t)(at / 1000000000u);
        deadline.tv_nsec = (long)(at % 1000000000u);
        deadline_ptr = &deadline;
    }
    return (int)syscall(SYS_futex_waitv, entries, count, 0, deadline_ptr, CLOCK_MONOTONIC);
}

int muse_pin_thread_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0) { errno = rc; return -1; }
    return 0;
}

void muse_set_thread_name(const char *name) {
    char buf[16];
    snprintf(buf, sizeof buf, "%s", name);
    pthread_setname_np(pthread_self(), buf);
}
