#ifndef MUSE_TEST_SPAWN_H
#define MUSE_TEST_SPAWN_H

#include <spawn.h>

/* Calls glibc declares only under _GNU_SOURCE, which Swift's Glibc module
 * does not define. */

/* A pipe whose two ends are close-on-exec; 0 or -1 with errno. */
int muse_test_pipe_cloexec(int fds[2]);

/* Has the child close every descriptor from `lowest` up. */
int muse_test_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest);

#endif
