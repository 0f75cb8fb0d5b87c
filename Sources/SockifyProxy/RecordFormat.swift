// The `--record` file format: a JavaScript array that noVNC's playback tools (`tests/playback`, `vnc_playback.html`)
// load. Byte-compatible with websockify 0.13.0 (`websockifyserver.py:128-135, 172-178, 232-238, 285-287`).

/// websockify's session recording format, as pure byte formatting.
///
/// ```
/// var VNC_frame_data = [
/// '{1{HEL\x00\'LO\n',      <- payload sent to the client, 1 ms after the session started
/// '}201}abc\x01',          <- payload received from the client, 201 ms after
/// 'EOF'];
/// ```
/// Each payload is written as Python writes it: decoded as latin-1, encoded with the `unicode_escape` codec, then
/// `'` replaced by `\'` so that it fits a single-quoted JavaScript string. The `unicode_escape` rules for the 256
/// latin-1 code points are: `\` → `\\`; tab, line feed, carriage return → `\t`, `\n`, `\r`; any other byte below
/// 0x20 or from 0x7F up → `\xhh` (lower-case hex); everything else (printable ASCII, including `'` before the
/// replacement) unchanged.
public enum RecordFormat {
    /// The first line of every recording.
    public static let header = "var VNC_frame_data = [\n"
    /// The last line, written when the session ends.
    public static let footer = "'EOF'];\n"

    /// The most bytes one payload byte can become (`\xhh`).
    public static let maximumEscapedWidth = 4

    /// Appends one entry: `'{<ms>{<data>',\n` for bytes sent to the client, `'}<ms>}<data>',\n` for bytes
    /// received from the client.
    /// - Parameters:
    ///   - toClient: the direction: `true` for target → client.
    ///   - elapsedMilliseconds: whole milliseconds since the session started (websockify: `int(time.time()*1000)`
    ///     minus the start, so it can even be negative if the wall clock steps back).
    ///   - bytes: the payload.
    public static func appendEntry(
        toClient: Bool, elapsedMilliseconds: Int64, bytes: UnsafeRawBufferPointer, to output: inout [UInt8]
    ) {
        let brace = toClient ? UInt8(ascii: "{") : UInt8(ascii: "}")
        output.append(UInt8(ascii: "'"))
        output.append(brace)
        appendDecimal(elapsedMilliseconds, to: &output)
        output.append(brace)
        appendEscaped(bytes, to: &output)
        output.append(contentsOf: [UInt8(ascii: "'"), UInt8(ascii: ","), UInt8(ascii: "\n")])
    }

    /// Appends `bytes` escaped as `bytes.decode('latin1').encode('unicode_escape')` with `'` → `\'`.
    public static func appendEscaped(_ bytes: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        output.reserveCapacity(output.count + bytes.count * 2)
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\\"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "'"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "'")])
            case UInt8(ascii: "\t"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case UInt8(ascii: "\n"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x20..<0x7F: output.append(byte)
            default:
                output.append(contentsOf: [
                    UInt8(ascii: "\\"), UInt8(ascii: "x"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)],
                ])
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func appendDecimal(_ value: Int64, to output: inout [UInt8]) {
        output.append(contentsOf: String(value).utf8)  // ≤ 15 digits (31,000 years) fit a small string: no allocation
    }
}
