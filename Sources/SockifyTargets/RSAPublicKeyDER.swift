// The modulus and exponent of an RSA public key in PEM: SPKI (`BEGIN PUBLIC KEY`, rsaEncryption) or PKCS#1
// (`BEGIN RSA PUBLIC KEY`). A strict, bounded DER reader: anything unexpected is nil, never a trap.

enum RSAPublicKeyDER {
    /// 1.2.840.113549.1.1.1 (rsaEncryption).
    private static let rsaEncryption: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]

    /// `(n, e)` as big-endian bytes without leading zeros, for a key of 1024 bits or more; nil otherwise.
    static func components(pem: String) -> (n: [UInt8], e: [UInt8])? {
        if let der = block(pem, label: "PUBLIC KEY") {
            // SubjectPublicKeyInfo ::= SEQUENCE { SEQUENCE { OID, params }, BIT STRING }
            var outer = DERReader(der)
            guard var info = outer.element(tag: 0x30).map(DERReader.init), outer.isAtEnd,
                var algorithm = info.element(tag: 0x30).map(DERReader.init),
                algorithm.element(tag: 0x06).map(Array.init) == rsaEncryption,
                let bits = info.element(tag: 0x03), info.isAtEnd, bits.first == 0
            else { return nil }
            return pkcs1(Array(bits.dropFirst()))
        }
        if let der = block(pem, label: "RSA PUBLIC KEY") { return pkcs1(der) }
        return nil
    }

    /// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
    private static func pkcs1(_ der: [UInt8]) -> (n: [UInt8], e: [UInt8])? {
        var outer = DERReader(der)
        guard var key = outer.element(tag: 0x30).map(DERReader.init), outer.isAtEnd,
            let n = key.element(tag: 0x02).map(unsigned), let e = key.element(tag: 0x02).map(unsigned), key.isAtEnd,
            n.count >= 128, n.count <= 2048, !e.isEmpty, e.count <= 8
        else { return nil }
        return (n, e)
    }

    /// A non-negative INTEGER's value bytes without leading zeros (a negative one gives an empty array).
    private static func unsigned(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        guard let first = bytes.first, first & 0x80 == 0 else { return [] }
        return Array(bytes.drop { $0 == 0 })
    }

    /// The base64 body of `-----BEGIN <label>-----` … `-----END <label>-----`, decoded.
    private static func block(_ pem: String, label: String) -> [UInt8]? {
        let begin = "-----BEGIN \(label)-----"
        let end = "-----END \(label)-----"
        guard let start = pem.range(of: begin), let stop = pem.range(of: end, range: start.upperBound..<pem.endIndex)
        else { return nil }
        var text = ""
        for scalar in pem[start.upperBound..<stop.lowerBound].unicodeScalars {
            switch scalar {
            case " ", "\t", "\r", "\n", "=": continue
            case "+": text.append("-")
            case "/": text.append("_")
            case "A"..."Z", "a"..."z", "0"..."9": text.unicodeScalars.append(scalar)
            default: return nil
            }
        }
        return try? Base64URL.decodeLeniently(text)
    }
}

/// Reads DER TLVs (definite lengths up to 4 bytes) from a byte array.
private struct DERReader {
    private let bytes: ArraySlice<UInt8>
    private var position: Int

    init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    var isAtEnd: Bool { position == bytes.endIndex }

    /// The content of the next element if its tag is `tag`; nil (and nothing consumed) otherwise.
    mutating func element(tag: UInt8) -> ArraySlice<UInt8>? {
        var index = position
        guard index < bytes.endIndex, bytes[index] == tag else { return nil }
        index += 1
        guard index < bytes.endIndex else { return nil }
        var length = Int(bytes[index])
        index += 1
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count >= 1, count <= 4, bytes.endIndex - index >= count else { return nil }
            length = 0
            for _ in 0..<count {
                length = length << 8 | Int(bytes[index])
                index += 1
            }
        }
        guard length <= bytes.endIndex - index else { return nil }
        position = index + length
        return bytes[index..<(index + length)]
    }
}
