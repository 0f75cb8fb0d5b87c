// Fuzz harness: the PROXY protocol v1/v2 header parser (`ProxyProtocolHeader.parse`), which reads the first bytes of
// every connection with --proxy-protocol.
//
// Checks: never traps; a parsed header's length is within the input; every proper prefix of a parsed header asks
// for more bytes (the parser never decides early on a header that would have parsed); re-parsing exactly the header
// bytes gives the same header; a v1 header is at most 107 bytes.
import FuzzSupport
import SockifyProtocol

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProxyHeader(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(FuzzInput(data, count).bytes)
    guard case .parsed(let header, let length)? = parse(bytes) else { return 0 }
    check(length > 0 && length <= bytes.count, "length \(length) outside the input \(hex(bytes))")
    if header.version == .v1 { check(length <= ProxyProtocolHeader.v1MaxLength, "v1 header of \(length) bytes") }
    let exact = Array(bytes[0..<length])
    guard case .parsed(let again, let againLength)? = parse(exact) else {
        check(false, "the header bytes alone did not parse: \(hex(exact))")
        return 0
    }
    check(again == header && againLength == length, "re-parse differs for \(hex(exact))")
    for cut in stride(from: 0, to: length, by: max(1, length / 16)) {
        let result = parse(Array(bytes[0..<cut]))
        check(result == .needMore, "prefix of \(cut) bytes of a valid header gave \(String(describing: result))")
    }
    return 0
}

private func parse(_ bytes: [UInt8]) -> ProxyProtocolHeader.ParseResult? {
    bytes.withUnsafeBytes { raw in
        do {
            return try ProxyProtocolHeader.parse(raw.bytes)
        } catch {
            return nil
        }
    }
}
