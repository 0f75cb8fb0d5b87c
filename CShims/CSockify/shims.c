// Out-of-line wrappers for declarations that exist only under _GNU_SOURCE (Package.swift defines it for this file),
// plus layout checks for the structs Swift touches through accessors.
#include "CSockify.h"
#include <assert.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <errno.h>
#include <string.h>

int CSockify_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) { return accept4(fd, addr, len, flags); }
void CSockify_CPU_ZERO(cpu_set_t *set) { CPU_ZERO(set); }
void CSockify_CPU_SET(int cpu, cpu_set_t *set) { CPU_SET(cpu, set); }
int CSockify_pthread_setaffinity_np(pthread_t t, size_t n, const cpu_set_t *s) { return pthread_setaffinity_np(t, n, s); }
int CSockify_close_range(unsigned first, unsigned last) { return close_range(first, last, 0); }

int CSockify_pem_password_cb(char *buf, int size, int rwflag, void *userdata) {
    (void)rwflag;
    if (!buf || !userdata || size <= 0) return 0;
    size_t n = strlen((const char *)userdata);
    if (n > (size_t)size) n = (size_t)size;
    memcpy(buf, userdata, n);
    return (int)n;
}

_Static_assert(sizeof(struct epoll_event) == 12, "x86-64 epoll_event is packed to 12 bytes");

int CSockify_io_uring_enable_rings(int ring_fd) {
    long rc = syscall(__NR_io_uring_register, ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    return rc < 0 ? -errno : (int)rc;
}
