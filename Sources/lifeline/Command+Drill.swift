import Chaos
import Foundation

/// `lifeline drill`: the DR drill harness's offline parts: validate scenarios, compose a
/// random fault schedule, and check recorded evidence into a report.
let drillCommand = Command(
    name: "drill",
    summary: "DR drills: validate scenarios, random schedules, check evidence into a report",
    help: """
        Usage: lifeline drill validate FILE...
               lifeline drill schedule --seed S [--duration 120s] [--sites a,b,c]
               lifeline drill check --scenario F --history H --final F --events F --out DIR
                                    [--seed S] [--id ID] [--version V]

        validate   Loads each scenario strictly (unknown keys are errors, with their
                   path) and checks every reference. Exit 1 if any file is invalid.
        schedule   Prints a random nemesis scenario (JSON) for the seed: one fault at
                   a time, each with its recovery; the same seed gives the same steps.
                   --sites takes 3 or 5 names (default boston,denver,seattle).
        check      Runs every checker over recorded evidence and writes report.json
                   and report.html into DIR:
                     --history  the drill's history.jsonl
                     --final    JSON array of the survivors' final states
                     --events   JSON array of the drill's timeline events
                   Exit 0 if every checker passed and the RTO/RPO targets were met.

        Scenario format, faults, checkers and the report: Docs/dr-drills.md.

        Examples:
          lifeline drill validate Chaos/*.json
          lifeline drill schedule --seed 42 --duration 120s > random-42.json
          lifeline drill check --scenario Chaos/site-loss.json --history run/history.jsonl \\
              --final run/final.json --events run/events.json --out run

        Exit codes: 0 every checker passed (check) or the input is valid, 1 failed or a checker failed, 2 usage.
        """,
    run: { arguments in
        guard let action = arguments.first else { throw UsageError("want an action: validate, schedule or check") }
        let rest = Array(arguments.dropFirst())
        switch action {
        case "validate": return try drillValidate(rest)
        case "schedule": return try drillSchedule(rest)
        case "check": return try drillCheck(rest)
        default: throw UsageError("unknown action '\(action)'; want validate, schedule or check")
        }
    }
)

private func drillValidate(_ arguments: [String]) throws -> Int32 {
    let options = try OptionParser(arguments, valued: [])
    guard !options.positional.isEmpty else { throw UsageError("name one or more scenario files") }
    var failed = false
    for path in options.positional {
        do throws(ScenarioError) {
            let scenario = try Scenario.load(contentsOf: URL(fileURLWithPath: path))
            print("ok   \(path): \(scenario.name), \(scenario.sites.count) sites, \(scenario.steps.count) steps, \(Int(scenario.durationSeconds)) s")
        } catch {
            failed = true
            print("FAIL \(path): \(error.path): \(error.message)")
        }
    }
    return failed ? ExitCode.failed : ExitCode.ok
}

private func drillSchedule(_ arguments: [String]) throws -> Int32 {
    let options = try OptionParser(arguments, valued: ["seed", "duration", "sites"])
    guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
    guard options.value("seed") != nil else { throw UsageError("--seed is required") }
    let seed = try options.uint64("seed", default: 0)
    let duration = try drillSeconds(options.value("duration") ?? "120s")
    let sites = (options.value("sites") ?? "boston,denver,seattle").split(separator: ",").map { SiteName(String($0)) }
    guard Scenario.siteCounts.contains(sites.count) else { throw UsageError("--sites wants 3 or 5 names, got \(sites.count)") }
    let scenario = NemesisGenerator(seed: seed, durationSeconds: duration, sites: sites).scenario(
        latency: LatencyPlan(defaultMs: 20, jitterMs: 2),
        workload: WorkloadPlan(
            enqueuePerSecond: 20, readsPerSecond: 10, agentsPerSite: 4, agentCapacity: 1, queues: ["triage", "pharmacy"],
            emergencyFraction: 0.05, handleMs: 3_000, abandonFraction: 0.02
        ),
        targets: RecoveryTargets(rtoSeconds: 15, rpoEntries: 0)
    )
    if let problem = scenario.validate().first { throw CommandFailure("generated schedule is invalid: \(problem)") }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(scenario), as: UTF8.self))
    return ExitCode.ok
}

private func drillCheck(_ arguments: [String]) throws -> Int32 {
    let options = try OptionParser(arguments, valued: ["scenario", "history", "final", "events", "out", "seed", "id", "version"])
    guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
    func required(_ name: String) throws -> String {
        guard let value = options.value(name) else { throw UsageError("--\(name) is required") }
        return value
    }
    let scenarioURL = URL(fileURLWithPath: try required("scenario"))
    let historyURL = URL(fileURLWithPath: try required("history"))
    let finalURL = URL(fileURLWithPath: try required("final"))
    let eventsURL = URL(fileURLWithPath: try required("events"))
    let outURL = URL(fileURLWithPath: try required("out"))
    let seed = try options.uint64("seed", default: 0)

    let scenario: Scenario
    do throws(ScenarioError) {
        scenario = try Scenario.load(contentsOf: scenarioURL)
    } catch {
        throw CommandFailure(error.description)
    }
    let history: [ClientOperation]
    let hash: String
    do throws(HistoryError) {
        history = try History.read(contentsOf: historyURL)
        hash = try History.sha256(ofFile: historyURL)
    } catch {
        throw CommandFailure(error.description)
    }
    let survivors: [NodeFinalState]
    let events: [DrillEvent]
    do {
        survivors = try JSONDecoder().decode([NodeFinalState].self, from: Data(contentsOf: finalURL))
        events = try JSONDecoder().decode([DrillEvent].self, from: Data(contentsOf: eventsURL))
    } catch {
        throw CommandFailure("cannot read the final states or events: \(error)")
    }
    let report = DrillReport.assemble(
        drillID: options.value("id") ?? "drill-\(scenario.name)-\(seed)", date: Date(), scenario: scenario, seed: seed,
        version: options.value("version") ?? version, nodes: survivors.map(\.node), history: history, events: events,
        survivors: survivors, historyFile: historyURL.lastPathComponent, historySHA256: hash
    )
    do {
        try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
        try report.write(to: outURL)
    } catch {
        throw CommandFailure("cannot write the report into \(outURL.path): \(error.localizedDescription)")
    }
    for verdict in report.verdicts {
        print("\(verdict.result.rawValue.uppercased().padding(toLength: 12, withPad: " ", startingAt: 0))\(verdict.checker): \(verdict.summary)")
    }
    print("\(report.passed ? "PASS" : "FAIL"): report written to \(outURL.appendingPathComponent("report.html").path)")
    return report.passed ? ExitCode.ok : ExitCode.failed
}

/// "120", "120s", "2m" → seconds (1 s ... 24 h).
private func drillSeconds(_ text: String) throws -> Double {
    let multiplier: Double = text.hasSuffix("m") ? 60 : text.hasSuffix("h") ? 3_600 : 1
    let digits = text.hasSuffix("s") || text.hasSuffix("m") || text.hasSuffix("h") ? String(text.dropLast()) : text
    guard let value = Double(digits), value > 0, value * multiplier <= Scenario.durationSecondsMax else {
        throw UsageError("--duration wants e.g. 120s or 2m (at most 24h), got '\(text)'")
    }
    return value * multiplier
}
