import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Chaos

@Suite(.serialized)
struct DrillReportTests {
    static func scenario() throws -> Scenario {
        try Scenario.load(contentsOf: ScenarioTests.chaosDirectory.appendingPathComponent("site-loss.json"))
    }

    static func report(_ drill: SyntheticDrill) throws -> DrillReport {
        var scenario = try scenario()
        scenario.sites = ["a", "b", "c"].map(SiteName.init)
        scenario.latency.pairs = []
        scenario.durationSeconds = 45
        return DrillReport.assemble(
            drillID: "drill-20261124-0001", date: Date(timeIntervalSince1970: 1_795_000_000), scenario: scenario, seed: 7,
            version: "0.1.0", nodes: ["n-a", "n-b", "n-c"].map(NodeName.init), history: drill.history, events: drill.events,
            survivors: drill.survivors, historyFile: "history.jsonl",
            historySHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        )
    }

    @Test func timelineCountsOkErrorsAndLatencyPerSecond() {
        let history = [
            ClientOperation(id: 1, client: "c", kind: .read, task: TaskID("t"), invokeUs: 100, completeUs: 10_100, outcome: .ok),
            ClientOperation(id: 2, client: "c", kind: .read, task: TaskID("t"), invokeUs: 200, completeUs: 50_200, outcome: .ok),
            ClientOperation(id: 3, client: "c", kind: .read, task: TaskID("t"), invokeUs: 900_000, completeUs: 1_500_000, outcome: .unknown),
        ]
        let buckets = DrillTimeline.buckets(history: history, durationSeconds: 3)
        #expect(buckets.map(\.ok) == [2, 0, 0])
        #expect(buckets.map(\.errors) == [0, 1, 0])
        #expect(buckets[0].p99LatencyMs == 50)
        #expect(buckets[1].p99LatencyMs == 600)
    }

    @Test func bandsRunFromFaultToRecovery() {
        let events = [
            DrillEvent(atUs: 5_000_000, kind: .fault, action: "kill", label: "kill c"),
            DrillEvent(atUs: 9_000_000, kind: .recovery, action: "restart", label: "restart c"),
            DrillEvent(atUs: 12_000_000, kind: .fault, action: "transfer-leader", label: "transfer"),
        ]
        #expect(DrillTimeline.bands(events: events, endUs: 20_000_000) == [
            FaultBand(startUs: 5_000_000, endUs: 9_000_000, label: "kill c"),
            FaultBand(startUs: 12_000_000, endUs: 20_000_000, label: "transfer"),
        ])
    }

    @Test func kpiDipMeasuresTheDropAndTheReturn() {
        let buckets = (0..<30).map { second in
            TimelineBucket(second: second, ok: (10..<14).contains(second) ? 1 : 10, errors: 0, p99LatencyMs: 5)
        }
        let dips = DrillTimeline.dips(buckets: buckets, bands: [FaultBand(startUs: 10_000_000, endUs: 12_000_000, label: "kill")])
        #expect(dips == [KpiDip(label: "kill", baselinePerSecond: 10, minimumPerSecond: 1, dipPercent: 90, recoveredAfterSeconds: 4)])
    }

    @Test func callCenterImpactComparesTheFiguresBeforeEachFaultWithTheWorstOfItsWindow() {
        func sample(_ second: UInt64, drops: Int, open: Int, speed: Double, abandonment: Double) -> KpiSample {
            KpiSample(atUs: second * 1_000_000, entered: 0, answered: 0, abandoned: 0, failoverDrops: drops, openTasks: open,
                      averageSpeedOfAnswerMs: speed, abandonmentRate: abandonment)
        }
        let samples = [
            sample(1, drops: 0, open: 2, speed: 500, abandonment: 0),
            sample(6, drops: 3, open: 9, speed: 4_000, abandonment: 0.1),
            sample(9, drops: 3, open: 4, speed: 1_500, abandonment: 0.05),
            sample(12, drops: 5, open: 7, speed: 2_500, abandonment: 0.02),
        ]
        let events = [
            DrillEvent(atUs: 5_000_000, kind: .fault, action: "kill", label: "kill c"),
            DrillEvent(atUs: 8_000_000, kind: .recovery, action: "restart", label: "restart c"),
            DrillEvent(atUs: 10_000_000, kind: .fault, action: "isolate", label: "isolate b"),
        ]
        let impacts = CallCenterImpact.measure(samples: samples, events: events)
        #expect(impacts == [
            CallCenterImpact(label: "kill c", atUs: 5_000_000, speedOfAnswerBeforeMs: 500, speedOfAnswerWorstMs: 4_000,
                             abandonmentBefore: 0, abandonmentWorst: 0.1, failoverDrops: 3, openTasksBefore: 2, openTasksPeak: 9),
            CallCenterImpact(label: "isolate b", atUs: 10_000_000, speedOfAnswerBeforeMs: 1_500, speedOfAnswerWorstMs: 2_500,
                             abandonmentBefore: 0.05, abandonmentWorst: 0.02, failoverDrops: 2, openTasksBefore: 4, openTasksPeak: 7),
        ])
    }

    @Test func reportCarriesVerdictsTargetsAndTheChart() throws {
        let report = try Self.report(SyntheticDrill.make())
        #expect(report.passed, "\(report.verdicts.filter { !$0.passed })")
        #expect(report.verdicts.map(\.checker) == [
            "LostAckChecker", "DoubleAssignmentChecker", "QueueOrderChecker", "ConvergenceChecker",
            "LinearizabilityChecker", "RecoveryChecker",
        ])
        #expect(report.bands.count == 1)
        #expect(report.kpi.count == 1)
        let html = report.html()
        for verdict in report.verdicts { #expect(html.contains(verdict.checker)) }
        #expect(html.contains("<svg"))
        #expect(html.contains(#"class="fault-band""#))
        #expect(html.contains("kill c"))
        #expect(html.contains("RTO: fault → first task offered at a surviving site"))
        #expect(html.contains(report.historySHA256))
        #expect(html.contains("PASS"))
        #expect(!html.contains("http://") || html.components(separatedBy: "http://").count == 2, "only the SVG namespace may be a URL")
        #expect(!html.contains("<script"))

        let decoded = try JSONDecoder().decode(DrillReport.self, from: try JSONEncoder().encode(report))
        #expect(decoded == report)
    }

    @Test func failingDrillShowsFailAndTheOffenders() throws {
        var drill = SyntheticDrill.make()
        for node in drill.survivors.indices { drill.survivors[node].tasks.removeAll { $0.id == TaskID("t-004") } }
        let report = try Self.report(drill)
        #expect(!report.passed)
        let html = report.html()
        #expect(html.contains("FAIL"))
        #expect(html.contains("<code>t-004</code>"))
    }

    @Test func labelsAreEscaped() throws {
        var drill = SyntheticDrill.make()
        drill.events[1].label = "<b>kill</b> & \"c\""
        let html = try Self.report(drill).html()
        #expect(!html.contains("<b>kill</b>"))
        #expect(html.contains("&lt;b&gt;kill&lt;/b&gt; &amp; &quot;c&quot;"))
    }

    /// Renders the page with headless Chromium when it is installed, else skips.
    @Test func rendersInHeadlessChromiumWhenAvailable() throws {
        let candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        guard let chromium = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return }
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("chaos-report-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Self.report(SyntheticDrill.make()).write(to: directory)
        let png = directory.appendingPathComponent("report.png")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        process.arguments = [
            "--headless", "--disable-gpu", "--no-sandbox", "--screenshot=\(png.path)", "--window-size=1200,1600",
            directory.appendingPathComponent("report.html").absoluteString,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("chromium did not finish within 60 s")
            return
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: png.path)[.size] as? Int) ?? 0
        #expect(size > 10_000, "screenshot \(png.path) is \(size) bytes")
    }
}

/// The evidence files `lifeline drill check` reads round-trip to the same report.
struct DrillEvidenceTests {
    @Test func evidenceFilesRoundTripToTheSameVerdicts() throws {
        let drill = SyntheticDrill.make()
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("chaos-evidence-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let historyURL = directory.appendingPathComponent("history.jsonl")
        let writer = try HistoryWriter(url: historyURL)
        for operation in drill.history { writer.append(operation) }
        writer.close()
        try JSONEncoder().encode(drill.survivors).write(to: directory.appendingPathComponent("final.json"))
        try JSONEncoder().encode(drill.events).write(to: directory.appendingPathComponent("events.json"))

        let history = try History.read(contentsOf: historyURL)
        let survivors = try JSONDecoder().decode([NodeFinalState].self, from: Data(contentsOf: directory.appendingPathComponent("final.json")))
        let events = try JSONDecoder().decode([DrillEvent].self, from: Data(contentsOf: directory.appendingPathComponent("events.json")))
        #expect(history == drill.history)
        #expect(survivors == drill.survivors)
        #expect(events == drill.events)
        var reread = drill
        reread.history = history
        #expect(try DrillReportTests.report(reread) == DrillReportTests.report(drill))
    }
}
