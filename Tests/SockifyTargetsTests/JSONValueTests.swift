// The JSON reader: values, Python `json` error messages (expectations produced with Python 3.11 `json.loads`),
// limits, and arbitrary input never trapping.
import SockifyTargets
import Testing

@Suite("JSONValue")
struct JSONValueTests {
    @Test("RFC 8259 values parse, objects keep the last duplicate like Python")
    func values() throws {
        let value = try JSONValue.parse(
            #" {"a": [1, -2.5e3, true, false, null], "s": "x\u00e9\ud83d\ude00\n", "a": 3} "#)
        #expect(value["a"] == .number(JSONNumber(literal: "3")!))
        #expect(value["s"] == .string("xé😀\n"))
        guard case .object(let members) = value else { throw Failure("not an object") }
        #expect(members.count == 3)
        guard case .array(let items) = members[0].value else { throw Failure("not an array") }
        #expect(items.count == 5)
        #expect(items[1] == .number(JSONNumber(literal: "-2.5e3")!))
        #expect(JSONNumber(literal: "-2.5e3")?.double == -2500)
        #expect(JSONNumber(literal: "5900")?.integer == 5900)
        #expect(JSONNumber(literal: "5900.0")?.integer == nil)
        #expect(JSONNumber(literal: "99999999999999999999")?.integer == nil)
        #expect(try JSONValue.parse("1e999") == .number(JSONNumber(literal: "1e999")!))
        #expect(JSONNumber(literal: "1e999")?.double == .infinity)
    }

    @Test(
        "Python type names",
        arguments: [
            ("null", "NoneType"), ("true", "bool"), ("1", "int"), ("1.0", "float"), ("1e2", "float"), (#""x""#, "str"),
            ("[]", "list"), ("{}", "dict"),
        ])
    func typeNames(text: String, name: String) throws {
        #expect(try JSONValue.parse(text).pythonTypeName == name)
    }

    @Test(
        "errors read like Python 3.11 json.loads",
        arguments: [
            ("", "Expecting value: line 1 column 1 (char 0)"),
            (" ", "Expecting value: line 1 column 2 (char 1)"),
            ("{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
            (#"{"a""#, "Expecting ':' delimiter: line 1 column 5 (char 4)"),
            (#"{"a":"#, "Expecting value: line 1 column 6 (char 5)"),
            (#"{"a":1"#, "Expecting ',' delimiter: line 1 column 7 (char 6)"),
            (#"{"a":1,}"#, "Expecting property name enclosed in double quotes: line 1 column 8 (char 7)"),
            ("[1,]", "Expecting value: line 1 column 4 (char 3)"),
            ("[1 2]", "Expecting ',' delimiter: line 1 column 4 (char 3)"),
            (#"{"a" 1}"#, "Expecting ':' delimiter: line 1 column 6 (char 5)"),
            ("{1:2}", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
            (#""abc"#, "Unterminated string starting at: line 1 column 1 (char 0)"),
            (#""a\qb""#, "Invalid \\escape: line 1 column 3 (char 2)"),
            (#""a\u12""#, "Invalid \\uXXXX escape: line 1 column 4 (char 3)"),
            ("\"a\nb\"", "Invalid control character at: line 1 column 3 (char 2)"),
            ("01", "Extra data: line 1 column 2 (char 1)"),
            ("1.", "Extra data: line 1 column 2 (char 1)"),
            ("-", "Expecting value: line 1 column 1 (char 0)"),
            ("nul", "Expecting value: line 1 column 1 (char 0)"),
            ("tru", "Expecting value: line 1 column 1 (char 0)"),
            ("[1]x", "Extra data: line 1 column 4 (char 3)"),
            ("{\"a\":1}\n\n  x", "Extra data: line 3 column 3 (char 11)"),
            (#""é" x"#, "Extra data: line 1 column 5 (char 4)"),
        ])
    func pythonMessages(text: String, message: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
        do {
            _ = try JSONValue.parse(text)
        } catch {
            #expect(error.message == message)
        }
    }

    @Test(
        "Sockify is stricter than Python: NaN, Infinity and lone surrogates are rejected (RFC 8259 §6, §8.2)",
        arguments: ["NaN", "Infinity", "-Infinity", #""\ud800""#, #""\udc00x""#])
    func stricterThanPython(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test("nesting and size limits")
    func limits() throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
        let ok = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        _ = try JSONValue.parse(ok)
        let tooDeep = String(repeating: "[", count: 129) + String(repeating: "]", count: 129)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(tooDeep) }
        #expect(throws: JSONParseError.self) {
            try JSONValue.parse(
                "\"" + String(repeating: "a", count: 100) + "\"", limits: JSONLimits(maximumByteCount: 50))
        }
    }

    @Test("arbitrary input never traps (seeded pseudo-random documents, 20 000 cases)")
    func neverTraps() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let alphabet = Array(#"{}[]:,"\u0123456789abcdefEe+-.ntrufalse "#.unicodeScalars) + ["\n", "\u{1}", "é", "😀"]
        var parsed = 0
        for _ in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            var text = String.UnicodeScalarView()
            for _ in 0..<Int(state >> 59) + 1 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text.append(alphabet[Int(state >> 33) % alphabet.count])
            }
            if (try? JSONValue.parse(String(text))) != nil { parsed += 1 }
        }
        #expect(parsed > 0)
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
