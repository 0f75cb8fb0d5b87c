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
// - io_uring_enable_rings is declared by Debian 12's liburing 2.3 but not exported from liburing.so.2.3; this calls
//   io_uring_register(IORING_REGISTER_ENABLE_RINGS) directly and returns 0 or -errno like liburing.
int CSockify_io_uring_enable_rings(int ring_fd);

// ---- TLS (OpenSSL 3, Debian's libssl-dev; TLS.swift) -----------------------------------------------------------
// Functions import as is; these are the macros (SSL_CTX_ctrl/BIO_ctrl wrappers, SSL_OP_BIT constants) the importer
// cannot reach, and the PEM pass-phrase callback (a C function pointer that copies the user data string).
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

static inline uint64_t CSockify_SSL_OP_ENABLE_KTLS(void) { return SSL_OP_ENABLE_KTLS; }
static inline uint64_t CSockify_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline uint64_t CSockify_SSL_OP_IGNORE_UNEXPECTED_EOF(void) { return SSL_OP_IGNORE_UNEXPECTED_EOF; }
static inline uint64_t CSockify_SSL_OP_NO_COMPRESSION(void) { return SSL_OP_NO_COMPRESSION; }
static inline uint64_t CSockify_SSL_OP_ALL(void) { return SSL_OP_ALL; }
static inline long CSockify_SSL_CTX_set_mode(SSL_CTX *_Nonnull ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline void CSockify_SSL_CTX_set_read_ahead(SSL_CTX *_Nonnull ctx, int yes) { SSL_CTX_set_read_ahead(ctx, yes); }
static inline long CSockify_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER(void) { return SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER; }
static inline long CSockify_SSL_MODE_RELEASE_BUFFERS(void) { return SSL_MODE_RELEASE_BUFFERS; }
static inline int CSockify_SSL_CTX_set_min_proto_version(SSL_CTX *_Nonnull ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline int CSockify_SSL_set_tlsext_host_name(SSL *_Nonnull ssl, const char *_Nonnull name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}
static inline int CSockify_SSL_get_ktls_send(SSL *_Nonnull ssl) {
    BIO *bio = SSL_get_wbio(ssl);
    return bio ? (int)BIO_get_ktls_send(bio) : 0;
}
static inline int CSockify_SSL_get_ktls_recv(SSL *_Nonnull ssl) {
    BIO *bio = SSL_get_rbio(ssl);
    return bio ? (int)BIO_get_ktls_recv(bio) : 0;
}
typedef int (*CSockify_servername_cb)(SSL *_Nonnull ssl, int *_Nonnull alert, void *_Nullable arg);
static inline void CSockify_SSL_CTX_set_servername_callback(SSL_CTX *_Nonnull ctx, CSockify_servername_cb _Nonnull cb,
                                                            void *_Nullable arg) {
    SSL_CTX_set_tlsext_servername_callback(ctx, cb);
    SSL_CTX_set_tlsext_servername_arg(ctx, arg);
}
static inline int CSockify_TLSEXT_NAMETYPE_host_name(void) { return TLSEXT_NAMETYPE_host_name; }
static inline int CSockify_SSL_TLSEXT_ERR_OK(void) { return SSL_TLSEXT_ERR_OK; }
static inline void CSockify_OPENSSL_free(void *_Nullable p) { OPENSSL_free(p); }
// Copies the NUL-terminated pass phrase given as user data (SSL_CTX_set_default_passwd_cb_userdata) into buf.
int CSockify_pem_password_cb(char *_Nullable buf, int size, int rwflag, void *_Nullable userdata);

#endif
