// The C surface Sockify's Swift code uses: headers Glibc's module map leaves out, and the few macros and
// GNU-only declarations the Swift importer cannot reach. No logic, no state, no errno translation here.
#ifndef C_SOCKIFY_H
#define C_SOCKIFY_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <pthread.h>
#include <liburing.h>

// accept4(2) is declared only under _GNU_SOURCE, which the importer does not define when it parses this header,
// so the wrapper lives out of line in shims.c (compiled with -D_GNU_SOURCE).
int CSockify_accept4(int fd, struct sockaddr *_Nullable addr, socklen_t *_Nullable len, int flags);

// EPOLLRDHUP and EPOLLET are enum constants with macro twins; the importer keeps neither reliably as UInt32.
static inline unsigned CSockify_EPOLLIN(void) { return EPOLLIN; }
static inline unsigned CSockify_EPOLLOUT(void) { return EPOLLOUT; }
static inline unsigned CSockify_EPOLLRDHUP(void) { return EPOLLRDHUP; }
static inline unsigned CSockify_EPOLLHUP(void) { return EPOLLHUP; }
static inline unsigned CSockify_EPOLLERR(void) { return EPOLLERR; }
static inline unsigned CSockify_EPOLLET(void) { return EPOLLET; }

// epoll_event is __attribute__((packed)) on x86-64; these accessors keep Swift from guessing its layout.
static inline void CSockify_epoll_event_set(struct epoll_event *_Nonnull ev, unsigned events, unsigned long long data) {
    ev->events = events;
    ev->data.u64 = data;
}
static inline unsigned CSockify_epoll_event_events(const struct epoll_event *_Nonnull ev) { return ev->events; }
static inline unsigned long long CSockify_epoll_event_data(const struct epoll_event *_Nonnull ev) { return ev->data.u64; }

// CPU_* are function-like macros over __CPU_* GNU macros; pthread_setaffinity_np is GNU-only (shims.c).
void CSockify_CPU_ZERO(cpu_set_t *_Nonnull set);
void CSockify_CPU_SET(int cpu, cpu_set_t *_Nonnull set);
int CSockify_pthread_setaffinity_np(pthread_t thread, size_t size, const cpu_set_t *_Nonnull set);

// close_range(2) (glibc >= 2.34) is declared only under _GNU_SOURCE; Daemon.swift closes every inherited
// descriptor but a keep-list with it. Fails with ENOSYS on kernels older than 5.9 (the caller then loops).
int CSockify_close_range(unsigned first, unsigned last);

// ---- io_uring (URing*.swift) ------------------------------------------------------------------------------------
// Most of liburing 2.3 imports as is, static inline helpers included (io_uring_prep_*, io_uring_cq_ready,
// io_uring_cq_advance, io_uring_buf_ring_add/advance). Only these cannot be reached:
// - IOSQE_* flags are `(1U << IOSQE_*_BIT)` over enum constants; the importer drops macros of that shape.
static inline unsigned char CSockify_IOSQE_BUFFER_SELECT(void) { return IOSQE_BUFFER_SELECT; }
// - io_uring_for_each_cqe is a function-like macro; URing.drainCompletions writes its head/tail walk out in Swift.
// - io_uring_setup_buf_ring (liburing >= 2.4) does not exist in Debian 12's 2.3; URingBufferRing registers by hand.

#endif
