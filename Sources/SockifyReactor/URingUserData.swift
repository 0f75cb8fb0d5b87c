// io_uring submission identity: the 64-bit user_data every SQE carries back in its CQE, and the per-slot generation
// table that lets a reactor drop completions meant for a connection that has since been closed and replaced.

/// What an SQE asked the kernel to do, as recorded in the top byte of its `user_data`.
///
/// A struct with static members rather than an enum, so that the proxy can add its own operations (a timer, a
/// wake-up) without this module knowing them, and so that decoding a `user_data` never has to fail.
public struct URingOperation: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let nop = URingOperation(rawValue: 0)
    public static let accept = URingOperation(rawValue: 1)
    public static let receive = URingOperation(rawValue: 2)
    public static let send = URingOperation(rawValue: 3)
    public static let sendMessage = URingOperation(rawValue: 4)
    public static let connect = URingOperation(rawValue: 5)
    public static let close = URingOperation(rawValue: 6)
    public static let cancel = URingOperation(rawValue: 7)
    /// A multishot readiness poll (the reactor's stand-in for an edge-triggered epoll registration).
    public static let poll = URingOperation(rawValue: 8)
    /// A one-shot writability poll, armed when a send would block.
    public static let pollWritable = URingOperation(rawValue: 9)
    /// The reactor's wake-up eventfd.
    public static let wake = URingOperation(rawValue: 10)
    /// Reserved: with an op byte of 0xFF a `user_data` could equal liburing's `LIBURING_UDATA_TIMEOUT` (all ones),
    /// which liburing swallows on kernels without `IORING_FEAT_EXT_ARG`. `URingUserData.init` refuses it.
    public static let reserved = URingOperation(rawValue: 0xFF)

    public var description: String {
        switch self {
        case .nop: "nop"
        case .accept: "accept"
        case .receive: "receive"
        case .send: "send"
        case .sendMessage: "sendmsg"
        case .connect: "connect"
        case .close: "close"
        case .cancel: "cancel"
        case .poll: "poll"
        case .pollWritable: "pollout"
        case .wake: "wake"
        default: "op\(rawValue)"
        }
    }
}

/// The `user_data` of one submission: which operation, for which connection slot, in which generation of it.
///
///      63        56 55                         32 31                               0
///     +------------+-----------------------------+---------------------------------+
///     |   op (8)   |    generation (24 bits)     |          slot (32 bits)         |
///     +------------+-----------------------------+---------------------------------+
///
/// The slot indexes the reactor's fixed connection table (no dictionary lookup per completion). The generation is
/// the slot's generation when the SQE was prepared; closing a connection bumps it, so a completion that arrives
/// after the slot was reused — a multishot receive cancelled late, a send that finished after the close — no longer
/// matches and is dropped (`URingGenerations.isCurrent(_:)`). 24 bits wrap after 16 M reuses of one slot, far more
/// than can be in flight at once. The layout differs from epoll's `Reactor` (32-bit generation, 24-bit slot, 8-bit
/// tag) because io_uring needs the op in every completion while epoll needs a per-descriptor tag.
public struct URingUserData: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    /// Generations are kept modulo 2^24.
    public static let generationMask: UInt32 = 0xFF_FFFF

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Packs the three fields. `generation` is truncated to 24 bits.
    /// - Precondition: `operation` is not `.reserved`.
    @inline(__always)
    public init(operation: URingOperation, generation: UInt32, slot: UInt32) {
        precondition(operation != .reserved, "op 0xFF is reserved (LIBURING_UDATA_TIMEOUT)")
        rawValue = UInt64(operation.rawValue) << 56 | UInt64(generation & Self.generationMask) << 32 | UInt64(slot)
    }

    @inline(__always) public var operation: URingOperation { URingOperation(rawValue: UInt8(truncatingIfNeeded: rawValue >> 56)) }
    @inline(__always) public var generation: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 32) & Self.generationMask }
    @inline(__always) public var slot: UInt32 { UInt32(truncatingIfNeeded: rawValue) }

    /// Whether this tag was made in the slot's `currentGeneration` (compared modulo 2^24).
    @inline(__always)
    public func isCurrent(generation currentGeneration: UInt32) -> Bool {
        generation == currentGeneration & Self.generationMask
    }

    public var description: String { "\(operation)@\(slot)#\(generation)" }
}

/// The generation of every connection slot of one reactor: a fixed table, bumped when a slot's connection closes.
///
/// Usage: tag each SQE with `userData(_:slot:)`; on each completion, `isCurrent(_:)` says whether it still belongs
/// to the slot's present occupant. A stale completion must still release what it carries (a provided buffer goes
/// back to the ring), but it must not be delivered to the new occupant.
public struct URingGenerations: Sendable {
    private var generations: [UInt32]

    /// - Parameter slots: the size of the connection table.
    public init(slots: Int) { generations = Array(repeating: 0, count: slots) }

    public var count: Int { generations.count }

    /// The slot's current generation (24 bits).
    @inline(__always)
    public func generation(of slot: UInt32) -> UInt32 { generations[Int(slot)] }

    /// A `user_data` for `operation` on `slot`'s current occupant.
    @inline(__always)
    public func userData(_ operation: URingOperation, slot: UInt32) -> URingUserData {
        URingUserData(operation: operation, generation: generations[Int(slot)], slot: slot)
    }

    /// Retires the slot's occupant: completions tagged before this call stop being current.
    public mutating func bump(_ slot: UInt32) {
        generations[Int(slot)] = (generations[Int(slot)] &+ 1) & URingUserData.generationMask
    }

    /// Whether a completion tagged `userData` belongs to its slot's present occupant. Slots outside the table (a
    /// listener's or the wake-up's pseudo-slots) are the caller's to handle before asking.
    @inline(__always)
    public func isCurrent(_ userData: URingUserData) -> Bool {
        let slot = Int(userData.slot)
        return slot < generations.count && userData.isCurrent(generation: generations[slot])
    }
}
