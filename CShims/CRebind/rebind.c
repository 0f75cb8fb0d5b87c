/* librebind.so: moves the wrapped program's listening socket behind Sockify (wrap mode, reference §1.3).
 *
 * Sockify listens on the port the wrapped program wants (say 5901) and starts the program with
 * LD_PRELOAD=librebind.so, REBIND_OLD_PORT=5901 and REBIND_NEW_PORT=<a free port>. The program's bind() to 5901
 * lands here and is turned into a bind to the loopback address on the new port, where only Sockify (and local
 * users) can reach it. This is websockify's rebind.c contract; unlike websockify's, IPv6 binds are moved too, so
 * a program that also listens on [::]:5901 does not stay reachable from the network around the proxy.
 *
 * This C file has logic in it because an LD_PRELOAD interposer cannot be written in Swift: it runs inside a
 * foreign program, whose bind() symbol it must replace with a plain C function. */
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "CRebind.h"

typedef int (*bind_function)(int, const struct sockaddr *, socklen_t);

/* A port from the environment: 1...65535 in decimal, or 0 when missing or malformed (then nothing is moved). */
static unsigned short port_from_environment(const char *name)
{
    const char *text = getenv(name);
    if (text == NULL || *text == '\0')
        return 0;
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < 1 || value > 65535)
        return 0;
    return (unsigned short)value;
}

/* The real bind(2), found once. dlsym is async-signal-unsafe but bind() is not called from signal handlers. */
static bind_function real_bind(void)
{
    static bind_function function;
    if (function == NULL)
        function = (bind_function)dlsym(RTLD_NEXT, "bind");
    return function;
}

int bind(int fd, const struct sockaddr *address, socklen_t length)
{
    bind_function next = real_bind();
    if (next == NULL) {
        errno = ENOSYS;
        return -1;
    }
    /* The environment is read on every call, as websockify's rebind.c does: the program may change it. */
    unsigned short old_port = port_from_environment("REBIND_OLD_PORT");
    unsigned short new_port = port_from_environment("REBIND_NEW_PORT");
    if (address == NULL || old_port == 0 || new_port == 0)
        return next(fd, address, length);

    if (address->sa_family == AF_INET && length >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)address;
        if (ntohs(in->sin_port) != old_port)
            return next(fd, address, length);
        struct sockaddr_in moved = *in;
        moved.sin_port = htons(new_port);
        moved.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return next(fd, (const struct sockaddr *)&moved, sizeof moved);
    }
    if (address->sa_family == AF_INET6 && length >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)address;
        if (ntohs(in6->sin6_port) != old_port)
            return next(fd, address, length);
        struct sockaddr_in6 moved = *in6;
        moved.sin6_port = htons(new_port);
        moved.sin6_scope_id = 0;
        /* A dual-stack socket (IPV6_V6ONLY off, Linux's default) bound to the IPv4-mapped loopback accepts
         * Sockify's connections to 127.0.0.1; an IPv6-only socket gets ::1. */
        int v6only = 0;
        socklen_t size = sizeof v6only;
        if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &size) != 0)
            v6only = 1;
        if (v6only) {
            moved.sin6_addr = in6addr_loopback;
        } else {
            memset(&moved.sin6_addr, 0, sizeof moved.sin6_addr);
            moved.sin6_addr.s6_addr[10] = 0xff;
            moved.sin6_addr.s6_addr[11] = 0xff;
            moved.sin6_addr.s6_addr[12] = 127;
            moved.sin6_addr.s6_addr[15] = 1;
        }
        return next(fd, (const struct sockaddr *)&moved, sizeof moved);
    }
    return next(fd, address, length);
}
