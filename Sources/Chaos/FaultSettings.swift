/// The faults one direction of a proxied link applies to the bytes that cross it.
/// Live-adjustable: a proxy re-reads its settings at least every `FaultProxy.pollIntervalMsMax`.
///
/// What "loss" means here. The proxy forwards a TLS stream it cannot parse, so it cannot
/// drop bytes: removing bytes from the middle of a TLS record breaks the MAC and the
/// connection dies at once, which is not what a lossy WAN does. On a real network TCP
/// hides a lost segment by retransmitting it after a retransmission timeout, and gives up
/// (the connection resets) only after several losses in a row. The proxy models exactly
/// that: a chunk is "lost" with `dropChunkProbability`; a lost chunk is held back by
/// `retransmitDelayMs` (doubling per consecutive loss, like TCP's backoff); after
/// `retransmitsMax` consecutive losses of the same chunk the connection is reset. Small
/// probabilities therefore mean added tail latency; large ones mean broken connections.
public struct FaultSettings: Codable, Equatable, Sendable {
    // MARK: - Limits

    public static let latencyMsMax: UInt32 = 60_000
    public static let jitterMsMax: UInt32 = 10_000
    public static let retransmitDelayMsMax: UInt32 = 10_000
    public static let retransmitsMax: UInt32 = 3

    // MARK: - Settings

    /// One-way delay added to every chunk, in milliseconds.
    public var latencyMs: UInt32 = 0
    /// Extra uniform random delay in [0, jitterMs] per chunk. Order is kept: TCP never
    /// reorders bytes, so jitter only bunches chunks up.
    public var jitterMs: UInt32 = 0
    /// Probability in [0, 1] that a chunk is "lost" (see the type's comment).
    public var dropChunkProbability: Double = 0
    /// The hold-back of a lost chunk, doubled per consecutive loss.
    public var retransmitDelayMs: UInt32 = 200
    /// Bytes per second this direction carries; 0 means unlimited.
    public var bandwidthBytesPerSecond: UInt64 = 0
    /// Forward nothing: new connections are accepted but carry no bytes, existing ones stop.
    /// Bytes already read are held (bounded) and flow again after a heal, as a short
    /// partition behaves under TCP; reset the proxy to model a long one.
    public var blackhole: Bool = false

    public init(
        latencyMs: UInt32 = 0, jitterMs: UInt32 = 0, dropChunkProbability: Double = 0,
        retransmitDelayMs: UInt32 = 200, bandwidthBytesPerSecond: UInt64 = 0, blackhole: Bool = false
    ) {
        self.latencyMs = latencyMs
        self.jitterMs = jitterMs
        self.dropChunkProbability = dropChunkProbability
        self.retransmitDelayMs = retransmitDelayMs
        self.bandwidthBytesPerSecond = bandwidthBytesPerSecond
        self.blackhole = blackhole
    }

    /// A clean link.
    public static let clean = FaultSettings()

    /// Why these settings are out of range, or nil when they are usable.
    public var problem: String? {
        if latencyMs > Self.latencyMsMax { return "latencyMs \(latencyMs) exceeds \(Self.latencyMsMax)" }
        if jitterMs > Self.jitterMsMax { return "jitterMs \(jitterMs) exceeds \(Self.jitterMsMax)" }
        if !(0...1).contains(dropChunkProbability) {
            return "dropChunkProbability \(dropChunkProbability) is outside [0, 1]"
        }
        if retransmitDelayMs > Self.retransmitDelayMsMax {
            return "retransmitDelayMs \(retransmitDelayMs) exceeds \(Self.retransmitDelayMsMax)"
        }
        return nil
    }
}

/// Which way bytes flow through a proxy: `forward` is from the dialer (the proxy's client)
/// to the target, `backward` is the target's answers.
public enum ProxyDirection: String, Codable, Sendable, CaseIterable {
    case forward
    case backward
}
