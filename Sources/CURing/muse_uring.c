#include "muse_uring.h"
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>

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
