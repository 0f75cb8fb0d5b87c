// CRebind builds librebind.so, the LD_PRELOAD library of wrap mode (`sockify 6080 -- vncserver :1`). It exports
// only an interposed bind(2) and no API to Swift; SwiftPM needs this header to treat the folder as a C target.
//
// Contract (the same environment variables as websockify's rebind.so):
//   REBIND_OLD_PORT  the port the wrapped program will try to bind (Sockify's listen port)
//   REBIND_NEW_PORT  the free loopback port Sockify proxies to
// A bind(2) to port REBIND_OLD_PORT on any address becomes a bind to 127.0.0.1:REBIND_NEW_PORT (IPv4), or to
// [::1]:REBIND_NEW_PORT (IPv6, IPV6_V6ONLY socket), or to [::ffff:127.0.0.1]:REBIND_NEW_PORT (dual-stack IPv6
// socket, so that Sockify's IPv4 loopback target reaches it). Every other bind(2) is passed through unchanged.
#ifndef C_REBIND_H
#define C_REBIND_H
#endif
