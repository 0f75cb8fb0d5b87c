// docs/cli-compat.md must list every option the parser knows, so the table cannot drift from the code.
import Foundation
import Testing

@testable import SockifyCLI

@Suite("docs/cli-compat.md")
struct CompatDocTests {
    @Test("every option in the parser's table has a row")
    func everyOptionDocumented() throws {
        // #filePath is …/Tests/SockifyCLITests/CompatDocTests.swift; the doc is …/docs/cli-compat.md.
        let root = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false).dropLast(3)
        let document = try String(contentsOfFile: root.joined(separator: "/") + "/docs/cli-compat.md", encoding: .utf8)
        let rows = document.split(separator: "\n").filter { $0.hasPrefix("| `") }
        for option in optionTable {
            let documented = rows.contains { row in
                row.contains("`\(option.long)`") || row.contains("`\(option.long)=")
                    || row.contains(", \(option.long)`")
            }
            #expect(documented, "\(option.long) has no row in docs/cli-compat.md")
        }
    }
}
