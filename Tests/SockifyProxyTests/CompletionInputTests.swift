// CompletionInput: the queue of filled receive buffers a connection side holds under io_uring.
import SockifyReactor
import Testing

@testable import SockifyProxy

@Suite("CompletionInput")
struct CompletionInputTests {
    /// Distinct fake slot addresses (never dereferenced).
    static func slot(_ n: Int) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: 0x1000 * (n + 1))! }

    @Test("buffers come out in arrival order, through the inline four and the overflow behind them",
          arguments: [1, 3, 4, 5, 9, 17])
    func fifo(count: Int) {
        var input = CompletionInput()
        var expected: [Int] = []
        var taken: [Int] = []
        // Interleave pushes and pops so the inline ring wraps and the overflow refills it mid-stream.
        for i in 0..<count {
            input.push(Self.slot(i), count: 100 + i)
            expected.append(i)
            if i % 3 == 2, let (slot, n) = input.pop() {
                taken.append(Int(bitPattern: slot) / 0x1000 - 1)
                #expect(n == 100 + taken.last!)
            }
        }
        #expect(input.pending == count - taken.count)
        while let (slot, n) = input.pop() {
            taken.append(Int(bitPattern: slot) / 0x1000 - 1)
            #expect(n == 100 + taken.last!)
        }
        #expect(taken == expected)
        #expect(input.pending == 0)
        #expect(input.pop() == nil)
    }

    @Test("drain hands every queued buffer back once")
    func drain() {
        var input = CompletionInput()
        for i in 0..<7 { input.push(Self.slot(i), count: 1) }
        var released: [UnsafeMutableRawPointer] = []
        input.drain { released.append($0) }
        #expect(released == (0..<7).map(Self.slot))
        #expect(input.pending == 0)
    }

    @Test("the second queued buffer asks for the receive to be cancelled, once")
    func backpressure() {
        var input = CompletionInput()
        input.receiving = true
        var asked: [Bool] = []
        for i in 0..<3 { asked.append(input.push(Self.slot(i), count: 1)) }
        #expect(asked == [false, true, false], "the second buffer asks; the third finds it already asked")
        #expect(input.cancelling)
        while input.pop() != nil {}
        input.ended(.stopped)
        asked = []
        for i in 3..<5 { asked.append(input.push(Self.slot(i), count: 1)) }
        #expect(asked == [false, true], "a new receive is cancelled again")
    }

    @Test("end of stream and errors are kept for the reader; a stop or an empty ring is not an end")
    func ends() {
        var input = CompletionInput()
        input.receiving = true
        input.cancelling = true
        input.ended(.stopped)
        #expect(!input.receiving && !input.cancelling && input.end == nil)
        input.receiving = true
        input.ended(.noBuffers)
        #expect(!input.receiving && input.end == nil)
        input.ended(.endOfStream)
        #expect(input.end == .endOfStream)
        input.ended(.failed(Errno(rawValue: 104)))
        #expect(input.end == .endOfStream, "the first end wins")
    }
}
