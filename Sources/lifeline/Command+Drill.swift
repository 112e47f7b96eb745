import Chaos
import Foundation

/// `lifeline drill`: runs a DR drill against a real loopback cluster (`DrillRunner`), and
/// the offline parts: validate scenarios, compose a random fault schedule, and check
/// recorded evidence into a report.
let drillCommand = Command(
    name: "drill",
    summary: "DR drills: validate scenarios, random schedules, check evidence into a report",
    help: """
        Usage: lifeline drill SCENARIO.json [--out DIR] [--seed S] [--base-port P] [--bugs LIST] [--keep]
               lifeline drill --random --seed S [--duration 120s] [--sites a,b,c] [--out DIR] ...
               lifeline drill validate FILE...
               lifeline drill schedule --seed S [--duration 120s] [--sites a,b,c]
               lifeline drill check --scenario F --history H --final F --events F --out DIR
                                    [--kpis F] [--seed S] [--id ID] [--version V]

        Running a drill starts a real cluster of 'lifeline serve' processes on
        127.0.0.1 (one per site of the scenario, node id = site name) with
        generated certificates, puts a fault proxy on every directed peer link,
        configures queues and agents through the API, runs the scenario's
        workload (callers, agents, callbacks, abandons, reads) and executes its
        steps on schedule, printing progress. At the end it heals every fault,
        waits for the survivors to converge, fetches their evidence and writes
        into DIR: history.jsonl (every client operation), events.json (the
        timeline), final.json (the survivors' states), kpis.json (call-center
        figures per second), report.json and report.html. The nodes run with the
        drill hooks on (evidence, a disk-delay knob); never in production.
          --out DIR        default drills/<scenario>-<UTC time>
          --seed S         the workload's and proxies' randomness (default: random, printed)
          --base-port P    ports P+1... (peers), P+31... (status), P+51... (API); default 7300
          --bugs LIST      test-only bug switches on every node, comma-separated:
                           ack-before-commit, stale-reads, local-clock. The drill
                           must then fail, naming the checker that caught it.
          --keep           leave the nodes running (stop: lifeline cluster down --dir DIR/cluster)
          --random         a random nemesis schedule for --seed (see schedule) instead of a file

        validate   Loads each scenario strictly (unknown keys are errors, with their
                   path) and checks every reference. Exit 1 if any file is invalid.
        schedule   Prints a random nemesis scenario (JSON) for the seed: one fault at
                   a time, each with its recovery; the same seed gives the same steps.
                   --sites takes 3 or 5 names (default boston,denver,seattle).
        check      Runs every checker over recorded evidence again and writes
                   report.json and report.html into DIR:
                     --history  the drill's history.jsonl
                     --final    JSON array of the survivors' final states
                     --events   JSON array of the drill's timeline events
                     --kpis     the drill's kpis.json (optional)
                   Exit 0 if every checker passed and the RTO/RPO targets were met.

        Scenario format, faults, checkers and the report: Docs/dr-drills.md.

        Examples:
          lifeline drill Chaos/quarterly.json
          lifeline drill Chaos/site-loss.json --out /tmp/site-loss --seed 7
          lifeline drill --random --seed 42 --duration 120s
          lifeline drill Chaos/partition-leader.json --bugs ack-before-commit
          lifeline drill validate Chaos/*.json
          lifeline drill check --scenario Chaos/site-loss.json --history run/history.jsonl \\
              --final run/final.json --events run/events.json --out run

        Exit codes: 0 every checker passed (a drill, check) or the input is valid,
        1 a checker failed or the drill could not run, 2 usage.
        """,
    run: { arguments in
        guard let action = arguments.first else {
            throw UsageError("want a scenario file, --random, or an action: validate, schedule or check")
        }
        let rest = Array(arguments.dropFirst())
        switch action {
        case "validate": return try drillValidate(rest)
        case "schedule": return try drillSchedule(rest)
        case "check": return try drillCheck(rest)
        default:
            guard action.hasSuffix(".json") || action.hasPrefix("--") else {
                throw UsageError("unknown action '\(action)'; want a scenario file (.json), --random, validate, schedule or check")
            }
            return try drillRun(arguments)
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
    let scenario = try randomScenario(seed: seed, durationSeconds: duration, sites: sites)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(scenario), as: UTF8.self))
    return ExitCode.ok
}

/// The nemesis schedule for `seed`, with the default WAN, workload and targets.
private func randomScenario(seed: UInt64, durationSeconds duration: Double, sites: [SiteName]) throws -> Scenario {
    let scenario = NemesisGenerator(seed: seed, durationSeconds: duration, sites: sites).scenario(
        latency: LatencyPlan(defaultMs: 20, jitterMs: 2),
        workload: WorkloadPlan(
            enqueuePerSecond: 20, readsPerSecond: 10, agentsPerSite: 4, agentCapacity: 1, queues: ["triage", "pharmacy"],
            emergencyFraction: 0.05, handleMs: 3_000, abandonFraction: 0.02
        ),
        targets: RecoveryTargets(rtoSeconds: 15, rpoEntries: 0)
    )
    if let problem = scenario.validate().first { throw CommandFailure("generated schedule is invalid: \(problem)") }
    return scenario
}

private func drillRun(_ arguments: [String]) throws -> Int32 {
    let options = try OptionParser(arguments, valued: ["out", "seed", "base-port", "bugs", "duration", "sites"], flags: ["random", "keep"])
    let scenario: Scenario
    var seed = try options.uint64("seed", default: UInt64.random(in: 1...UInt64(UInt32.max)))
    if options.has("random") {
        guard options.positional.isEmpty else { throw UsageError("--random takes no scenario file") }
        guard options.value("seed") != nil else { throw UsageError("--random needs --seed S (the seed replays the schedule)") }
        let sites = (options.value("sites") ?? "boston,denver,seattle").split(separator: ",").map { SiteName(String($0)) }
        guard Scenario.siteCounts.contains(sites.count) else { throw UsageError("--sites wants 3 or 5 names, got \(sites.count)") }
        scenario = try randomScenario(seed: seed, durationSeconds: try drillSeconds(options.value("duration") ?? "120s"), sites: sites)
        print("random drill, seed \(seed) (replay: lifeline drill --random --seed \(seed) --duration \(Int(scenario.durationSeconds))s)")
    } else {
        guard options.positional.count == 1 else { throw UsageError("name one scenario file, e.g. Chaos/site-loss.json") }
        guard options.value("duration") == nil, options.value("sites") == nil else {
            throw UsageError("--duration and --sites go with --random; a scenario file sets its own")
        }
        do throws(ScenarioError) {
            scenario = try Scenario.load(contentsOf: URL(fileURLWithPath: options.positional[0]))
        } catch {
            throw CommandFailure(error.description)
        }
    }
    seed = max(seed, 1)
    let bugs = (options.value("bugs") ?? "").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
    if let unknown = bugs.first(where: { !DrillRunner.bugNames.contains($0) }) {
        throw UsageError("unknown bug switch '\(unknown)'; want \(DrillRunner.bugNames.sorted().joined(separator: ", "))")
    }
    let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
    let out = options.value("out") ?? "drills/\(scenario.name)-\(stamp)"
    let absolute = out.hasPrefix("/") ? out : FileManager.default.currentDirectoryPath + "/" + out
    let runner = DrillRunner(settings: .init(
        scenario: scenario, out: absolute, seed: seed, basePort: try options.int("base-port", default: 7300, range: 1024...60_000),
        bugs: bugs, keep: options.has("keep")
    ))
    return try runner.run()
}

private func drillCheck(_ arguments: [String]) throws -> Int32 {
    let options = try OptionParser(arguments, valued: ["scenario", "history", "final", "events", "kpis", "out", "seed", "id", "version"])
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
    var samples: [KpiSample] = []
    do {
        survivors = try JSONDecoder().decode([NodeFinalState].self, from: Data(contentsOf: finalURL))
        events = try JSONDecoder().decode([DrillEvent].self, from: Data(contentsOf: eventsURL))
        if let kpis = options.value("kpis") {
            samples = try JSONDecoder().decode([KpiSample].self, from: Data(contentsOf: URL(fileURLWithPath: kpis)))
        }
    } catch {
        throw CommandFailure("cannot read the final states, events or KPI samples: \(error)")
    }
    let report = DrillReport.assemble(
        drillID: options.value("id") ?? "drill-\(scenario.name)-\(seed)", date: Date(), scenario: scenario, seed: seed,
        version: options.value("version") ?? version, nodes: survivors.map(\.node), history: history, events: events,
        survivors: survivors, historyFile: historyURL.lastPathComponent, historySHA256: hash, samples: samples
    )
    do {
        try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
        try report.write(to: outURL)
    } catch {
        throw CommandFailure("cannot write the report into \(outURL.path): \(error.localizedDescription)")
    }
    for verdict in report.verdicts {
        print("\(verdict.result.rawValue.uppercased().padding(toLength: 13, withPad: " ", startingAt: 0))\(verdict.checker): \(verdict.summary)")
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
