#if canImport(Glibc)
import Glibc
#endif
import Chaos
import Foundation
import Node
import Synchronization
import Vault

/// The cluster under a drill: one `lifeline serve` process per site on loopback, every
/// peer link through the harness's fault proxies, and the clients the workload and the
/// step executor use to reach the nodes. Only processes this drill started are signalled,
/// always by PID.
final class DrillCluster: Sendable {
    enum Health: String, Sendable {
        case running, killed, paused
    }

    struct Member: Sendable {
        var node: NodeName
        var site: SiteName
        var pid: pid_t
        var config: String
        var api: HostPort
        var health: Health
    }

    /// How long a graceful stop (SIGTERM) may take before SIGKILL.
    static let stopGraceMs: UInt64 = 10_000
    static let tokenTTLSeconds: UInt64 = 86_400

    let directory: String
    let sites: [SiteName]
    let mesh: ProxyMesh
    let connector: HTTPClient.Connector
    private let ring: KeyRing
    private let members: Mutex<[NodeName: Member]>
    /// The most recently killed and paused nodes, for `@down` and `@paused`.
    private let lastDown = Mutex<[NodeName]>([])
    private let lastPaused = Mutex<[NodeName]>([])
    let opsToken: String
    /// One supervisor token per site (a supervisor manages their own site).
    let supervisorTokens: [SiteName: String]

    /// Starts the proxies, then the nodes (node id = site name), and waits for a leader.
    /// `drill` is the nodes' `drill` configuration block (evidence, disk delay, bugs).
    init(scenario: Scenario, directory: String, basePort: Int, seed: UInt64, drill: [NodeName: [String: Any]]) throws {
        self.directory = directory
        sites = scenario.sites
        let names = scenario.sites.map { NodeName($0.rawValue) }
        // `LocalCluster.up`: node i (0-based) listens for peers on base + 1 + i.
        var targets: [NodeName: ProxyTarget] = [:]
        for (index, name) in names.enumerated() { targets[name] = ProxyTarget(port: UInt16(basePort + 1 + index)) }
        do {
            mesh = try ProxyMesh(targets: targets, seed: seed)
        } catch {
            throw CommandFailure("cannot start the fault proxies: \(error)")
        }
        for first in names {
            for second in names where second != first {
                let (ms, jitter) = scenario.latency.latency(between: SiteName(first.rawValue), and: SiteName(second.rawValue))
                var settings = FaultSettings.clean
                settings.latencyMs = ms
                settings.jitterMs = jitter
                mesh.setBaseline(DirectedLink(from: first, to: second), settings)
            }
        }
        let mesh = mesh
        var extra: [String: [String: Any]] = [:]
        for (node, block) in drill { extra[node.rawValue] = ["drill": block] }
        let status: Int32
        do {
            status = try LocalCluster.up(
                nodes: names.count, spares: 0, directory: directory, basePort: basePort, snapshotEvery: DrillRunner.snapshotEveryEntries,
                names: scenario.sites.map(\.rawValue), quiet: true,
                dialAddress: { from, to in mesh.address(from: NodeName(from), to: NodeName(to)) }, extraConfig: extra
            )
        } catch {
            _ = mesh.stop()
            throw error
        }
        let file = try ClusterFile.read(from: directory)
        var members: [NodeName: Member] = [:]
        for entry in file.nodes {
            guard let api = entry.apiAddress else { throw CommandFailure("\(entry.node): no API address in cluster.json") }
            members[NodeName(entry.node)] = Member(
                node: NodeName(entry.node), site: SiteName(entry.site), pid: entry.pid, config: entry.config, api: api, health: .running
            )
        }
        self.members = Mutex(members)
        do {
            connector = try NodeClient.tlsConnector(caFile: file.caFile, certFile: file.certFile, keyFile: file.keyFile)
            ring = try KeyRing.load(path: directory + "/keyring.json")
        } catch {
            throw CommandFailure("cannot set up the drill's clients: \(error)")
        }
        let ring = ring
        func issue(_ subject: String, _ role: Role, _ site: SiteName) throws -> String {
            do {
                return try ring.tokenSigner.issue(subject: subject, role: role, site: site.rawValue, now: Date(), ttlSeconds: Self.tokenTTLSeconds).token
            } catch {
                throw CommandFailure("cannot issue a \(role.rawValue) token: \(error)")
            }
        }
        opsToken = try issue("drill-ops", .ops, scenario.sites[0])
        var supervisors: [SiteName: String] = [:]
        for site in scenario.sites { supervisors[site] = try issue("drill-supervisor-\(site)", .supervisor, site) }
        supervisorTokens = supervisors
        if status != ExitCode.ok {
            stopAll()
            throw CommandFailure("the cluster did not elect a leader; node logs are in \(directory)")
        }
    }

    /// A token for `subject` acting as `role` at `site` (agents and nurses at their desks).
    func token(subject: String, role: Role, site: SiteName) -> String? {
        try? ring.tokenSigner.issue(subject: subject, role: role, site: site.rawValue, now: Date(), ttlSeconds: Self.tokenTTLSeconds).token
    }

    // MARK: - Members

    var nodes: [NodeName] { members.withLock { $0.keys.sorted() } }

    func member(_ node: NodeName) -> Member? { members.withLock { $0[node] } }

    func health(_ node: NodeName) -> Health { members.withLock { $0[node]?.health ?? .killed } }

    /// Nodes whose process runs and is not stopped.
    var live: [NodeName] { members.withLock { $0.values.filter { $0.health == .running }.map(\.node).sorted() } }

    /// A fresh client of `node`'s API (each workload thread keeps its own).
    func client(_ node: NodeName) -> HTTPClient? {
        guard let api = member(node)?.api else { return nil }
        return HTTPClient(address: api, connector: connector)
    }

    /// Every killed / paused node, in the order they went.
    var downNodes: [NodeName] { lastDown.withLock { $0 } }
    var pausedNodes: [NodeName] { lastPaused.withLock { $0 } }

    // MARK: - Process faults

    /// kill -9. Waits (bounded) until the process is gone.
    func kill(_ node: NodeName) throws {
        let entry = try running(node, allowPaused: true)
        _ = Glibc.kill(entry.pid, SIGKILL)
        waitForExit(entry)
        set(node, .killed)
        lastPaused.withLock { $0.removeAll { $0 == node } }
        lastDown.withLock { $0.append(node) }
    }

    func pause(_ node: NodeName) throws {
        let entry = try running(node, allowPaused: false)
        guard Glibc.kill(entry.pid, SIGSTOP) == 0 else { throw CommandFailure("cannot pause \(node): \(String(cString: strerror(errno)))") }
        set(node, .paused)
        lastPaused.withLock { $0.append(node) }
    }

    func resume(_ node: NodeName) throws {
        guard let entry = member(node), entry.health == .paused else { throw CommandFailure("\(node) is not paused") }
        _ = Glibc.kill(entry.pid, SIGCONT)
        set(node, .running)
        lastPaused.withLock { $0.removeAll { $0 == node } }
    }

    /// A running node is stopped gracefully (SIGTERM; SIGKILL after the grace) and started
    /// again; a killed one is started again. Either way it rejoins from its own data dir.
    func restart(_ node: NodeName) throws {
        guard let entry = member(node) else { throw CommandFailure("no node \(node)") }
        if entry.health != .killed {
            if entry.health == .paused { _ = Glibc.kill(entry.pid, SIGCONT) }
            _ = ProcessControl.stop(entry.pid, commandContains: ["serve", entry.config], graceMs: Self.stopGraceMs)
            ProcessControl.reap(entry.pid)
        }
        let pid = try ProcessControl.spawnDetached(
            executable: ProcessControl.currentExecutable(), arguments: ["serve", "--config", entry.config],
            logFile: directory + "/\(node).log"
        )
        members.withLock { $0[node]?.pid = pid; $0[node]?.health = .running }
        lastDown.withLock { $0.removeAll { $0 == node } }
        lastPaused.withLock { $0.removeAll { $0 == node } }
        // `lifeline cluster down --dir` stops it too if the drill is kept or interrupted.
        if var file = try? ClusterFile.read(from: directory), let index = file.nodes.firstIndex(where: { $0.node == node.rawValue }) {
            file.nodes[index].pid = pid
            try? file.write(to: directory)
        }
    }

    /// Stops every node this drill started (paused ones are continued first) and the proxies.
    func stopAll() {
        for entry in members.withLock({ Array($0.values) }) where entry.health != .killed {
            if entry.health == .paused { _ = Glibc.kill(entry.pid, SIGCONT) }
            _ = ProcessControl.stop(entry.pid, commandContains: ["serve", entry.config], graceMs: Self.stopGraceMs)
            ProcessControl.reap(entry.pid)
            set(entry.node, .killed)
        }
        _ = mesh.stop()
    }

    private func running(_ node: NodeName, allowPaused: Bool) throws -> Member {
        guard let entry = member(node) else { throw CommandFailure("no node \(node)") }
        guard entry.health == .running || (allowPaused && entry.health == .paused) else {
            throw CommandFailure("\(node) is \(entry.health.rawValue)")
        }
        guard ProcessControl.isRunning(entry.pid, commandContains: ["serve", entry.config]) else {
            throw CommandFailure("\(node)'s process (pid \(entry.pid)) is not running; see \(directory)/\(node).log")
        }
        return entry
    }

    private func waitForExit(_ entry: Member) {
        let deadline = Node.MonotonicClock.deadline(afterMs: Self.stopGraceMs)
        while ProcessControl.isRunning(entry.pid, commandContains: ["serve", entry.config]) && Node.MonotonicClock.now() < deadline {
            ProcessControl.pause(ms: 10)
        }
        ProcessControl.reap(entry.pid)
    }

    private func set(_ node: NodeName, _ health: Health) {
        members.withLock { $0[node]?.health = health }
    }

    // MARK: - Cluster view

    /// The leader as the live nodes report it (the first answer naming one).
    func leader() -> NodeName? {
        for node in live {
            guard let client = client(node),
                  let reply = DrillHTTP.call(client, "GET", "/v1/cluster", token: opsToken, timeoutMs: 1_000),
                  reply.status == 200, let leader = reply.object?["leader"] as? String
            else { continue }
            return NodeName(leader)
        }
        return nil
    }

    /// Waits (bounded) for a leader among the live nodes.
    func awaitLeader(timeoutMs: UInt64) -> NodeName? {
        let deadline = Node.MonotonicClock.deadline(afterMs: timeoutMs)
        repeat {
            if let leader = leader(), live.contains(leader) { return leader }
            ProcessControl.pause(ms: 100)
        } while Node.MonotonicClock.now() < deadline
        return nil
    }
}

/// One HTTP exchange as the drill sees it: a status and a JSON object, or no answer.
struct DrillReply {
    var status: Int
    var object: [String: Any]?

    /// The error code of a refusal (`{"error": {"code": ...}}`), never PHI.
    var errorCode: String {
        (object?["error"] as? [String: Any])?["code"] as? String ?? "http_\(status)"
    }

    /// How a write ended: 2xx ok; a refusal (4xx other than a timeout) failed, so it took
    /// no effect; 5xx (no leader, timed out waiting for commit) unknown.
    var writeOutcome: Outcome {
        switch status {
        case 200..<300: .ok
        case 408, 429: .unknown
        case 400..<500: .failed
        default: .unknown
        }
    }
}

enum DrillHTTP {
    /// nil when no answer came (connection refused or lost, timeout): the outcome is unknown.
    static func call(_ client: HTTPClient, _ method: String, _ path: String, token: String, json: [String: Any]? = nil,
                     timeoutMs: UInt64) -> DrillReply? {
        var body: [UInt8] = []
        if let json {
            guard let data = try? JSONSerialization.data(withJSONObject: json) else { return nil }
            body = Array(data)
        }
        guard let response = try? client.send(method, path, body: body, headers: [("authorization", "Bearer \(token)")], timeoutMs: timeoutMs)
        else {
            // The connection may be half-used: the next request opens a fresh one.
            client.close()
            return nil
        }
        let object = response.body.isEmpty ? nil : (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
        return DrillReply(status: response.status, object: object)
    }
}
