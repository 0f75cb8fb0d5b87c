// Redis serialisation protocol, version 2 (RESP2: https://redis.io/docs/latest/develop/reference/protocol-spec/):
// the values a server replies with, and the encoding of a command.

/// One RESP2 reply value.
public enum RESPValue: Hashable, Sendable {
    /// `+OK\r\n`: a short status text (never contains CR or LF).
    case simpleString(String)
    /// `-ERR unknown command\r\n`: the server refused the command; the text starts with an error kind (`ERR`,
    /// `WRONGTYPE`, `NOAUTH`, `WRONGPASS`, …).
    case error(String)
    /// `:1000\r\n`: a signed 64-bit integer.
    case integer(Int64)
    /// `$5\r\nhello\r\n`: binary-safe bytes; `nil` is the null bulk string `$-1\r\n` (a missing key).
    case bulkString([UInt8]?)
    /// `*2\r\n…`: a list of values; `nil` is the null array `*-1\r\n`.
    case array([RESPValue]?)
}

/// The client side of RESP2: a command is always sent as an array of bulk strings.
public enum RESPCommand {
    /// Encodes `arguments` (the command name first) as `*<n>\r\n` followed by `$<len>\r\n<bytes>\r\n` for each.
    /// Arguments are binary-safe: a key may contain any byte, CR and LF included.
    public static func encode(_ arguments: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 + arguments.reduce(0) { $0 + $1.count + 16 })
        bytes.append(UInt8(ascii: "*"))
        bytes.append(contentsOf: String(arguments.count).utf8)
        bytes.append(contentsOf: [0x0D, 0x0A])
        for argument in arguments {
            bytes.append(UInt8(ascii: "$"))
            bytes.append(contentsOf: String(argument.count).utf8)
            bytes.append(contentsOf: [0x0D, 0x0A])
            bytes.append(contentsOf: argument)
            bytes.append(contentsOf: [0x0D, 0x0A])
        }
        return bytes
    }

    /// Encodes a command given as text arguments (UTF-8).
    public static func encode(_ arguments: [String]) -> [UInt8] {
        encode(arguments.map { Array($0.utf8) })
    }
}
