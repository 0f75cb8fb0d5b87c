// OpenSSL contexts: the server's (certificate + key, optional client verification, SNI among several certificates,
// reloaded when the files change) and a client's (targets with --ssl-target, sockify-load's wss://).
import CSockify
import Glibc
import Synchronization

/// The lowest TLS version a context accepts.
public enum TLSMinimumVersion: Sendable, Hashable {
    case tls1_2
    case tls1_3

    var rawValue: CInt { self == .tls1_2 ? TLS1_2_VERSION : TLS1_3_VERSION }
}

/// A certificate chain file (PEM) and its private key (the same file when `keyFile` is nil).
public struct TLSCertificateFiles: Sendable, Hashable {
    public var certificateFile: String
    public var keyFile: String?

    public init(certificateFile: String, keyFile: String? = nil) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    var paths: [String] { [certificateFile] + (keyFile.map { [$0] } ?? []) }
}

/// Everything a listening side's TLS needs.
public struct TLSServerSettings: Sendable {
    /// The default certificate (used when SNI names none of `sniCertificates`).
    public var certificate: TLSCertificateFiles
    /// Further certificates, picked by the client's SNI name against each certificate's DNS names (wildcards too).
    public var sniCertificates: [TLSCertificateFiles] = []
    public var keyPassword: String?
    /// Require a client certificate that verifies against `caFile` (or the system's CAs).
    public var verifyClient = false
    public var caFile: String?
    public var minimumVersion = TLSMinimumVersion.tls1_2
    /// An OpenSSL cipher list for TLS ≤ 1.2 (`openssl ciphers`).
    public var ciphers: String?
    /// Offer kernel TLS (`SSL_OP_ENABLE_KTLS`); used where the kernel and cipher allow it.
    public var kernelTLS = true

    public init(certificate: TLSCertificateFiles) { self.certificate = certificate }
}

/// The server's TLS contexts, shared by every reactor. `makeStream` is safe from any thread; `reloadIfChanged`
/// swaps in new contexts when a certificate or key file changed (connections already open keep theirs).
public final class TLSServerContext: @unchecked Sendable {
    public let settings: TLSServerSettings

    private struct Loaded: @unchecked Sendable {
        /// The default certificate's context; nil while its file does not exist (websockify: TLS disabled).
        var primary: OpaquePointer?
        /// SNI candidates: a context and its leaf certificate (for `X509_check_host`).
        var named: [(context: OpaquePointer, leaf: OpaquePointer)] = []
        var fingerprints: [[Int64]?] = []
    }

    private let loaded = Mutex(Loaded())
    /// The key pass phrase as a C string, alive as long as the contexts that point at it.
    private let password: UnsafeMutablePointer<CChar>?

    /// Loads the certificates. A missing default certificate file is not an error (TLS stays off until it appears,
    /// as websockify treats a missing `self.pem`); an unreadable or mismatched one is.
    public init(settings: TLSServerSettings) throws(TLSError) {
        self.settings = settings
        password = settings.keyPassword.map { strdup($0) }
        let fresh = try load()
        loaded.withLock { $0 = fresh }
    }

    deinit {
        loaded.withLock { state in Self.free(state) }
        Glibc.free(password)
    }

    /// Whether a default certificate is loaded (false: the certificate file does not exist).
    public var hasCertificate: Bool { loaded.withLock { $0.primary != nil } }

    /// A server-side session on `fd`, or nil when no certificate is loaded.
    public func makeStream(fd: CInt) -> TLSStream? {
        let ssl: OpaquePointer? = loaded.withLock { state in
            guard let context = state.primary else { return nil }
            return SSL_new(context)
        }
        guard let ssl else { return nil }
        SSL_set_fd(ssl, fd)
        SSL_set_accept_state(ssl)
        return TLSStream(ssl: ssl, fd: fd)
    }

    public enum ReloadResult: Equatable, Sendable {
        case unchanged
        case reloaded
        case failed(TLSError)
    }

    /// Reloads every context when any certificate or key file changed since the last load. A failed reload keeps
    /// the previous contexts (and is retried when the files change again).
    public func reloadIfChanged() -> ReloadResult {
        let now = fingerprints()
        guard loaded.withLock({ $0.fingerprints != now }) else { return .unchanged }
        do {
            let fresh = try load()
            let old = loaded.withLock { state in
                let old = state
                state = fresh
                return old
            }
            Self.free(old)
            return .reloaded
        } catch {
            loaded.withLock { $0.fingerprints = now }
            return .failed(error)
        }
    }

    /// The certificate and key files, and the client CA file: a change to any of them reloads every context.
    private func fingerprints() -> [[Int64]?] {
        let paths = ([settings.certificate] + settings.sniCertificates).flatMap(\.paths) + (settings.caFile.map { [$0] } ?? [])
        return paths.map { FileSystem.fingerprint($0) }
    }

    private func load() throws(TLSError) -> Loaded {
        var fresh = Loaded()
        fresh.fingerprints = fingerprints()
        do throws(TLSError) {
            if FileSystem.fingerprint(settings.certificate.certificateFile) != nil {
                fresh.primary = try makeContext(settings.certificate)
                CSockify_SSL_CTX_set_servername_callback(
                    fresh.primary!, Self.serverNameCallback, Unmanaged.passUnretained(self).toOpaque())
            }
            for files in settings.sniCertificates {
                let context = try makeContext(files)
                guard let leaf = SSL_CTX_get0_certificate(context) else {
                    SSL_CTX_free(context)
                    throw TLSError("no certificate in \(files.certificateFile)")
                }
                fresh.named.append((context, leaf))
            }
        } catch {
            Self.free(fresh)
            throw error
        }
        return fresh
    }

    private func makeContext(_ files: TLSCertificateFiles) throws(TLSError) -> OpaquePointer {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError.fromQueue("SSL_CTX_new failed") }
        do throws(TLSError) {
            try Self.configure(
                context, minimumVersion: settings.minimumVersion, ciphers: settings.ciphers,
                kernelTLS: settings.kernelTLS)
            if let password {
                SSL_CTX_set_default_passwd_cb(context, CSockify_pem_password_cb)
                SSL_CTX_set_default_passwd_cb_userdata(context, password)
            }
            try Self.useCertificate(files, in: context)
            let key = files.keyFile ?? files.certificateFile
            guard SSL_CTX_check_private_key(context) == 1 else {
                throw TLSError("\(key): \(TLSError.fromQueue("private key does not match the certificate"))")
            }
            // Session resumption with client verification needs an id context.
            let id = Array("sockify".utf8)
            _ = SSL_CTX_set_session_id_context(context, id, UInt32(id.count))
            if settings.verifyClient {
                SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
                if let caFile = settings.caFile {
                    guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                        throw TLSError("\(caFile): \(TLSError.fromQueue("cannot load CA file"))")
                    }
                    if let names = SSL_load_client_CA_file(caFile) { SSL_CTX_set_client_CA_list(context, names) }
                } else {
                    SSL_CTX_set_default_verify_paths(context)
                }
            }
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        return context
    }

    /// Options shared by server and client contexts: no renegotiation (CVE-2011-1473), a bare TCP EOF reads as
    /// EOF, no compression, buffers released while idle (an idle TLS console then holds no 34 KiB of buffers),
    /// writes that may be retried from a moved buffer, read-ahead, and kernel TLS when asked.
    static func configure(
        _ context: OpaquePointer, minimumVersion: TLSMinimumVersion, ciphers: String?, kernelTLS: Bool
    ) throws(TLSError) {
        var options = CSockify_SSL_OP_NO_RENEGOTIATION() | CSockify_SSL_OP_IGNORE_UNEXPECTED_EOF()
            | CSockify_SSL_OP_NO_COMPRESSION()
        if kernelTLS { options |= CSockify_SSL_OP_ENABLE_KTLS() }
        SSL_CTX_set_options(context, options)
        _ = CSockify_SSL_CTX_set_mode(
            context, CSockify_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER() | CSockify_SSL_MODE_RELEASE_BUFFERS())
        // Read whole socket buffers, not a record header then its body (two read(2)s per 16 KiB record). Safe
        // because every caller reads until `.wouldBlock` (TLSStream's contract).
        CSockify_SSL_CTX_set_read_ahead(context, 1)
        guard CSockify_SSL_CTX_set_min_proto_version(context, minimumVersion.rawValue) == 1 else {
            throw TLSError.fromQueue("cannot set the minimum TLS version")
        }
        if let ciphers, SSL_CTX_set_cipher_list(context, ciphers) != 1 {
            throw TLSError("cipher list '\(ciphers)': \(TLSError.fromQueue("no cipher can be selected"))")
        }
    }

    /// Loads a PEM certificate chain and its private key into `context` (server certificates, client certificates).
    static func useCertificate(_ files: TLSCertificateFiles, in context: OpaquePointer) throws(TLSError) {
        let certificate = files.certificateFile
        guard SSL_CTX_use_certificate_chain_file(context, certificate) == 1 else {
            throw TLSError("\(certificate): \(TLSError.fromQueue("cannot load certificate"))")
        }
        let key = files.keyFile ?? certificate
        guard SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError("\(key): \(TLSError.fromQueue("cannot load private key"))")
        }
    }

    /// SNI: switches the session to the first named certificate that covers the requested host name.
    private static let serverNameCallback: CSockify_servername_cb = { ssl, _, arg in
        guard let arg, let name = SSL_get_servername(ssl, CSockify_TLSEXT_NAMETYPE_host_name()) else {
            return CSockify_SSL_TLSEXT_ERR_OK()
        }
        let server = Unmanaged<TLSServerContext>.fromOpaque(arg).takeUnretainedValue()
        let length = strlen(name)
        server.loaded.withLock { state in
            for (context, leaf) in state.named where X509_check_host(leaf, name, length, 0, nil) == 1 {
                _ = SSL_set_SSL_CTX(ssl, context)
                return
            }
        }
        return CSockify_SSL_TLSEXT_ERR_OK()
    }

    private static func free(_ state: Loaded) {
        if let primary = state.primary { SSL_CTX_free(primary) }
        for (context, _) in state.named { SSL_CTX_free(context) }
    }
}

/// Settings for connecting out over TLS.
public struct TLSClientSettings: Sendable {
    /// Verify the peer's certificate chain and name (off only for self-signed targets the user opted out for).
    public var verifyPeer = true
    /// CAs to verify against; nil = the system's.
    public var caFile: String?
    /// A client certificate to present.
    public var certificate: TLSCertificateFiles?
    public var minimumVersion = TLSMinimumVersion.tls1_2
    public var ciphers: String?
    public var kernelTLS = true

    public init() {}
}

/// A client TLS context (one per process or per load run); `makeStream` is safe from any thread.
public final class TLSClientContext: @unchecked Sendable {
    public let settings: TLSClientSettings
    private let context: OpaquePointer

    public init(settings: TLSClientSettings) throws(TLSError) {
        self.settings = settings
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw TLSError.fromQueue("SSL_CTX_new failed") }
        do throws(TLSError) {
            try TLSServerContext.configure(
                context, minimumVersion: settings.minimumVersion, ciphers: settings.ciphers,
                kernelTLS: settings.kernelTLS)
            if settings.verifyPeer {
                SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
                if let caFile = settings.caFile {
                    guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                        throw TLSError("\(caFile): \(TLSError.fromQueue("cannot load CA file"))")
                    }
                } else {
                    SSL_CTX_set_default_verify_paths(context)
                }
            } else {
                SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
            }
            if let files = settings.certificate { try TLSServerContext.useCertificate(files, in: context) }
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        self.context = context
    }

    deinit { SSL_CTX_free(context) }

    /// A client session on connected (or connecting) `fd`. `serverName` is sent as SNI (host names only) and, when
    /// verifying, must match the certificate (a DNS name, or an IP address literal against its IP SANs); verifying
    /// without a name is refused.
    public func makeStream(fd: CInt, serverName: String?) throws(TLSError) -> TLSStream {
        ERR_clear_error()
        guard let ssl = SSL_new(context) else { throw TLSError.fromQueue("SSL_new failed") }
        let stream = TLSStream(ssl: ssl, fd: fd)
        SSL_set_fd(ssl, fd)
        SSL_set_connect_state(ssl)
        if settings.verifyPeer && (serverName ?? "").isEmpty {
            // A chain check without a name check would accept any certificate the CAs ever signed.
            throw TLSError("no server name to verify the peer's certificate against")
        }
        if let serverName, !serverName.isEmpty {
            let isAddress = IPAddressText.isLiteral(serverName)
            if !isAddress { _ = CSockify_SSL_set_tlsext_host_name(ssl, serverName) }
            if settings.verifyPeer {
                let ok: Bool
                if isAddress {
                    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName) == 1
                } else {
                    ok = SSL_set1_host(ssl, serverName) == 1
                }
                guard ok else { throw TLSError.fromQueue("cannot verify against name '\(serverName)'") }
            }
        }
        return stream
    }
}

/// Whether a string is an IPv4 or IPv6 address literal (`inet_pton`).
enum IPAddressText {
    static func isLiteral(_ text: String) -> Bool {
        var buffer = (UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &buffer) { raw in
            inet_pton(AF_INET, text, raw.baseAddress) == 1 || inet_pton(AF_INET6, text, raw.baseAddress) == 1
        }
    }
}
