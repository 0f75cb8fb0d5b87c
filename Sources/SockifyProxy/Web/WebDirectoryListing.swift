// The HTML directory index of `--web` without `--file-only`: Python 3.11 `SimpleHTTPRequestHandler.list_directory`.
import SockifyReactor

/// Builds the listing page byte-for-byte like Python 3.11 (reference/websockify.md §4.8).
enum WebDirectoryListing {
    /// The page for directory `path`, requested as `target`, or nil when the directory cannot be read (Python then
    /// answers 404 "No permission to list directory").
    ///
    /// Entries are sorted by their lower-cased names (Python's `key=str.lower`, compared by code point; ties, which
    /// Python leaves in `readdir` order, are broken by the original name so the page is deterministic). A name that
    /// is a directory, or a symbolic link to one, links with a trailing `/`; a symbolic link is shown with `@`.
    /// Links are percent-encoded with `quote`, shown names and the title are HTML-escaped.
    /// - Parameters:
    ///   - path: the directory on disk, ending in `/`.
    ///   - target: the request target after `//` collapsing; the title shows it percent-decoded, query included.
    static func page(directory path: String, target: String) -> String? {
        guard let names = try? FileSystem.listDirectory(path) else { return nil }
        let sorted = names.map { (key: Array($0.lowercased().unicodeScalars), name: $0) }
            .sorted { lhs, rhs in
                if lhs.key != rhs.key { return lhs.key.lexicographicallyPrecedes(rhs.key) }
                return Array(lhs.name.unicodeScalars).lexicographicallyPrecedes(Array(rhs.name.unicodeScalars))
            }
        let title = "Directory listing for " + WebPath.htmlEscaped(WebPath.percentDecoded(target))
        var lines = [
            "<!DOCTYPE HTML>",
            "<html lang=\"en\">",
            "<head>",
            "<meta charset=\"utf-8\">",
            "<title>\(title)</title>\n</head>",
            "<body>\n<h1>\(title)</h1>",
            "<hr>\n<ul>",
        ]
        for (_, name) in sorted {
            let fullName = path.hasSuffix("/") ? path + name : path + "/" + name
            var displayName = name
            var linkName = name
            // os.path.isdir follows links; os.path.islink does not. Both are false when the call fails.
            if (try? FileSystem.status(fullName))?.isDirectory == true {
                displayName = name + "/"
                linkName = name + "/"
            }
            if (try? FileSystem.linkStatus(fullName))?.isSymbolicLink == true {
                displayName = name + "@"
            }
            lines.append(
                "<li><a href=\"\(WebPath.percentEncoded(linkName))\">\(WebPath.htmlEscaped(displayName))</a></li>")
        }
        lines.append("</ul>\n<hr>\n</body>\n</html>\n")
        return lines.joined(separator: "\n")
    }
}
