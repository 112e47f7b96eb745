// MARK: - KPI counters

/// Additive KPI counters; formulas in Docs/kpis.md. Kept per queue and per
/// site, for the current window and since start.
public struct KPICounters: Hashable, Sendable {
    /// Tasks created in (queue) / arriving at (site).
    public var entered: UInt64 = 0
    public var answered: UInt64 = 0
    public var answerMsSum: UInt64 = 0
    public var answeredWithinTarget: UInt64 = 0
    /// Ordinary abandons at or above the short-abandon threshold.
    public var abandoned: UInt64 = 0
    public var shortAbandoned: UInt64 = 0
    /// Voice tasks turned into callbacks by a lost site (not abandons).
    public var failoverDrops: UInt64 = 0
    public var completed: UInt64 = 0
    public var handleMsSum: UInt64 = 0
    /// Completed with a disposition (the FCR denominator).
    public var dispositioned: UInt64 = 0
    public var firstContactResolved: UInt64 = 0
    public var csatSum: UInt64 = 0
    public var csatCount: UInt64 = 0
    /// Agent time integrated by status (sites only; zero for queues).
    public var availableMs: UInt64 = 0
    public var busyMs: UInt64 = 0
    public var wrapUpMs: UInt64 = 0

    public init() {}

    static let fieldCount = 16

    var fields: [UInt64] {
        [entered, answered, answerMsSum, answeredWithinTarget, abandoned, shortAbandoned, failoverDrops,
         completed, handleMsSum, dispositioned, firstContactResolved, csatSum, csatCount,
         availableMs, busyMs, wrapUpMs]
    }

    init(fields f: [UInt64]) {
        precondition(f.count == Self.fieldCount, "KPICounters wants \(Self.fieldCount) fields, got \(f.count)")
        entered = f[0]; answered = f[1]; answerMsSum = f[2]; answeredWithinTarget = f[3]
        abandoned = f[4]; shortAbandoned = f[5]; failoverDrops = f[6]; completed = f[7]
        handleMsSum = f[8]; dispositioned = f[9]; firstContactResolved = f[10]; csatSum = f[11]
        csatCount = f[12]; availableMs = f[13]; busyMs = f[14]; wrapUpMs = f[15]
    }

    // MARK: Derived figures (nil when the denominator is zero)

    /// Average speed of answer, ms.
    public var averageSpeedOfAnswerMs: Double? { ratio(answerMsSum, answered) }
    /// abandoned / (answered + abandoned); short abandons and failover drops excluded.
    public var abandonmentRate: Double? { ratio(abandoned, answered + abandoned) }
    /// answeredWithinTarget / (answered + abandoned).
    public var serviceLevel: Double? { ratio(answeredWithinTarget, answered + abandoned) }
    /// Average handle time (accept to complete, wrap-up included), ms.
    public var averageHandleMs: Double? { ratio(handleMsSum, completed) }
    public var firstContactResolutionRate: Double? { ratio(firstContactResolved, dispositioned) }
    public var averageCSAT: Double? { ratio(csatSum, csatCount) }
    /// (busy + wrap-up) / (available + busy + wrap-up) agent time.
    public var occupancy: Double? { ratio(busyMs + wrapUpMs, availableMs + busyMs + wrapUpMs) }

    private func ratio(_ a: UInt64, _ b: UInt64) -> Double? { b == 0 ? nil : Double(a) / Double(b) }
}

/// Counters for the current window and since start.
public struct KPIRecord: Hashable, Sendable {
    public var total = KPICounters()
    public var window = KPICounters()
    public init() {}

    mutating func add(_ change: (inout KPICounters) -> Void) {
        change(&total)
        change(&window)
    }
}

/// What a wallboard reads for one queue or site.
public struct KPIReport: Hashable, Sendable {
    public var total: KPICounters
    public var window: KPICounters
    /// Start of the current window, ms since the epoch.
    public var windowStart: UInt64
    /// Tasks queued now (not offered, not scheduled for later).
    public var depth: Int
    public var longestWaitMs: UInt64
    /// Agents by wallboard status (sites only; empty for queues).
    public var agentsByStatus: [AgentStatus: Int]
}
