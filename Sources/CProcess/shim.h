// Starting and watching a trainer process (posix_spawn, pipes, poll, signals, waitid): called
// from Sources/TrainerProcess/ChildProcess.swift only.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// GNU extensions that Swift's Glibc module (built without _GNU_SOURCE) does not declare.
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *__restrict actions,
                                                const char *__restrict path);
extern int pipe2(int pipefd[2], int flags);

// What Swift cannot call or read directly: variadic fcntl, and errno.
static inline int sgdr_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}
static inline int sgdr_errno(void) { return errno; }
// SIG_IGN is a cast macro Swift does not import.
static inline void sgdr_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }
