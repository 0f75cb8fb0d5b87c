// Micro-benchmarks of the RFC 6455 hot paths: unmasking, frame decoding, header encoding, and handshake parsing.
// Throughput is reported in operations per second; multiply by the payload size for bytes per second.
// CI gates only on mallocCountTotal (0 on the frame paths); wall-clock numbers are for reports.
// Names contain no spaces or slashes: benchmark 1.38.1 writes threshold files with those replaced by "_" but looks
// them up by the raw name, so `thresholds check` would find nothing.
//   update: swift package --disable-sandbox --allow-writing-to-package-directory benchmark thresholds update \
//           --metric mallocCountTotal --path Thresholds/6.3
//   check:  swift package --disable-sandbox benchmark thresholds check --path Thresholds/6.3
import Benchmark
import SockifyProtocol

/// A 64-byte aligned buffer allocated outside the measured region and never freed (process-lifetime fixture).
func makeBuffer(_ count: Int) -> UnsafeMutableRawBufferPointer {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count + 64, alignment: 64)
    for index in 0..<buffer.count { buffer[index] = UInt8(truncatingIfNeeded: index &* 31) }
    return buffer
}

let benchmarks: @Sendable () -> Void = {
    /// The frame paths must not allocate: any malloc is a regression.
    let noMallocs: [BenchmarkMetric: BenchmarkThresholds] = [.mallocCountTotal: .init(absolute: [.p90: 0])]
    let frameMetrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal]
    let key: UInt32 = 0x3D21_FA37
    let sizes: [(label: String, bytes: Int)] = [
        ("125B", 125), ("512B", 512), ("1400B", 1400), ("16KiB", 16384), ("1MiB", 1 << 20),
    ]

    for size in sizes {
        let configuration = Benchmark.Configuration(
            metrics: frameMetrics,
            scalingFactor: size.bytes >= 1 << 20 ? .one : .kilo,
            maxDuration: .seconds(2),
            thresholds: noMallocs
        )
        Benchmark("Unmask-\(size.label)", configuration: configuration) { benchmark in
            let buffer = makeBuffer(size.bytes)
            // Offset 1: a misaligned payload, as after a 6- or 14-byte client header.
            let range = 1..<(1 + size.bytes)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                var span = buffer.mutableBytes
                Masking.apply(&span, in: range, key: key, phase: 1)
            }
            benchmark.stopMeasurement()
            blackHole(buffer[1])
        }
    }

    for size in [sizes[2], sizes[3]] {
        let configuration = Benchmark.Configuration(
            metrics: frameMetrics,
            scalingFactor: .kilo,
            maxDuration: .seconds(2),
            thresholds: noMallocs
        )
        Benchmark("UnmaskByteLoop-\(size.label)", configuration: configuration) { benchmark in
            let buffer = makeBuffer(size.bytes)
            let range = 1..<(1 + size.bytes)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                var span = buffer.mutableBytes
                Masking.applyByteByByte(&span, in: range, key: key, phase: 1)
            }
            benchmark.stopMeasurement()
            blackHole(buffer[1])
        }
    }

    Benchmark(
        "Decode-1400B-masked-frame",
        configuration: .init(metrics: frameMetrics, scalingFactor: .kilo, thresholds: noMallocs)
    ) { benchmark in
        // Header 82 FE 05 78 + key, then 1400 payload bytes. Decoding toggles the payload's mask in place, which
        // leaves the header intact, so the same bytes decode again on every iteration.
        let payloadLength = 1400
        let buffer = makeBuffer(8 + payloadLength)
        let header: [UInt8] = [0x82, 0xFE, 0x05, 0x78, 0x37, 0xFA, 0x21, 0x3D]
        for (index, byte) in header.enumerated() { buffer[index] = byte }
        let frameLength = 8 + payloadLength
        var decoder = FrameDecoder(role: .server, maxPayloadLength: 1 << 20)
        var forwarded = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var span = buffer.mutableBytes
            var offset = 0
            // Exactly three events: header, payload, frameEnd.
            for _ in 0..<3 {
                guard let step = try? decoder.next(&span, in: offset..<frameLength) else { break }
                offset += step.consumed
                if case .payload(let range) = step.event { forwarded &+= range.count }
            }
        }
        benchmark.stopMeasurement()
        blackHole(forwarded)
    }

    Benchmark(
        "Encode-header-into-headroom",
        configuration: .init(metrics: frameMetrics, scalingFactor: .kilo, thresholds: noMallocs)
    ) { benchmark in
        let buffer = makeBuffer(FrameEncoder.maxServerHeaderLength + 1400)
        var starts = 0
        benchmark.startMeasurement()
        for iteration in benchmark.scaledIterations {
            var span = buffer.mutableBytes
            starts &+= FrameEncoder.writeHeader(
                into: &span,
                endingAt: FrameEncoder.maxServerHeaderLength,
                opcode: .binary,
                isFinal: true,
                payloadLength: 1000 + iteration & 0x3FF,
                maskingKey: nil
            )
        }
        benchmark.stopMeasurement()
        blackHole(starts)
    }

    // Parsing a head allocates its packed header fields, the target (when longer than 15 bytes, the small-string
    // limit) and the validated key: 3 mallocs. Before the byte-level parser it was 33 and ~25 µs.
    let handshakeRequests: [(name: String, text: String)] = [
        (
            "Parse-and-validate-handshake",
            "GET /websockify?token=abc HTTP/1.1\r\nHost: localhost:6080\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Protocol: binary\r\nOrigin: http://localhost:6080\r\n\r\n"
        ),
        (
            // What Chromium sends when noVNC opens its WebSocket (14 fields, 616 bytes).
            "Parse-and-validate-browser-handshake",
            "GET /websockify?token=vm-0042 HTTP/1.1\r\nHost: consoles.example.com:6080\r\nConnection: Upgrade\r\n"
                + "Pragma: no-cache\r\nCache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) "
                + "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\nUpgrade: websocket\r\n"
                + "Origin: https://consoles.example.com:6080\r\nSec-WebSocket-Version: 13\r\n"
                + "Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n"
                + "Cookie: session=4f1c2a9e8b7d6c5e4f3a2b1c0d9e8f7a\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                + "Sec-WebSocket-Protocol: binary\r\n\r\n"
        ),
    ]
    for handshake in handshakeRequests {
        let request = Array(handshake.text.utf8)
        Benchmark(
            handshake.name,
            configuration: .init(
                metrics: [.wallClock, .throughput, .mallocCountTotal],
                scalingFactor: .kilo,
                thresholds: noMallocs  // none beyond the 3 in Thresholds/
            )
        ) { benchmark in
            for _ in benchmark.scaledIterations {
                request.withUnsafeBytes { buffer in
                    if let parsed = try? HTTPRequestHead.parse(buffer.bytes, maxLength: 8192),
                        OpeningHandshake.isUpgradeRequest(parsed.head)
                    {
                        blackHole(try? OpeningHandshake.validate(parsed.head))
                    }
                }
            }
        }
    }
}
