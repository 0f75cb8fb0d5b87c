// Tokens compared the way websockify's Python dict compares them: by code points.

/// A token as a dictionary key, equal only to a token with the same Unicode scalars.
///
/// Swift's `String` equality is canonical equivalence, so `"\u{E9}"` and `"e\u{301}"` would be one key; websockify
/// keys its table by Python `str`, which compares code points, and keeps both. Found by the FuzzTokenFile
/// harness (tools/fuzz/corpus/FuzzTokenFile/canonically-equivalent-tokens).
public struct TokenKey: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let text: String

    public init(_ text: String) { self.text = text }
    public init(stringLiteral value: String) { self.text = value }

    public static func == (lhs: TokenKey, rhs: TokenKey) -> Bool {
        lhs.text.unicodeScalars.elementsEqual(rhs.text.unicodeScalars)
    }

    public func hash(into hasher: inout Hasher) {
        for scalar in text.unicodeScalars { hasher.combine(scalar.value) }
    }

    public var description: String { text }
}
