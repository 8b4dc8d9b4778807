#include "muse_shims.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

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
        uint64_t at = muse__now_ns() + (uint64_t)timeout_ns;
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

/* ---- SIGBUS guard --------------------------------------------------------
 * Slots are claimed and released by daemon threads (base is published last,
 * release; cleared first) and read by the handler, which may run on any
 * thread, with acquire loads only: no lock, so the handler cannot deadlock. */

#define MUSE_GUARD_SLOTS 4096

static struct {
    uintptr_t base;   /* 0: free */
    size_t size;
    uint32_t damaged;
} muse_guard[MUSE_GUARD_SLOTS];

static void muse_sigbus_handler(int signo, siginfo_t *info, void *context) {
    uintptr_t address = (uintptr_t)info->si_addr;
    (void)context;
    for (int i = 0; i < MUSE_GUARD_SLOTS; i++) {
        uintptr_t base = __atomic_load_n(&muse_guard[i].base, __ATOMIC_ACQUIRE);
        size_t size = __atomic_load_n(&muse_guard[i].size, __ATOMIC_RELAXED);
        if (base == 0 || address < base || address >= base + size) continue;
        /* Swap the whole mapping for zero pages: the faulting access retries
         * and succeeds, and every later access is to private memory. */
        if (mmap((void *)base, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
            != MAP_FAILED) {
            __atomic_store_n(&muse_guard[i].damaged, 1, __ATOMIC_RELEASE);
            return;
        }
        break;
    }
    /* Not a segment (or the remap failed): die as SIGBUS would have. */
    signal(signo, SIG_DFL);
    raise(signo);
}

int muse_sigbus_guard_install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = muse_sigbus_handler;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    return sigaction(SIGBUS, &action, NULL);
}

int muse_sigbus_guard_register(void *base, size_t size) {
    for (int i = 0; i < MUSE_GUARD_SLOTS; i++) {
        uintptr_t expected = 0;
        /* Reserve with a sentinel so two registrations never share a slot. */
        if (__atomic_compare_exchange_n(&muse_guard[i].base, &expected, (uintptr_t)1, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            __atomic_store_n(&muse_guard[i].damaged, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&muse_guard[i].size, size, __ATOMIC_RELAXED);
            __atomic_store_n(&muse_guard[i].base, (uintptr_t)base, __ATOMIC_RELEASE);
            return i;
        }
    }
    return -1;
}

void muse_sigbus_guard_unregister(int slot) {
    if (slot < 0 || slot >= MUSE_GUARD_SLOTS) return;
    __atomic_store_n(&muse_guard[slot].base, 0, __ATOMIC_RELEASE);
}

int muse_sigbus_guard_damaged(int slot) {
    if (slot < 0 || slot >= MUSE_GUARD_SLOTS) return 0;
    return (int)__atomic_load_n(&muse_guard[slot].damaged, __ATOMIC_ACQUIRE);
}

int muse_peer_credentials(int fd, uint32_t *uid, uint32_t *gid, uint32_t *groups, unsigned *group_count) {
    struct ucred cred;
    socklen_t length = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return -1;
    *uid = (uint32_t)cred.uid;
    *gid = (uint32_t)cred.gid;
    if (groups && group_count) {
        socklen_t size = (socklen_t)(*group_count * sizeof(gid_t));
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &size) == 0) *group_count = (unsigned)(size / sizeof(gid_t));
        else *group_count = 0;
    }
    return 0;
}

int muse_set_thread_nice(int nice) {
    /* On Linux, PRIO_PROCESS with a thread id sets that thread's nice value. */
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}
