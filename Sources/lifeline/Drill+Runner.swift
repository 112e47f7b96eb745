#if canImport(Glibc)
import Glibc
#endif
import Chaos
import Foundation
import Node
import Synchronization

/// `lifeline drill SCENARIO.json`: runs a scenario against a real loopback cluster and
/// writes the evidence and the report.
///
/// Phases: start the fault proxies and the nodes (with the drill hooks: evidence, a disk
/// delay knob, any bug switches asked for), configure queues and agents through the API,
/// start the workload, execute the steps on schedule while a monitor marks leader changes
/// and sites going down and up and samples the call-center KPIs, then stop the workload,
/// heal every fault, wait for the survivors to converge, fetch their evidence, run the
/// checkers and write the report. Only the processes it started are signalled, by PID.
final class DrillRunner: Sendable {
    struct Settings: Sendable {
        var scenario: Scenario
        var out: String
        var seed: UInt64
        var basePort: Int
        var bugs: [String]
        var keep: Bool
    }

    /// No snapshots during a drill: a restarted node replays the whole log, so its evidence
    /// (the offers log) is complete.
    static let snapshotEveryEntries = 100_000_000
    static let setupTimeoutMs: UInt64 = 30_000
    static let convergeTimeoutMs: UInt64 = 30_000
    static let progressEverySeconds = 5.0
    static let bugNames: Set<String> = ["ack-before-commit", "stale-reads", "local-clock"]

    let settings: Settings
    let recorder = DrillRecorder()
    private let samples = Mutex<[KpiSample]>([])
    private let monitorStop = Atomic<Bool>(false)
    private let slowDisks = Mutex<Set<NodeName>>([])

    init(settings: Settings) {
        self.settings = settings
    }

    // MARK: - Run

    func run() throws -> Int32 {
        let scenario = settings.scenario
        let out = settings.out
        let clusterDirectory = out + "/cluster"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        guard !FileManager.default.fileExists(atPath: clusterDirectory) else {
            throw CommandFailure("\(out) already holds a drill; choose another --out")
        }
        // Stop signals go to the main loop (sigtimedwait), never to a worker thread.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

        say("drill \(scenario.name): \(scenario.sites.map(\.rawValue).joined(separator: ", ")), \(Int(scenario.durationSeconds)) s, seed \(settings.seed)")
        say("  \(scenario.description)")
        if !settings.bugs.isEmpty { say("  bug switches on: \(settings.bugs.joined(separator: ", ")) (the drill is expected to fail)") }
        say("starting \(scenario.sites.count) nodes behind fault proxies in \(clusterDirectory) ...")
        var block: [String: Any] = ["evidence": true, "diskDelay": true]
        if !settings.bugs.isEmpty { block["bugs"] = settings.bugs }
        let cluster = try DrillCluster(
            scenario: scenario, directory: clusterDirectory, basePort: settings.basePort, seed: settings.seed,
            drill: Dictionary(uniqueKeysWithValues: scenario.sites.map { (NodeName($0.rawValue), block) })
        )
        let workload = DrillWorkload(plan: scenario.workload, cluster: cluster, recorder: recorder, seed: settings.seed)
        var interrupted = false
        do {
            try workload.configure(timeoutMs: Self.setupTimeoutMs)
            if let leader = cluster.leader() { say("leader: \(leader); \(scenario.workload.agentsPerSite) agents per site; workload starting") }
            recorder.start()
            recorder.event(.note, "start", label: "workload starts")
            _ = workload.start()
            let monitor = Thread { self.monitorLoop(cluster) }
            monitor.start()
            interrupted = executeSteps(cluster, signals: stopSignals)
            say(interrupted ? "interrupted: stopping the workload and collecting the evidence so far" : "steps done; stopping the workload")
            workload.stop()
            monitorStop.store(true, ordering: .releasing)
        } catch {
            workload.stop()
            monitorStop.store(true, ordering: .releasing)
            cluster.stopAll()
            throw error
        }
        let status = finish(cluster, workload: workload, interrupted: interrupted)
        if settings.keep {
            say("the cluster is still running: lifeline status --cluster \(clusterDirectory); stop it with lifeline cluster down --dir \(clusterDirectory)")
            _ = cluster.mesh.stop()
            say("(the fault proxies stopped with the harness: the nodes no longer reach each other until restarted)")
        } else {
            cluster.stopAll()
        }
        return status
    }

    // MARK: - Steps

    /// Runs the steps at their times and prints progress. True when interrupted.
    private func executeSteps(_ cluster: DrillCluster, signals: sigset_t) -> Bool {
        var signals = signals
        var pending = settings.scenario.steps.sorted { $0.at < $1.at }[...]
        var generator = SeededGenerator(seed: SeededGenerator.derive(settings.seed, 0x57E9))
        var nextProgress = Self.progressEverySeconds
        while recorder.elapsedSeconds < settings.scenario.durationSeconds {
            while let step = pending.first, step.at <= recorder.elapsedSeconds {
                pending = pending.dropFirst()
                execute(step, cluster, using: &generator)
            }
            if recorder.elapsedSeconds >= nextProgress {
                printProgress(cluster)
                nextProgress += Self.progressEverySeconds
            }
            var timeout = timespec(tv_sec: 0, tv_nsec: 50_000_000)
            let signal = sigtimedwait(&signals, nil, &timeout)
            if signal == SIGINT || signal == SIGTERM { return true }
        }
        return false
    }

    private func execute(_ step: ScenarioStep, _ cluster: DrillCluster, using generator: inout SeededGenerator) {
        let action = step.action
        do {
            let (sites, label, recovery) = try apply(action, cluster, using: &generator)
            recorder.event(recovery ? .recovery : .fault, action.keyword, sites: sites, label: label)
            say(String(format: "[%6.1f s] %@ %@", recorder.elapsedSeconds, recovery ? "recover" : "FAULT  ", label))
        } catch {
            // A step that cannot run (e.g. @down with nothing down) is marked, not fatal.
            recorder.event(.note, "skipped", label: "\(action.keyword) skipped: \(error)")
            say(String(format: "[%6.1f s] skipped %@: %@", recorder.elapsedSeconds, action.keyword, "\(error)"))
        }
    }

    /// Applies one action. Returns the sites it touched (for the RTO measurement: offers
    /// must resume at sites it did not touch), a label, and whether it ends a disruption.
    private func apply(_ action: FaultAction, _ cluster: DrillCluster,
                       using generator: inout SeededGenerator) throws -> (sites: [SiteName], label: String, recovery: Bool) {
        func site(_ node: NodeName) -> SiteName { SiteName(node.rawValue) }
        func links(_ pairs: [SitePair]?) -> [DirectedLink]? {
            pairs.map { $0.map { DirectedLink(from: NodeName($0.from.rawValue), to: NodeName($0.to.rawValue)) } }
        }
        func linkText(_ pairs: [SitePair]?) -> String {
            pairs.map { " on " + $0.map { "\($0.from)->\($0.to)" }.joined(separator: ", ") } ?? " on every link"
        }
        switch action {
        case .kill(let ref):
            let node = try resolve(ref, cluster, using: &generator)
            try cluster.kill(node)
            return ([site(node)], "kill -9 \(node)\(role(ref))", false)
        case .pause(let ref):
            let node = try resolve(ref, cluster, using: &generator)
            try cluster.pause(node)
            return ([site(node)], "pause (SIGSTOP) \(node)\(role(ref))", false)
        case .resume(let ref):
            let nodes = try resolveEvery(ref, cluster, using: &generator)
            for node in nodes { try cluster.resume(node) }
            return (nodes.map(site), "resume (SIGCONT) \(nodes.map(\.rawValue).joined(separator: ", "))", true)
        case .restart(let ref):
            let nodes = try resolveEvery(ref, cluster, using: &generator)
            let wasDown = nodes.allSatisfy { cluster.health($0) == .killed }
            for node in nodes { try cluster.restart(node) }
            let names = nodes.map(\.rawValue).joined(separator: ", ")
            return (nodes.map(site), wasDown ? "restart \(names) (was down)" : "restart \(names)\(role(ref))", wasDown)
        case .isolate(let ref):
            let node = try resolve(ref, cluster, using: &generator)
            cluster.mesh.isolate(node)
            return ([site(node)], "isolate \(node)\(role(ref))", false)
        case .partition(let groups):
            cluster.mesh.partition(groups.map { $0.map { NodeName($0.rawValue) } })
            let largest = groups.max { $0.count < $1.count } ?? []
            let cut = groups.flatMap { $0 }.filter { !largest.contains($0) }
            return (cut, "partition " + groups.map { $0.map(\.rawValue).joined(separator: "+") }.joined(separator: " | "), false)
        case .asymmetric(let from, let to):
            let source = try resolve(from, cluster, using: &generator)
            let target = try resolve(to, cluster, using: &generator)
            cluster.mesh.blockOneWay(from: source, to: target)
            return ([site(source), site(target)], "one-way cut \(source)->\(target)", false)
        case .latency(let ms, let jitterMs, let pairs):
            cluster.mesh.setLatency(ms: ms, jitterMs: jitterMs, only: links(pairs))
            return ([], "latency \(ms)±\(jitterMs) ms\(linkText(pairs))", false)
        case .loss(let probability, let pairs):
            for link in links(pairs) ?? cluster.mesh.allLinks { cluster.mesh.update(link) { $0.dropChunkProbability = probability } }
            return ([], String(format: "loss %.0f%%", probability * 100) + linkText(pairs), false)
        case .bandwidth(let bytesPerSecond, let pairs):
            for link in links(pairs) ?? cluster.mesh.allLinks { cluster.mesh.update(link) { $0.bandwidthBytesPerSecond = bytesPerSecond } }
            return ([], "bandwidth \(bytesPerSecond) B/s\(linkText(pairs))", false)
        case .reset(let ref):
            let node = try ref.map { try resolve($0, cluster, using: &generator) }
            cluster.mesh.resetConnections(touching: node)
            return ([], "reset connections" + (node.map { " of \($0)" } ?? ""), false)
        case .heal:
            cluster.mesh.heal()
            return ([], "heal the network", true)
        case .slowDisk(let ref, let delay):
            // Back to normal means every slowed disk: `@leader` may name another node by now.
            let slowed = slowDisks.withLock { $0.sorted() }
            if delay == 0 && !slowed.isEmpty {
                for node in slowed { try setDiskDelay(node, ms: 0, cluster) }
                return (slowed.map(site), "disk of \(slowed.map(\.rawValue).joined(separator: ", ")) back to normal", true)
            }
            let node = try resolve(ref, cluster, using: &generator)
            try setDiskDelay(node, ms: delay, cluster)
            return ([site(node)], delay == 0 ? "disk of \(node) back to normal" : "slow disk on \(node): fsync +\(delay) ms", delay == 0)
        case .transferLeader(let ref):
            guard let leader = cluster.awaitLeader(timeoutMs: 5_000) else { throw CommandFailure("no leader to transfer from") }
            let target = try ref.map { try resolve($0, cluster, using: &generator) }
                ?? cluster.live.filter { $0 != leader }.randomElement(using: &generator)
            guard let target else { throw CommandFailure("no live follower to transfer to") }
            guard let client = cluster.client(leader),
                  let reply = DrillHTTP.call(client, "POST", "/v1/cluster/transfer-leader", token: cluster.opsToken, json: ["to": target.rawValue],
                                             timeoutMs: 5_000), reply.status == 200
            else { throw CommandFailure("\(leader) did not hand leadership to \(target)") }
            return ([], "transfer leadership \(leader) -> \(target)", false)
        case .drain(let ref):
            let node = try resolve(ref, cluster, using: &generator)
            try post(cluster, "/v1/sites/\(node)/drain", json: nil)
            return ([site(node)], "drain \(node) for maintenance", false)
        }
    }

    private func role(_ ref: SiteRef) -> String {
        switch ref {
        case .site: ""
        case .leader: " (leader)"
        case .follower: " (a follower)"
        case .down: " (down)"
        case .paused: " (paused)"
        }
    }

    private func resolve(_ ref: SiteRef, _ cluster: DrillCluster, using generator: inout SeededGenerator) throws -> NodeName {
        switch ref {
        case .site(let name):
            let node = NodeName(name.rawValue)
            guard cluster.member(node) != nil else { throw CommandFailure("no site \(name) in this drill") }
            return node
        case .leader:
            guard let leader = cluster.awaitLeader(timeoutMs: 10_000) else { throw CommandFailure("no leader within 10 s") }
            return leader
        case .follower:
            // The first live follower in site order.
            let leader = cluster.leader()
            guard let node = cluster.sites.map({ NodeName($0.rawValue) }).first(where: { $0 != leader && cluster.live.contains($0) }) else {
                throw CommandFailure("no live follower")
            }
            return node
        case .down:
            guard let node = cluster.downNodes.last else { throw CommandFailure("no site is down") }
            return node
        case .paused:
            guard let node = cluster.pausedNodes.last else { throw CommandFailure("no site is paused") }
            return node
        }
    }

    /// `@down` and `@paused` name every killed or paused site (oldest first); any other
    /// reference names one.
    private func resolveEvery(_ ref: SiteRef, _ cluster: DrillCluster, using generator: inout SeededGenerator) throws -> [NodeName] {
        let nodes: [NodeName]
        switch ref {
        case .down: nodes = cluster.downNodes
        case .paused: nodes = cluster.pausedNodes
        default: return [try resolve(ref, cluster, using: &generator)]
        }
        guard !nodes.isEmpty else { throw CommandFailure("no site is \(ref == .down ? "down" : "paused")") }
        return nodes
    }

    private func setDiskDelay(_ node: NodeName, ms: UInt32, _ cluster: DrillCluster) throws {
        guard let client = cluster.client(node),
              let reply = DrillHTTP.call(client, "POST", "/v1/drill/disk", token: cluster.opsToken, json: ["fsyncDelayMs": Int(ms)], timeoutMs: 5_000)
        else { throw CommandFailure("\(node) did not answer the disk delay request") }
        guard reply.status == 200 else { throw CommandFailure("\(node) refused the disk delay: HTTP \(reply.status) \(reply.errorCode)") }
        slowDisks.withLock { if ms == 0 { $0.remove(node) } else { $0.insert(node) } }
    }

    /// An ops request through any live node.
    private func post(_ cluster: DrillCluster, _ path: String, json: [String: Any]?) throws {
        var last = "no node answered"
        for node in cluster.live {
            guard let client = cluster.client(node),
                  let reply = DrillHTTP.call(client, "POST", path, token: cluster.opsToken, json: json, timeoutMs: 5_000)
            else { continue }
            if reply.status == 200 { return }
            last = "HTTP \(reply.status) \(reply.errorCode)"
        }
        throw CommandFailure("POST \(path): \(last)")
    }

    // MARK: - Monitor

    /// Once a second: the leader and the sites' up/down marks as the cluster sees them
    /// (timeline notes), and the call-center KPIs (samples for the report). Only a node
    /// that says it is the leader is believed: a node cut off from the majority answers
    /// with its own stale view.
    private func monitorLoop(_ cluster: DrillCluster) {
        var leader: String?
        var down: Set<String> = []
        var clients: [NodeName: HTTPClient] = [:]
        while !monitorStop.load(ordering: .acquiring) {
            let started = recorder.nowUs()
            let live = cluster.live
            // The last leader first: usually one request a second.
            let order = live.filter { $0.rawValue == leader } + live.filter { $0.rawValue != leader }
            for node in order {
                guard let client = clients[node] ?? cluster.client(node) else { continue }
                clients[node] = client
                guard let reply = DrillHTTP.call(client, "GET", "/v1/cluster", token: cluster.opsToken, timeoutMs: 800), reply.status == 200,
                      let object = reply.object, let current = object["leader"] as? String, current == node.rawValue
                else { continue }
                if current != leader {
                    recorder.event(.note, "leader", sites: [SiteName(current)], label: "leader \(current)")
                    if leader != nil { say(String(format: "[%6.1f s] seen    new leader %@", recorder.elapsedSeconds, current)) }
                    leader = current
                }
                let center = object["contactCenter"] as? [String: Any] ?? [:]
                let sites = center["sites"] as? [[String: Any]] ?? []
                for site in sites {
                    guard let name = site["site"] as? String, let up = site["up"] as? Bool else { continue }
                    if !up && !down.contains(name) {
                        down.insert(name)
                        recorder.event(.note, "site-down", sites: [SiteName(name)], label: "\(name) marked down")
                        say(String(format: "[%6.1f s] seen    %@ marked down; its calls reroute", recorder.elapsedSeconds, name))
                    } else if up && down.contains(name) {
                        down.remove(name)
                        recorder.event(.note, "site-up", sites: [SiteName(name)], label: "\(name) back up")
                        say(String(format: "[%6.1f s] seen    %@ back up", recorder.elapsedSeconds, name))
                    }
                }
                if let sample = KpiSample(atUs: recorder.nowUs(), center: center) { samples.withLock { $0.append(sample) } }
                break
            }
            let spentMs = (recorder.nowUs() - started) / 1_000
            if spentMs < 1_000 { ProcessControl.pause(ms: 1_000 - spentMs) }
        }
    }

    private func printProgress(_ cluster: DrillCluster) {
        let counts = recorder.snapshotCounts
        let down = cluster.nodes.filter { cluster.health($0) != .running }.map { "\($0) \(cluster.health($0).rawValue)" }
        say(String(format: "[%6.1f s] ", recorder.elapsedSeconds)
            + "ops ok \(counts.ok), failed \(counts.failed), unknown \(counts.unknown) | calls \(counts.enqueued), offers \(counts.offered), "
            + "completed \(counts.completed), abandoned \(counts.abandoned)" + (down.isEmpty ? "" : " | " + down.joined(separator: ", ")))
    }

    // MARK: - Finish

    private func finish(_ cluster: DrillCluster, workload: DrillWorkload, interrupted: Bool) -> Int32 {
        // The workers notice the stop within a poll's timeout.
        let deadline = Node.MonotonicClock.deadline(afterMs: 20_000)
        while workload.activeThreads > 0 && Node.MonotonicClock.now() < deadline { ProcessControl.pause(ms: 50) }
        recorder.event(.note, "end", label: "workload stops")
        // Heal everything so the survivors can converge: network, paused processes, disks.
        cluster.mesh.heal()
        for node in cluster.nodes where cluster.health(node) == .paused { try? cluster.resume(node) }
        for node in slowDisks.withLock({ Array($0) }) { try? setDiskDelay(node, ms: 0, cluster) }
        say("healed; waiting for the survivors (\(cluster.live.map(\.rawValue).joined(separator: ", "))) to converge ...")
        let survivors = converge(cluster)
        let auditVerdict = verifyAudit(cluster)

        let out = URL(fileURLWithPath: settings.out)
        let historyURL = out.appendingPathComponent("history.jsonl")
        let history = recorder.history
        let events = recorder.events
        let hash: String
        do {
            let writer = try HistoryWriter(url: historyURL)
            for operation in history { writer.append(operation) }
            writer.close()
            hash = try History.sha256(ofFile: historyURL)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(events).write(to: out.appendingPathComponent("events.json"))
            try encoder.encode(survivors).write(to: out.appendingPathComponent("final.json"))
            try encoder.encode(samples.withLock { $0 }).write(to: out.appendingPathComponent("kpis.json"))
        } catch {
            printError("lifeline drill: cannot write the evidence into \(settings.out): \(error)")
            return ExitCode.failed
        }
        var report = DrillReport.assemble(
            drillID: "drill-\(settings.scenario.name)-\(settings.seed)", date: Date(), scenario: settings.scenario, seed: settings.seed,
            version: version, nodes: cluster.nodes, history: history, events: events, survivors: survivors,
            historyFile: historyURL.lastPathComponent, historySHA256: hash, samples: samples.withLock { $0 }
        )
        report.add(auditVerdict)
        if interrupted {
            report.add(CheckerVerdict(checker: "Completion", result: .fail, summary: "interrupted before the scenario's end"))
        }
        do {
            try report.write(to: out)
        } catch {
            printError("lifeline drill: cannot write the report into \(settings.out): \(error)")
            return ExitCode.failed
        }
        say("\(history.count) operations, history sha256 \(hash)")
        for verdict in report.verdicts {
            say("\(verdict.result.rawValue.uppercased().padding(toLength: 13, withPad: " ", startingAt: 0))\(verdict.checker): \(verdict.summary)")
            for detail in verdict.details.prefix(5) { say("              \(detail)") }
        }
        say("\(report.passed ? "PASS" : "FAIL"): \(out.appendingPathComponent("report.html").path)")
        return report.passed ? ExitCode.ok : ExitCode.failed
    }

    /// Fetches every live node's evidence until all have applied the same index (bounded).
    private func converge(_ cluster: DrillCluster) -> [NodeFinalState] {
        let deadline = Node.MonotonicClock.deadline(afterMs: Self.convergeTimeoutMs)
        var states: [NodeFinalState] = []
        repeat {
            states = cluster.live.compactMap { evidence($0, cluster) }
            let indexes = Set(states.map(\.appliedIndex))
            if states.count == cluster.live.count && indexes.count == 1 { return states }
            ProcessControl.pause(ms: 250)
        } while Node.MonotonicClock.now() < deadline
        say("the survivors did not reach one applied index within \(Self.convergeTimeoutMs / 1_000) s: \(states.map { "\($0.node) \($0.appliedIndex)" })")
        return states
    }

    private func evidence(_ node: NodeName, _ cluster: DrillCluster) -> NodeFinalState? {
        guard let client = cluster.client(node),
              let response = try? client.send("GET", "/v1/drill/evidence", headers: [("authorization", "Bearer \(cluster.opsToken)")], timeoutMs: 10_000),
              response.status == 200
        else { return nil }
        return try? JSONDecoder().decode(NodeFinalState.self, from: Data(response.body))
    }

    /// `audit verify` on every survivor: each must hold an unbroken chain.
    private func verifyAudit(_ cluster: DrillCluster) -> CheckerVerdict {
        var details: [String] = []
        var offending: [String] = []
        let auditor = cluster.token(subject: "drill-auditor", role: .auditor, site: cluster.sites[0]) ?? ""
        for node in cluster.live {
            guard let client = cluster.client(node),
                  let reply = DrillHTTP.call(client, "GET", "/v1/audit/verify", token: auditor, timeoutMs: 30_000)
            else {
                offending.append(node.rawValue)
                details.append("\(node): no answer to audit verify")
                continue
            }
            if reply.status != 200 || reply.object?["ok"] as? Bool == false {
                offending.append(node.rawValue)
                details.append("\(node): audit chain broken (HTTP \(reply.status))")
            }
        }
        let checked = cluster.live.count
        guard details.isEmpty else {
            return CheckerVerdict(checker: "AuditChainVerify", result: .fail, summary: "\(offending.count) of \(checked) chains broken",
                                  offending: offending, details: details)
        }
        return CheckerVerdict(checker: "AuditChainVerify", result: .pass, summary: "audit verify passed on all \(checked) survivors")
    }
}

extension KpiSample {
    /// From the `contactCenter` object of `GET /v1/cluster`: totals summed over the sites,
    /// the window's speed of answer weighted by each site's answered calls. Nil when the
    /// object names no sites (no leader yet).
    init?(atUs: UInt64, center: [String: Any]) {
        guard let sites = center["sites"] as? [[String: Any]], !sites.isEmpty else { return nil }
        var entered = 0, answered = 0, abandoned = 0, drops = 0
        var weightedSpeed = 0.0, windowAnswered = 0, windowAbandoned = 0
        for site in sites {
            let kpis = site["kpis"] as? [String: Any] ?? [:]
            let total = kpis["total"] as? [String: Any] ?? [:]
            let window = kpis["window"] as? [String: Any] ?? [:]
            entered += total["entered"] as? Int ?? 0
            answered += total["answered"] as? Int ?? 0
            abandoned += total["abandoned"] as? Int ?? 0
            drops += total["failoverDrops"] as? Int ?? 0
            let siteAnswered = window["answered"] as? Int ?? 0
            if let speed = window["averageSpeedOfAnswerMs"] as? Double { weightedSpeed += speed * Double(siteAnswered) }
            windowAnswered += siteAnswered
            windowAbandoned += window["abandoned"] as? Int ?? 0
        }
        let handled = windowAnswered + windowAbandoned
        self.init(
            atUs: atUs, entered: entered, answered: answered, abandoned: abandoned, failoverDrops: drops,
            openTasks: center["openTasks"] as? Int ?? 0,
            averageSpeedOfAnswerMs: windowAnswered > 0 ? weightedSpeed / Double(windowAnswered) : nil,
            abandonmentRate: handled > 0 ? Double(windowAbandoned) / Double(handled) : nil
        )
    }
}
