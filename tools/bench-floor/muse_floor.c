#define _GNU_SOURCE
#include "muse_floor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RING 1024u
#define MAX_LANES 64u
#define LINE 64

/* Each field has one writer, named; heads are published with release and
 * read with acquire; a flag and the other side's head are ordered by a
 * seq_cst fence on both sides (Dekker), so a sleeper is never missed. */
struct lane {
    _Alignas(LINE) _Atomic uint64_t request_head;  /* client */
    _Alignas(LINE) _Atomic uint64_t answer_head;   /* server */
    _Alignas(LINE) _Atomic uint32_t client_sleeping; /* client */
    _Atomic uint32_t client_bell;                  /* server: adds 1, then wakes */
    _Alignas(LINE) uint64_t requests[RING];        /* client */
    _Alignas(LINE) uint64_t answers[RING];         /* server */
};

struct muse_floor {
    _Alignas(LINE) _Atomic uint32_t stop;            /* whoever stops it */
    uint32_t lanes;                                  /* creator, before any other side maps it */
    _Alignas(LINE) _Atomic uint32_t server_sleeping; /* server */
    _Atomic uint32_t server_bell;                    /* clients: add 1, then wake */
    _Alignas(LINE) struct lane lane[];
};

static size_t floor_size(unsigned lanes) { return sizeof(struct muse_floor) + lanes * sizeof(struct lane); }

static void futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tsp = &ts;
    }
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, tsp, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word) { syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0); }

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

muse_floor *muse_floor_create(const char *path, unsigned lanes) {
    if (lanes == 0 || lanes > MAX_LANES) { errno = EINVAL; return NULL; }
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return NULL;
    if (ftruncate(fd, (off_t)floor_size(lanes)) != 0) { close(fd); return NULL; }
    void *p = mmap(NULL, floor_size(lanes), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return NULL;
    struct muse_floor *f = p;
    f->lanes = lanes;
    return f;
}

muse_floor *muse_floor_open(const char *path) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return NULL;
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < (off_t)floor_size(1)) { close(fd); errno = EINVAL; return NULL; }
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return NULL;
    struct muse_floor *f = p;
    if (f->lanes == 0 || f->lanes > MAX_LANES || floor_size(f->lanes) > (size_t)size) { errno = EINVAL; return NULL; }
    return f;
}

void muse_floor_stop(muse_floor *f) {
    atomic_store(&f->stop, 1);
    atomic_fetch_add(&f->server_bell, 1);
    futex_wake(&f->server_bell);
}

/* Answers what lane `l` sent since `consumed`; the number answered. */
static unsigned answer(struct lane *l, uint64_t *consumed) {
    uint64_t head = atomic_load_explicit(&l->request_head, memory_order_acquire);
    if (head == *consumed) return 0;
    uint64_t out = atomic_load_explicit(&l->answer_head, memory_order_relaxed);
    unsigned n = 0;
    while (*consumed < head) {
        l->answers[out % RING] = l->requests[*consumed % RING];
        ++out;
        ++*consumed;
        ++n;
    }
    atomic_store_explicit(&l->answer_head, out, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&l->client_sleeping, memory_order_relaxed)) {
        atomic_fetch_add(&l->client_bell, 1);
        futex_wake(&l->client_bell);
    }
    return n;
}

void muse_floor_serve(muse_floor *f, int sleep) {
    uint64_t consumed[MAX_LANES] = {0};
    while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
        unsigned done = 0;
        for (unsigned i = 0; i < f->lanes; ++i) done += answer(&f->lane[i], &consumed[i]);
        if (done) continue;
        if (!sleep) { relax(); continue; }
        uint32_t bell = atomic_load(&f->server_bell);
        atomic_store(&f->server_sleeping, 1);
        atomic_thread_fence(memory_order_seq_cst);
        int pending = 0;
        for (unsigned i = 0; i < f->lanes; ++i)
            pending |= atomic_load_explicit(&f->lane[i].request_head, memory_order_relaxed) != consumed[i];
        if (!pending && !atomic_load(&f->stop)) futex_wait(&f->server_bell, bell, -1);
        atomic_store(&f->server_sleeping, 0);
    }
}

/* The client's read position in its lane's answers: one thread per lane
 * reads them, in order, so a thread-local position suffices. */
static _Thread_local uint64_t read_position[MAX_LANES];

int muse_floor_send(muse_floor *f, unsigned lane, uint64_t tag) {
    struct lane *l = &f->lane[lane];
    uint64_t head = atomic_load_explicit(&l->request_head, memory_order_relaxed);
    /* Sent and not yet read back: at most a ring, so no answer is
     * overwritten before it is read. */
    if (head - read_position[lane] >= RING) return -1;
    l->requests[head % RING] = tag;
    atomic_store_explicit(&l->request_head, head + 1, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&f->server_sleeping, memory_order_relaxed)) {
        atomic_fetch_add(&f->server_bell, 1);
        futex_wake(&f->server_bell);
    }
    return 0;
}

unsigned muse_floor_poll(muse_floor *f, unsigned lane, uint64_t *tags, unsigned max) {
    struct lane *l = &f->lane[lane];
    uint64_t head = atomic_load_explicit(&l->answer_head, memory_order_acquire);
    unsigned n = 0;
    while (read_position[lane] < head && n < max) tags[n++] = l->answers[read_position[lane]++ % RING];
    return n;
}

unsigned muse_floor_wait(muse_floor *f, unsigned lane, uint64_t *tags, unsigned max, int64_t timeout_ns, int sleep) {
    uint64_t deadline = now_ns() + (uint64_t)timeout_ns;
    struct lane *l = &f->lane[lane];
    for (;;) {
        unsigned n = muse_floor_poll(f, lane, tags, max);
        if (n) return n;
        uint64_t now = now_ns();
        if (now >= deadline) return 0;
        if (!sleep) { relax(); continue; }
        uint32_t bell = atomic_load(&l->client_bell);
        atomic_store(&l->client_sleeping, 1);
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&l->answer_head, memory_order_relaxed) == read_position[lane])
            futex_wait(&l->client_bell, bell, (int64_t)(deadline - now));
        atomic_store(&l->client_sleeping, 0);
    }
}
