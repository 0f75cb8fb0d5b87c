// OpenSSL's error queue as one line of text, in the shape websockify's log lines have (Python's ssl module):
// `[SSL: PEER_DID_NOT_RETURN_A_CERTIFICATE] peer did not return a certificate`.
import CSockify
import Glibc

/// A TLS failure: an OpenSSL error (library and reason), a socket error under TLS, or the peer's EOF in the middle
/// of a handshake.
public struct TLSError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    /// The socket error, when the failure was one (a reset, a broken pipe).
    public let errno: Errno?

    public init(_ description: String, errno: Errno? = nil) {
        self.description = description
        self.errno = errno
    }

    /// Takes every entry off the calling thread's OpenSSL error queue; the first one names the failure (as Python
    /// reports it), `fallback` when the queue is empty.
    static func fromQueue(_ fallback: String) -> TLSError {
        var first: String?
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if first == nil { first = text(of: code) }
        }
        return TLSError(first ?? fallback)
    }

    /// `[LIB: MNEMONIC] reason text` for one packed OpenSSL error code.
    static func text(of code: UInt) -> String {
        let library = Int32((code >> 23) & 0xFF)
        let reason = ERR_reason_error_string(code).map { String(cString: $0) } ?? "error \(code & 0x7FFFFF)"
        let mnemonic = String(reason.uppercased().map { $0 == " " || $0 == "-" ? "_" : $0 })
        return "[\(libraryName(library)): \(mnemonic)] \(reason)"
    }

    private static func libraryName(_ library: Int32) -> String {
        switch library {
        case ERR_LIB_SSL: "SSL"
        case ERR_LIB_X509: "X509"
        case ERR_LIB_X509V3: "X509V3"
        case ERR_LIB_PEM: "PEM"
        case ERR_LIB_EVP: "EVP"
        case ERR_LIB_ASN1: "ASN1"
        case ERR_LIB_SYS: "SYS"
        case ERR_LIB_BIO: "BIO"
        default: ERR_lib_error_string(UInt(library) << 23).map { String(cString: $0) } ?? "LIB \(library)"
        }
    }
}
