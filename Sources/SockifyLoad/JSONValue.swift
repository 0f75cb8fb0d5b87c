// A minimal JSON writer with ordered keys, so reports read in the order they are built.
import SockifyProtocol

/// A JSON value. Objects keep their key order.
enum JSONValue: Equatable {
    case string(String)
    case number(Double)
    case integer(Int64)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool { lhs.rendered == rhs.rendered }

    /// Compact JSON text.
    var rendered: String {
        switch self {
        case .string(let text): return Self.quote(text)
        case .number(let value): return value.isFinite ? Self.format(value) : "null"
        case .integer(let value): return String(value)
        case .bool(let value): return value ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map(\.rendered).joined(separator: ",") + "]"
        case .object(let members):
            return "{" + members.map { Self.quote($0.0) + ":" + $0.1.rendered }.joined(separator: ",") + "}"
        }
    }

    private static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String((value * 1000).rounded() / 1000)
    }

    /// A JSON string literal (also escapes DEL, which RFC 8259 allows either way).
    private static func quote(_ text: String) -> String { JSONText.string(text) }
}
