// One TLS connection over a non-blocking socket the caller owns (OpenSSL reads and writes the fd itself). Lives on
// one reactor thread. The process must ignore SIGPIPE: OpenSSL's socket writes do not pass MSG_NOSIGNAL.
import CSockify
import Glibc

/// A TLS session on a connected, non-blocking socket: handshake, then reads and writes that report
/// `IOStatus` like `Sockets` does.
///
/// With kernel TLS (`SSL_OP_ENABLE_KTLS`, a kernel with `CONFIG_TLS`), OpenSSL hands the record layer to the kernel
/// after the handshake. Then `send` is a plain `send(2)` on the socket (the kernel encrypts; no copy into OpenSSL's
/// buffers, so the relay keeps its zero-copy path) and `sendFile` is `sendfile(2)`. Reads always go through
/// `SSL_read`, which with kernel receive offload is a `recvmsg` that also handles alerts and post-handshake
/// messages.
///
/// Readiness is edge-triggered in the caller, so it must know when a call stopped for lack of bytes:
/// `.wouldBlock` means OpenSSL needs the socket readable (`wantsReadable`) or writable (`wantsWritable`) before the
/// same call can go on. A short read is *not* a sign the socket is empty (OpenSSL returns one record at a time).
/// A write that returned `.wouldBlock` must be retried with the same bytes (the buffer may move).
public final class TLSStream {
    public let fd: CInt
    private let ssl: OpaquePointer
    /// Bytes leave through the kernel's TLS (`send(2)` on the socket) rather than `SSL_write`.
    public private(set) var kernelSend = false
    /// Received records are decrypted by the kernel.
    public private(set) var kernelReceive = false
    /// The last `.wouldBlock` (from any call) waits for the socket to become writable rather than readable.
    public private(set) var wantsWritable = false
    public private(set) var isHandshakeComplete = false

    /// Takes ownership of `ssl` (freed with the stream), not of `fd`.
    init(ssl: OpaquePointer, fd: CInt) {
        self.ssl = ssl
        self.fd = fd
    }

    deinit { SSL_free(ssl) }

    public enum Progress: Equatable, Sendable {
        case complete
        /// Call again when the socket is readable (or writable, with `wantsWritable`).
        case wouldBlock
    }

    /// Advances the handshake. Throws the peer's or OpenSSL's reason when it fails.
    public func handshake() throws(TLSError) -> Progress {
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            isHandshakeComplete = true
            kernelSend = CSockify_SSL_get_ktls_send(ssl) != 0
            kernelReceive = CSockify_SSL_get_ktls_recv(ssl) != 0
            return .complete
        }
        let savedErrno = Glibc.errno
        let code = SSL_get_error(ssl, rc)
        switch code {
        case SSL_ERROR_WANT_READ:
            wantsWritable = false
            return .wouldBlock
        case SSL_ERROR_WANT_WRITE:
            wantsWritable = true
            return .wouldBlock
        case SSL_ERROR_SYSCALL:
            throw Self.syscallError(savedErrno, eof: "EOF occurred in violation of protocol")
        case SSL_ERROR_ZERO_RETURN:
            // The peer's EOF (SSL_OP_IGNORE_UNEXPECTED_EOF reports it so) before the handshake finished.
            ERR_clear_error()
            throw TLSError("EOF occurred in violation of protocol")
        default:
            let error = TLSError.fromQueue("TLS handshake failed (SSL error \(code))")
            let verify = SSL_get_verify_result(ssl)
            guard verify != X509_V_OK, let reason = X509_verify_cert_error_string(verify) else { throw error }
            throw TLSError("\(error.description) (\(String(cString: reason)))")
        }
    }

    /// Decrypts up to `count` bytes into `buffer`. `.endOfStream` after the peer's close_notify or a TCP EOF.
    public func receive(into buffer: UnsafeMutableRawPointer, count: Int) throws(TLSError) -> IOStatus {
        ERR_clear_error()
        var n = 0
        if SSL_read_ex(ssl, buffer, count, &n) == 1 { return .transferred(n) }
        return try failedIO(errno: Glibc.errno, reading: true)
    }

    /// Encrypts and writes `count` (> 0) bytes: all of them, or `.wouldBlock` (retry with the same bytes).
    /// With kernel TLS, a plain `send(2)` that may write fewer.
    public func send(from buffer: UnsafeRawPointer, count: Int) throws(TLSError) -> IOStatus {
        if kernelSend {
            do {
                return try Sockets.send(fd, from: buffer, count: count)
            } catch {
                throw TLSError(error.description, errno: error)
            }
        }
        ERR_clear_error()
        var n = 0
        if SSL_write_ex(ssl, buffer, count, &n) == 1 { return .transferred(n) }
        return try failedIO(errno: Glibc.errno, reading: false)
    }

    /// What a failed `SSL_read_ex`/`SSL_write_ex` means: wait for a direction, the peer's end, or an error.
    /// `savedErrno` is `errno` right after the call.
    private func failedIO(errno savedErrno: CInt, reading: Bool) throws(TLSError) -> IOStatus {
        switch SSL_get_error(ssl, 0) {
        case SSL_ERROR_WANT_READ:
            wantsWritable = false
            return .wouldBlock
        case SSL_ERROR_WANT_WRITE:
            wantsWritable = true
            return .wouldBlock
        case SSL_ERROR_ZERO_RETURN:
            return .endOfStream
        case SSL_ERROR_SYSCALL:
            // SSL_OP_IGNORE_UNEXPECTED_EOF turns a bare TCP EOF into ZERO_RETURN; a read with errno 0 is one too.
            if reading && savedErrno == 0 { return .endOfStream }
            throw Self.syscallError(savedErrno, eof: "EOF occurred in violation of protocol")
        default:
            throw TLSError.fromQueue(reading ? "TLS read failed" : "TLS write failed")
        }
    }

    /// Sends part of a file. With kernel TLS this is `sendfile(2)` (no copy through user space); otherwise the bytes
    /// are read into `scratch` and written with `SSL_write` (a `.wouldBlock` re-reads the same range next time).
    public func sendFile(
        file: CInt, offset: inout Int, count: Int, scratch: UnsafeMutableRawBufferPointer
    ) throws(TLSError) -> IOStatus {
        if kernelSend {
            do {
                return try Sockets.sendFile(fd, file: file, offset: &offset, count: count)
            } catch {
                throw TLSError(error.description, errno: error)
            }
        }
        let chunk = min(count, scratch.count)
        let read: Int
        do {
            read = try FileSystem.read(file, into: scratch.baseAddress!, count: chunk, at: offset)
        } catch {
            throw TLSError(error.description, errno: error)
        }
        if read == 0 { return .endOfStream }
        let status = try send(from: scratch.baseAddress!, count: read)
        if case .transferred(let n) = status { offset += n }
        return status
    }

    /// Sends close_notify (best effort: a full socket buffer just loses it; the TCP FIN follows anyway).
    public func shutdown() {
        guard isHandshakeComplete else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// `TLSv1.3`, `TLSv1.2`, …
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The negotiated cipher suite, e.g. `TLS_AES_256_GCM_SHA384`.
    public var cipher: String {
        guard let cipher = SSL_get_current_cipher(ssl) else { return "none" }
        return String(cString: SSL_CIPHER_get_name(cipher))
    }

    /// The subject common name of the peer's certificate, only when the peer sent one and it verified
    /// (`--verify-client`); never anything the peer could merely claim.
    public var verifiedPeerCommonName: String? {
        guard SSL_get_verify_result(ssl) == X509_V_OK, let certificate = SSL_get1_peer_certificate(ssl) else {
            return nil
        }
        defer { X509_free(certificate) }
        guard let subject = X509_get_subject_name(certificate) else { return nil }
        let index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(subject, index),
            let data = X509_NAME_ENTRY_get_data(entry)
        else { return nil }
        var utf8: UnsafeMutablePointer<UInt8>?
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        guard length >= 0, let utf8 else { return nil }
        defer { CSockify_OPENSSL_free(utf8) }
        return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
    }

    private static func syscallError(_ code: CInt, eof: String) -> TLSError {
        let queued = ERR_peek_error()
        if queued != 0 { return TLSError.fromQueue(eof) }
        if code == 0 { return TLSError(eof) }
        let error = Errno(rawValue: code)
        return TLSError(error.description, errno: error)
    }
}
