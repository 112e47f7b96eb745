/// The call-center figures as the cluster reported them during a drill, sampled about
/// once a second from the leader's `GET /v1/cluster` (all sites together).
public struct KpiSample: Codable, Equatable, Sendable {
    /// Microseconds since the drill started.
    public var atUs: UInt64
    /// Running totals since the cluster started.
    public var entered: Int
    public var answered: Int
    public var abandoned: Int
    /// Calls the loss of a site dropped (a voice task whose agent's site went down).
    public var failoverDrops: Int
    /// Tasks not yet closed.
    public var openTasks: Int
    /// Over the KPI window (the last minutes), answered-weighted across sites.
    public var averageSpeedOfAnswerMs: Double?
    /// Over the KPI window, abandoned / (answered + abandoned).
    public var abandonmentRate: Double?

    public init(
        atUs: UInt64, entered: Int, answered: Int, abandoned: Int, failoverDrops: Int, openTasks: Int,
        averageSpeedOfAnswerMs: Double?, abandonmentRate: Double?
    ) {
        self.atUs = atUs
        self.entered = entered
        self.answered = answered
        self.abandoned = abandoned
        self.failoverDrops = failoverDrops
        self.openTasks = openTasks
        self.averageSpeedOfAnswerMs = averageSpeedOfAnswerMs
        self.abandonmentRate = abandonmentRate
    }
}

/// What one fault did to the callers: speed of answer and abandonment before it and at
/// their worst until the next fault (or the end), the calls it dropped, and the backlog.
public struct CallCenterImpact: Codable, Equatable, Sendable {
    public var label: String
    public var atUs: UInt64
    public var speedOfAnswerBeforeMs: Double?
    public var speedOfAnswerWorstMs: Double?
    public var abandonmentBefore: Double?
    public var abandonmentWorst: Double?
    /// Increase of the failover-drop counter over the fault's window.
    public var failoverDrops: Int
    public var openTasksBefore: Int?
    public var openTasksPeak: Int?

    /// One entry per fault event, from the samples in its window. Pure.
    public static func measure(samples: [KpiSample], events: [DrillEvent]) -> [CallCenterImpact] {
        let ordered = samples.sorted { $0.atUs < $1.atUs }
        let faults = events.filter { $0.kind == .fault }.sorted { $0.atUs < $1.atUs }
        return faults.enumerated().map { index, fault in
            let windowEnd = index + 1 < faults.count ? faults[index + 1].atUs : UInt64.max
            let before = ordered.last { $0.atUs <= fault.atUs }
            let window = ordered.filter { $0.atUs > fault.atUs && $0.atUs <= windowEnd }
            let last = window.last ?? before
            return CallCenterImpact(
                label: fault.label, atUs: fault.atUs,
                speedOfAnswerBeforeMs: before?.averageSpeedOfAnswerMs,
                speedOfAnswerWorstMs: window.compactMap(\.averageSpeedOfAnswerMs).max(),
                abandonmentBefore: before?.abandonmentRate,
                abandonmentWorst: window.compactMap(\.abandonmentRate).max(),
                failoverDrops: max(0, (last?.failoverDrops ?? 0) - (before?.failoverDrops ?? 0)),
                openTasksBefore: before?.openTasks, openTasksPeak: window.map(\.openTasks).max()
            )
        }
    }
}
