import Foundation

/// A drill scenario, as written in `Chaos/*.json`: the cluster's shape, the healthy WAN,
/// the workload, a timed list of fault steps and the recovery targets to judge against.
/// Decoding is strict (unknown keys are rejected with their path) and `validate` checks
/// every reference, so a scenario that loads is one the runner can execute.
public struct Scenario: Codable, Equatable, Sendable {
    // MARK: - Limits

    public static let durationSecondsMax: Double = 24 * 3600
    public static let stepsMax = 1_000
    public static let siteCounts: Set<Int> = [3, 5]
    public static let scenarioBytesMax = 1024 * 1024

    // MARK: - Contents

    /// Short id, equal to the file name without `.json`.
    public var name: String
    /// What the drill demonstrates, for the report.
    public var description: String
    /// The sites, one node each; 3 or 5. Node i of the started cluster serves `sites[i]`.
    public var sites: [SiteName]
    /// The healthy inter-site latency the proxies add (restored by `heal`).
    public var latency: LatencyPlan
    public var workload: WorkloadPlan
    /// Fault steps in time order.
    public var steps: [ScenarioStep]
    public var targets: RecoveryTargets
    /// How long the drill runs, in seconds, from the first workload operation.
    public var durationSeconds: Double

    public init(
        name: String, description: String, sites: [SiteName], latency: LatencyPlan, workload: WorkloadPlan,
        steps: [ScenarioStep], targets: RecoveryTargets, durationSeconds: Double
    ) {
        self.name = name
        self.description = description
        self.sites = sites
        self.latency = latency
        self.workload = workload
        self.steps = steps
        self.targets = targets
        self.durationSeconds = durationSeconds
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, description, sites, latency, workload, steps, targets, durationSeconds
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: Set(CodingKeys.allCases.map(\.rawValue)))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        description = try container.decode(String.self, forKey: .description)
        sites = try container.decode([SiteName].self, forKey: .sites)
        latency = try container.decode(LatencyPlan.self, forKey: .latency)
        workload = try container.decode(WorkloadPlan.self, forKey: .workload)
        steps = try container.decode([ScenarioStep].self, forKey: .steps)
        targets = try container.decode(RecoveryTargets.self, forKey: .targets)
        durationSeconds = try container.decode(Double.self, forKey: .durationSeconds)
    }
}

// MARK: - Parts

/// The healthy WAN: a one-way latency on every link, overridden per pair of sites.
public struct LatencyPlan: Codable, Equatable, Sendable {
    public var defaultMs: UInt32
    public var jitterMs: UInt32
    /// Per-pair one-way latency, applied in both directions.
    public var pairs: [PairLatency]

    public init(defaultMs: UInt32, jitterMs: UInt32, pairs: [PairLatency] = []) {
        self.defaultMs = defaultMs
        self.jitterMs = jitterMs
        self.pairs = pairs
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case defaultMs, jitterMs, pairs }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: Set(CodingKeys.allCases.map(\.rawValue)))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        defaultMs = try container.decode(UInt32.self, forKey: .defaultMs)
        jitterMs = try container.decodeIfPresent(UInt32.self, forKey: .jitterMs) ?? 0
        pairs = try container.decodeIfPresent([PairLatency].self, forKey: .pairs) ?? []
    }

    /// The one-way latency between two sites.
    public func latency(between first: SiteName, and second: SiteName) -> (ms: UInt32, jitterMs: UInt32) {
        for pair in pairs where Set(pair.sites) == Set([first, second]) {
            return (pair.ms, pair.jitterMs ?? jitterMs)
        }
        return (defaultMs, jitterMs)
    }
}

/// The one-way latency between two named sites, both ways.
public struct PairLatency: Codable, Equatable, Sendable {
    public var sites: [SiteName]
    public var ms: UInt32
    public var jitterMs: UInt32?

    public init(sites: [SiteName], ms: UInt32, jitterMs: UInt32? = nil) {
        self.sites = sites
        self.ms = ms
        self.jitterMs = jitterMs
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case sites, ms, jitterMs }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: Set(CodingKeys.allCases.map(\.rawValue)))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sites = try container.decode([SiteName].self, forKey: .sites)
        ms = try container.decode(UInt32.self, forKey: .ms)
        jitterMs = try container.decodeIfPresent(UInt32.self, forKey: .jitterMs)
    }
}

/// What the workload does through the public API while faults run.
public struct WorkloadPlan: Codable, Equatable, Sendable {
    public static let ratePerSecondMax: Double = 10_000

    /// New tasks per second, spread over the sites' ingress nodes.
    public var enqueuePerSecond: Double
    /// Linearizable task reads per second (what the linearizability checker feeds on).
    public var readsPerSecond: Double
    /// Simulated agents logged in at each site.
    public var agentsPerSite: Int
    /// Tasks one agent may hold at once.
    public var agentCapacity: Int
    /// Queue names the tasks go to.
    public var queues: [String]
    /// Fraction of tasks flagged emergency, in [0, 1].
    public var emergencyFraction: Double
    /// How long a simulated agent holds a task before completing it.
    public var handleMs: UInt32
    /// Fraction of queued tasks the caller abandons (hangs up), in [0, 1].
    public var abandonFraction: Double

    public init(
        enqueuePerSecond: Double, readsPerSecond: Double, agentsPerSite: Int, agentCapacity: Int,
        queues: [String], emergencyFraction: Double, handleMs: UInt32, abandonFraction: Double
    ) {
        self.enqueuePerSecond = enqueuePerSecond
        self.readsPerSecond = readsPerSecond
        self.agentsPerSite = agentsPerSite
        self.agentCapacity = agentCapacity
        self.queues = queues
        self.emergencyFraction = emergencyFraction
        self.handleMs = handleMs
        self.abandonFraction = abandonFraction
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enqueuePerSecond, readsPerSecond, agentsPerSite, agentCapacity, queues, emergencyFraction, handleMs
        case abandonFraction
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: Set(CodingKeys.allCases.map(\.rawValue)))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        enqueuePerSecond = try container.decode(Double.self, forKey: .enqueuePerSecond)
        readsPerSecond = try container.decode(Double.self, forKey: .readsPerSecond)
        agentsPerSite = try container.decode(Int.self, forKey: .agentsPerSite)
        agentCapacity = try container.decodeIfPresent(Int.self, forKey: .agentCapacity) ?? 1
        queues = try container.decode([String].self, forKey: .queues)
        emergencyFraction = try container.decodeIfPresent(Double.self, forKey: .emergencyFraction) ?? 0
        handleMs = try container.decode(UInt32.self, forKey: .handleMs)
        abandonFraction = try container.decodeIfPresent(Double.self, forKey: .abandonFraction) ?? 0
    }
}

/// What the drill is judged against.
public struct RecoveryTargets: Codable, Equatable, Sendable {
    /// Fault to the first task offered to an agent at a surviving site, at most.
    public var rtoSeconds: Double
    /// Fault to writes (enqueues) succeeding again, at most; defaults to `rtoSeconds`.
    public var writeRtoSeconds: Double?
    /// Acknowledged (committed) entries that may be lost: 0 for Lifeline.
    public var rpoEntries: UInt64

    public init(rtoSeconds: Double, writeRtoSeconds: Double? = nil, rpoEntries: UInt64 = 0) {
        self.rtoSeconds = rtoSeconds
        self.writeRtoSeconds = writeRtoSeconds
        self.rpoEntries = rpoEntries
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case rtoSeconds, writeRtoSeconds, rpoEntries }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: Set(CodingKeys.allCases.map(\.rawValue)))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        rtoSeconds = try container.decode(Double.self, forKey: .rtoSeconds)
        writeRtoSeconds = try container.decodeIfPresent(Double.self, forKey: .writeRtoSeconds)
        rpoEntries = try container.decode(UInt64.self, forKey: .rpoEntries)
    }

    public var effectiveWriteRtoSeconds: Double { writeRtoSeconds ?? rtoSeconds }
}
