// Content-type guessing for `--web`: Python 3.11 `SimpleHTTPRequestHandler.guess_type` over `mimetypes` as
// initialised on Debian 12 (built-in table plus /etc/mime.types), restricted to the types a web root plausibly holds.

/// The `Content-type` websockify sends for a file name.
enum WebMIMEType {
    /// The type Python 3.11 `SimpleHTTPRequestHandler.guess_type` gives `path`.
    ///
    /// The order is Python's: the handler's own table (`.gz`, `.Z`, `.bz2`, `.xz`) by exact and then lower-case
    /// extension; then `mimetypes.guess_type`, which expands `.tgz`-style suffixes, strips one compression
    /// extension (`a.html.br` is `text/html`) and looks the remaining extension up case-insensitively; unknown
    /// extensions are `application/octet-stream`. Values were taken from Python 3.11.7 on Debian 12; where
    /// /etc/mime.types and Python disagree, the values are what Python printed (`.js` is `text/javascript`).
    static func guess(_ path: String) -> String {
        let ext = WebPath.fileExtension(path[...])
        if let type = handlerOverride(ext) ?? handlerOverride(ext.lowercased()) { return type }

        var base = path.dropLast(ext.count)
        var suffix = ext
        // mimetypes.suffix_map: ".tgz" is read as ".tar.gz", and so on.
        while let expansion = suffixExpansion(suffix.lowercased()) {
            let expanded = String(base) + expansion
            suffix = WebPath.fileExtension(expanded[...])
            base = expanded.dropLast(suffix.count)
        }
        // mimetypes.encodings_map is matched case-sensitively: "a.js.br" is JavaScript, "a.js.BR" is unknown.
        if ["gz", "Z", "bz2", "xz", "br"].contains(suffix.dropFirst()) {
            suffix = WebPath.fileExtension(base)
        }
        return knownType(suffix.lowercased()) ?? "application/octet-stream"
    }

    /// `SimpleHTTPRequestHandler.extensions_map`, consulted before `mimetypes`.
    private static func handlerOverride(_ ext: some StringProtocol) -> String? {
        switch ext {
        case ".gz": "application/gzip"
        case ".Z": "application/octet-stream"
        case ".bz2": "application/x-bzip2"
        case ".xz": "application/x-xz"
        default: nil
        }
    }

    /// `mimetypes.suffix_map`.
    private static func suffixExpansion(_ ext: String) -> String? {
        switch ext {
        case ".svgz": ".svg.gz"
        case ".tgz", ".taz", ".tz": ".tar.gz"
        case ".tbz2": ".tar.bz2"
        case ".txz": ".tar.xz"
        default: nil
        }
    }

    /// `mimetypes.types_map` for a lower-case extension, as Python 3.11.7 reads it on Debian 12.
    private static func knownType(_ ext: String) -> String? {
        switch ext {
        // Documents and scripts a web client loads.
        case ".html", ".htm", ".shtml": "text/html"
        case ".xhtml": "application/xhtml+xml"
        case ".js", ".mjs": "text/javascript"
        case ".css": "text/css"
        case ".json": "application/json"
        case ".jsonld": "application/ld+json"
        case ".webmanifest": "application/manifest+json"
        case ".manifest", ".appcache": "text/cache-manifest"
        case ".wasm": "application/wasm"
        case ".wgsl": "text/wgsl"
        case ".xml": "application/xml"
        case ".xsl": "application/xslt+xml"
        case ".dtd": "application/xml-dtd"
        case ".rss": "application/x-rss+xml"
        case ".atom": "application/atom+xml"
        case ".txt", ".text", ".srt": "text/plain"
        case ".md": "text/markdown"
        case ".csv": "text/csv"
        case ".tsv": "text/tab-separated-values"
        case ".vtt": "text/vtt"
        case ".ics": "text/calendar"
        case ".vcf": "text/vcard"
        case ".sh": "text/x-sh"
        case ".py": "text/x-python"
        case ".c": "text/x-csrc"
        case ".h": "text/x-chdr"
        case ".cpp": "text/x-c++src"
        case ".hpp": "text/x-c++hdr"
        case ".java": "text/x-java"
        case ".pl", ".pm": "text/x-perl"
        case ".rb": "application/x-ruby"
        case ".sql": "application/sql"
        case ".diff", ".patch": "text/x-diff"
        case ".ps", ".eps": "application/postscript"
        case ".ts": "text/vnd.trolltech.linguist"
        // Images.
        case ".png": "image/png"
        case ".apng": "image/apng"
        case ".jpg", ".jpeg", ".jpe": "image/jpeg"
        case ".gif": "image/gif"
        case ".svg": "image/svg+xml"
        case ".ico": "image/vnd.microsoft.icon"
        case ".bmp": "image/bmp"
        case ".webp": "image/webp"
        case ".avif": "image/avif"
        case ".heic": "image/heic"
        case ".jxl": "image/jxl"
        case ".tif", ".tiff": "image/tiff"
        // Fonts.
        case ".woff": "font/woff"
        case ".woff2": "font/woff2"
        case ".ttf": "font/ttf"
        case ".otf": "font/otf"
        case ".eot": "application/vnd.ms-fontobject"
        // Audio and video (noVNC ships .oga and .mp3 bell sounds).
        case ".mp3": "audio/mpeg"
        case ".ogg", ".oga", ".opus": "audio/ogg"
        case ".m4a": "audio/mp4"
        case ".wav": "audio/x-wav"
        case ".flac": "audio/flac"
        case ".aac": "audio/aac"
        case ".mp4", ".m4v": "video/mp4"
        case ".ogv": "video/ogg"
        case ".webm": "video/webm"
        case ".mkv": "video/x-matroska"
        case ".mov": "video/quicktime"
        case ".avi": "video/x-msvideo"
        case ".mpeg", ".mpg": "video/mpeg"
        // Downloads.
        case ".pdf": "application/pdf"
        case ".rtf": "application/rtf"
        case ".epub": "application/epub+zip"
        case ".zip": "application/zip"
        case ".tar": "application/x-tar"
        case ".7z": "application/x-7z-compressed"
        case ".rar": "application/vnd.rar"
        case ".jar": "application/java-archive"
        case ".deb": "application/vnd.debian.binary-package"
        case ".rpm": "application/x-redhat-package-manager"
        case ".iso": "application/x-iso9660-image"
        case ".exe", ".dll": "application/x-msdos-program"
        case ".crt": "application/x-x509-ca-cert"
        case ".pem": "application/pem-certificate-chain"
        case ".p12": "application/pkcs12"
        case ".doc": "application/msword"
        case ".xls": "application/vnd.ms-excel"
        case ".ppt": "application/vnd.ms-powerpoint"
        case ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        case ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        case ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        case ".odt": "application/vnd.oasis.opendocument.text"
        case ".ods": "application/vnd.oasis.opendocument.spreadsheet"
        case ".odp": "application/vnd.oasis.opendocument.presentation"
        default: nil
        }
    }
}
