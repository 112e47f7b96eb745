import Synchronization

/// A Prometheus histogram with fixed buckets (seconds).
public struct Histogram: Sendable, Equatable {
    public static let latencyBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public let bounds: [Double]
    /// Observations in each bucket (not cumulative; the exposition sums them).
    public private(set) var counts: [UInt64]
    public private(set) var overflow: UInt64 = 0
    public private(set) var sum: Double = 0

    public init(bounds: [Double] = Histogram.latencyBuckets) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count)
    }

    public mutating func observe(seconds: Double) {
        sum += seconds
        if let slot = bounds.firstIndex(where: { seconds <= $0 }) {
            counts[slot] += 1
        } else {
            overflow += 1
        }
    }

    public var count: UInt64 { counts.reduce(overflow, +) }
}

/// Counters and latency histograms the node loop updates and `/metrics` reads.
/// Thread-safe; each update is one short lock.
public final class NodeMetrics: Sendable {
    public struct Values: Sendable, Equatable {
        public var leaderChanges: UInt64 = 0
        public var electionsWon: UInt64 = 0
        public var snapshotsTaken: UInt64 = 0
        public var snapshotsRestored: UInt64 = 0
        public var proposals: UInt64 = 0
        public var proposalsRefused: UInt64 = 0
        public var siteChangesProposed: UInt64 = 0
        /// From the leader accepting a command to its apply, on the leader.
        public var commitLatency = Histogram()
        /// One storage transaction with its fsync.
        public var persistLatency = Histogram()
    }

    private let values = Mutex(Values())

    public init() {}

    public var current: Values { values.withLock { $0 } }

    func update(_ change: (inout Values) -> Void) {
        values.withLock { change(&$0) }
    }
}
