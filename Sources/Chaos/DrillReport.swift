import Foundation

/// The evidence of one drill: what ran, what happened, what the checkers concluded.
/// Written as report.json (this struct) and report.html (`html()`), next to the history
/// file whose SHA-256 it carries.
public struct DrillReport: Codable, Equatable, Sendable {
    public struct Cluster: Codable, Equatable, Sendable {
        public var sites: [SiteName]
        public var nodes: [NodeName]
        public var latency: LatencyPlan
        public var workload: WorkloadPlan

        public init(sites: [SiteName], nodes: [NodeName], latency: LatencyPlan, workload: WorkloadPlan) {
            self.sites = sites
            self.nodes = nodes
            self.latency = latency
            self.workload = workload
        }
    }

    public var drillID: String
    /// ISO 8601, UTC.
    public var date: String
    public var scenario: String
    public var scenarioDescription: String
    public var seed: UInt64
    /// `lifeline --version` of the nodes under test.
    public var version: String
    public var cluster: Cluster
    public var durationSeconds: Double
    public var steps: [ScenarioStep]
    public var events: [DrillEvent]
    public var timeline: [TimelineBucket]
    public var bands: [FaultBand]
    public var kpi: [KpiDip]
    /// Speed of answer, abandonment and failover drops around each fault (empty when the
    /// drill sampled no KPIs, e.g. `drill check` without kpis.json).
    public var callCenter: [CallCenterImpact]
    public var kpiSamples: [KpiSample]
    public var verdicts: [CheckerVerdict]
    public var recovery: RecoveryChecker.Measurement
    public var operations: Int
    public var historyFile: String
    public var historySHA256: String
    /// Every checker passed and the targets were met.
    public var passed: Bool

    /// Runs every checker and assembles the report. Pure: all inputs are values.
    public static func assemble(
        drillID: String, date: Date, scenario: Scenario, seed: UInt64, version: String, nodes: [NodeName],
        history: [ClientOperation], events: [DrillEvent], survivors: [NodeFinalState],
        historyFile: String, historySHA256: String, samples: [KpiSample] = []
    ) -> DrillReport {
        let measurement = RecoveryChecker.measure(history: history, events: events, survivors: survivors, targets: scenario.targets)
        let verdicts = [
            LostAckChecker.check(history: history, survivors: survivors),
            DoubleAssignmentChecker.check(history: history, survivors: survivors),
            QueueOrderChecker.check(history: history, survivors: survivors),
            ConvergenceChecker.check(survivors: survivors),
            LinearizabilityChecker.check(history: history),
            RecoveryChecker.check(measurement),
        ]
        let timeline = DrillTimeline.buckets(history: history, durationSeconds: scenario.durationSeconds)
        let endUs = UInt64(max(Double(timeline.count), scenario.durationSeconds) * 1_000_000)
        let bands = DrillTimeline.bands(events: events, endUs: endUs)
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return DrillReport(
            drillID: drillID, date: formatter.string(from: date), scenario: scenario.name,
            scenarioDescription: scenario.description, seed: seed, version: version,
            cluster: Cluster(sites: scenario.sites, nodes: nodes, latency: scenario.latency, workload: scenario.workload),
            durationSeconds: scenario.durationSeconds, steps: scenario.steps, events: events.sorted { $0.atUs < $1.atUs },
            timeline: timeline, bands: bands, kpi: DrillTimeline.dips(buckets: timeline, bands: bands),
            callCenter: CallCenterImpact.measure(samples: samples, events: events), kpiSamples: samples.sorted { $0.atUs < $1.atUs },
            verdicts: verdicts,
            recovery: measurement, operations: history.count, historyFile: historyFile, historySHA256: historySHA256,
            passed: verdicts.allSatisfy(\.passed)
        )
    }

    /// Adds a verdict reached outside the pure checkers (e.g. `audit verify` on each node).
    public mutating func add(_ verdict: CheckerVerdict) {
        verdicts.append(verdict)
        passed = passed && verdict.passed
    }

    /// Writes report.json and report.html into `directory`.
    public func write(to directory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: directory.appendingPathComponent("report.json"), options: .atomic)
        try Data(html().utf8).write(to: directory.appendingPathComponent("report.html"), options: .atomic)
    }
}
