// Header fields of one request packed into a single byte array, so parsing a head costs one allocation for all
// its fields and a lookup compares bytes instead of building Strings (see HTTPRequestHead.parse).

/// The header fields of an ``HTTPRequestHead``, in arrival order, as UTF-8 in one array.
///
/// Layout, one record per field: the name's length and the value's length (each a native `Int`, unaligned), then
/// the name's bytes, then the value's bytes. Both are UTF-8, so a lookup by a `String` name compares UTF-8 with
/// UTF-8, exactly as comparing the two strings' `utf8` views would.
struct PackedHeaderFields: Sendable {
    /// The records; empty when there are no fields.
    let storage: [UInt8]

    /// Bytes a record needs besides its name and value: two lengths.
    static let recordOverhead = 2 * MemoryLayout<Int>.size

    /// Packs `fields` as given (names and values kept exactly, in order).
    init(_ fields: [(name: String, value: String)]) {
        var storage: [UInt8] = []
        storage.reserveCapacity(
            fields.reduce(0) { $0 + Self.recordOverhead + $1.name.utf8.count + $1.value.utf8.count }
        )
        for field in fields {
            withUnsafeBytes(of: field.name.utf8.count) { storage.append(contentsOf: $0) }
            withUnsafeBytes(of: field.value.utf8.count) { storage.append(contentsOf: $0) }
            storage.append(contentsOf: field.name.utf8)
            storage.append(contentsOf: field.value.utf8)
        }
        self.storage = storage
    }

    /// Wraps records already written by the parser.
    init(records: [UInt8]) {
        storage = records
    }

    /// The fields as Strings, in order.
    var unpacked: [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        storage.withUnsafeBufferPointer { records in
            var offset = 0
            while offset < records.count {
                let (name, value) = Self.record(in: records, at: &offset)
                fields.append(
                    (
                        String(decoding: UnsafeBufferPointer(rebasing: records[name]), as: UTF8.self),
                        String(decoding: UnsafeBufferPointer(rebasing: records[value]), as: UTF8.self)
                    )
                )
            }
        }
        return fields
    }

    /// Calls `body` with the UTF-8 bytes of the first field whose name equals `name` ignoring ASCII case
    /// (RFC 9110 §5.1), and returns its result; `nil` if there is no such field.
    func withValue<Result>(
        named name: String,
        _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result? {
        var name = name
        return name.withUTF8 { wanted in
            storage.withUnsafeBufferPointer { records -> Result? in
                var offset = 0
                while offset < records.count {
                    let (nameRange, valueRange) = Self.record(in: records, at: &offset)
                    if ASCII.equalsIgnoringCase(UnsafeBufferPointer(rebasing: records[nameRange]), wanted) {
                        return body(UnsafeBufferPointer(rebasing: records[valueRange]))
                    }
                }
                return nil
            }
        }
    }

    /// How many fields are named `name` (ASCII case ignored).
    func count(named name: String) -> Int {
        var name = name
        return name.withUTF8 { wanted in
            storage.withUnsafeBufferPointer { records -> Int in
                var offset = 0
                var found = 0
                while offset < records.count {
                    let (nameRange, _) = Self.record(in: records, at: &offset)
                    if ASCII.equalsIgnoringCase(UnsafeBufferPointer(rebasing: records[nameRange]), wanted) { found += 1 }
                }
                return found
            }
        }
    }

    /// Reads the record at `offset`, moves `offset` past it, and returns where its name and value are.
    private static func record(
        in records: UnsafeBufferPointer<UInt8>,
        at offset: inout Int
    ) -> (name: Range<Int>, value: Range<Int>) {
        let raw = UnsafeRawBufferPointer(records)
        let nameLength = raw.loadUnaligned(fromByteOffset: offset, as: Int.self)
        let valueLength = raw.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int>.size, as: Int.self)
        let nameStart = offset + recordOverhead
        let valueStart = nameStart + nameLength
        offset = valueStart + valueLength
        return (nameStart..<valueStart, valueStart..<offset)
    }
}

/// Byte-level helpers for the ASCII parts of HTTP: case-insensitive compares, whitespace, lists.
enum ASCII {
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let comma = UInt8(ascii: ",")

    /// Lowercases A–Z and leaves every other byte alone (UTF-8 continuation bytes included).
    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }

    /// Whether `byte` is optional whitespace (RFC 9110 §5.6.3): a space or a horizontal tab.
    @inline(__always)
    static func isBlank(_ byte: UInt8) -> Bool {
        byte == space || byte == tab
    }

    /// Whether `a` and `b` are equal once A–Z are lowercased in both.
    static func equalsIgnoringCase(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        for index in 0..<a.count where lowercased(a[index]) != lowercased(b[index]) { return false }
        return true
    }

    /// Whether `a` equals the ASCII text `b` once A–Z are lowercased in both.
    static func equalsIgnoringCase(_ a: UnsafeBufferPointer<UInt8>, _ b: StaticString) -> Bool {
        b.withUTF8Buffer { equalsIgnoringCase(a, $0) }
    }

    /// Whether `a` is exactly the ASCII text `b`.
    static func equals(_ a: UnsafeBufferPointer<UInt8>, _ b: StaticString) -> Bool {
        b.withUTF8Buffer { a.elementsEqual($0) }
    }

    /// Calls `body` with each item of a comma-separated list, trimmed of spaces and tabs, skipping empty items
    /// (RFC 9110 §5.6.1), until `body` returns `false`.
    static func forEachListItem(
        _ list: UnsafeBufferPointer<UInt8>,
        _ body: (UnsafeBufferPointer<UInt8>) -> Bool
    ) {
        var itemStart = 0
        for end in 0...list.count where end == list.count || list[end] == comma {
            let item = trimmed(list, itemStart..<end)
            itemStart = end + 1
            if !item.isEmpty, !body(UnsafeBufferPointer(rebasing: list[item])) { return }
        }
    }

    /// `range` of `bytes` without leading and trailing spaces and tabs.
    @inline(__always)
    static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, isBlank(bytes[lower]) { lower += 1 }
        while upper > lower, isBlank(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }
}
