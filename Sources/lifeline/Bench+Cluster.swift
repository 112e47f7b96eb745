#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Node
import Synchronization

let benchClusterHelp = """
    Usage: lifeline bench cluster [--seconds S] [--concurrency LIST] [--value-bytes N] [--base-port P] [--dir DIR]

    Starts a 3-node cluster on 127.0.0.1 with 'cluster up' (TLS 1.3 between
    nodes and to clients, fsync on every storage batch), finds the leader, then
    for each concurrency level runs that many clients for S seconds (sharing
    one thread per two cores, which waits on all their sockets with epoll).
    Each client keeps one TLS connection open (opened before the level's clock
    starts) and sends PUT /v1/kv/KEY with an N-byte value, waiting for each
    answer (sent after commit and apply) before the next. Prints per level:
    commits/s, p50/p99/max latency, errors, the load generator's own CPU (in
    cores; it must stay well below the machine's cores to not be the
    bottleneck), the 3 nodes' CPU (in cores), and how many entries the leader
    wrote per fsync (batching). Then stops the nodes it
    started and removes its directory (unless --dir was given).

    Options:
      --seconds S          seconds per level, 1...300 (default 10)
      --concurrency LIST   comma-separated client counts (default 1,16,64)
      --value-bytes N      bytes per command, 1...65536 (default 256)
      --base-port P        ports P+1.. (peers) and P+51.. (API) (default 17100)
      --dir DIR            keep the cluster's files here instead of a temporary directory

    Build in release mode for figures worth recording:
      swift build -c release && .build/release/lifeline bench cluster --seconds 10

    Exit codes: 0 ok, 1 failed, 2 usage.
    """

/// Runs the cluster benchmark (see `benchClusterHelp`).
@Sendable func benchCluster(_ arguments: [String]) throws -> Int32 {
    let options = try OptionParser(arguments, valued: ["seconds", "concurrency", "value-bytes", "base-port", "dir"])
    guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
    let seconds = try options.int("seconds", default: 10, range: 1...300)
    let levels = try concurrencyList(options.value("concurrency") ?? "1,16,64")
    let valueBytes = try options.int("value-bytes", default: 256, range: 1...65_536)
    let base = try options.int("base-port", default: 17_100, range: 1024...65_000)
    let cluster = try LifelineBenchCluster.start(directory: options.value("dir"), basePort: base, snapshotEvery: 100_000)
    defer { cluster.stop() }
    let leader = try cluster.waitForLeader()
    say("machine: \(machineSummary())")
    say("leader \(leader.node) at \(leader.api); \(valueBytes)-byte values, \(seconds) s per level; raft tick 20 ms, heartbeat 60 ms, election 600 ms")
    say(levelHeader + "   entries/fsync")
    for concurrency in levels {
        let before = cluster.storageCounters(leader.api)
        let result = LoadGenerator(target: cluster.kvTarget(addresses: [leader.api], valueBytes: valueBytes))
            .run(concurrency: concurrency, seconds: Double(seconds), serverPids: cluster.pids)
        let after = cluster.storageCounters(leader.api)
        let batches = after.batches - before.batches
        let perFsync = batches == 0 ? 0 : Double(after.entries - before.entries) / Double(batches)
        say(formatLevel(concurrency, result) + String(format: "   %13.1f", perFsync))
    }
    return ExitCode.ok
}

/// Parses "1,16,64".
func concurrencyList(_ text: String) throws -> [Int] {
    let levels = text.split(separator: ",").map { Int($0.trimmingCharacters(in: " ")) }
    guard !levels.isEmpty, levels.allSatisfy({ $0 != nil && (1...1024).contains($0!) }) else {
        throw UsageError("--concurrency wants comma-separated client counts 1...1024, got '\(text)'")
    }
    return levels.map { $0! }
}

/// nproc, CPU model and kernel, for the figures' context.
func machineSummary() -> String {
    var model = "unknown CPU"
    if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
       let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
       let colon = line.firstIndex(of: ":") {
        model = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
    }
    var names = utsname()
    uname(&names)
    let release = withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    var load = [Double](repeating: 0, count: 3)
    getloadavg(&load, 3)
    return "\(sysconf(Int32(_SC_NPROCESSORS_ONLN))) cores, \(model), Linux \(release), load average \(String(format: "%.2f", load[0]))"
}

/// A 3-node Lifeline cluster started with `cluster up` for a benchmark; stops
/// only the processes it started.
final class LifelineBenchCluster: @unchecked Sendable {
    let directory: String
    let keep: Bool
    private(set) var file: ClusterFile
    let connector: HTTPClient.Connector

    private init(directory: String, keep: Bool, file: ClusterFile, connector: @escaping HTTPClient.Connector) {
        self.directory = directory
        self.keep = keep
        self.file = file
        self.connector = connector
    }

    static func start(directory given: String?, basePort: Int, snapshotEvery: Int) throws -> LifelineBenchCluster {
        let directory = given.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
            ?? NSTemporaryDirectory() + "lifeline-bench-\(getpid())"
        guard try LocalCluster.up(nodes: 3, spares: 0, directory: directory, basePort: basePort, snapshotEvery: snapshotEvery) == ExitCode.ok else {
            _ = try? LocalCluster.down(directory: directory)
            throw CommandFailure("the Lifeline cluster did not start; see \(directory)/<node>.log")
        }
        let file = try ClusterFile.read(from: directory)
        let connector = try NodeClient.tlsConnector(caFile: file.caFile, certFile: file.certFile, keyFile: file.keyFile)
        return LifelineBenchCluster(directory: directory, keep: given != nil, file: file, connector: connector)
    }

    func stop() {
        _ = try? file.write(to: directory)
        _ = try? LocalCluster.down(directory: directory)
        for pid in pids { reapFully(pid) }
        if !keep { try? FileManager.default.removeItem(atPath: directory) }
    }

    var pids: [pid_t] { file.nodes.map(\.pid) }
    var apiAddresses: [HostPort] { file.nodes.compactMap(\.apiAddress) }

    /// Waits until every running node names the same leader.
    func waitForLeader(timeoutMs: UInt64 = 30_000) throws -> (node: String, api: HostPort) {
        let deadline = MonotonicClock.deadline(afterMs: timeoutMs)
        while MonotonicClock.now() < deadline {
            let views = file.nodes.filter { ProcessControl.isRunning($0.pid, commandContains: ["serve"]) }.map { entry in
                entry.apiAddress.flatMap { try? HTTPClient(address: $0, headers: file.authorization("ops"), connector: connector).send("GET", "/v1/cluster", timeoutMs: 1_000).jsonObject }
            }
            let leaders = Set(views.map { $0?["leader"] as? String })
            if leaders.count == 1, let leader = leaders.first ?? nil,
               let api = file.nodes.first(where: { $0.node == leader })?.apiAddress {
                return (leader, api)
            }
            ProcessControl.pause(ms: 20)
        }
        throw CommandFailure("the Lifeline nodes did not agree on a leader within \(timeoutMs) ms")
    }

    func view(_ api: HostPort) -> [String: Any]? {
        try? HTTPClient(address: api, headers: file.authorization("ops"), connector: connector).send("GET", "/v1/cluster", timeoutMs: 2_000).jsonObject
    }

    func storageCounters(_ api: HostPort) -> (batches: Int, entries: Int) {
        let storage = view(api)?["storage"] as? [String: Any]
        return (storage?["persistBatches"] as? Int ?? 0, storage?["persistedEntries"] as? Int ?? 0)
    }

    /// PUT /v1/kv/bWORKER-SLOT with a `valueBytes` value.
    func kvTarget(addresses: [HostPort], valueBytes: Int, distinctKeys: Bool = false) -> LoadTarget {
        let value = [UInt8](repeating: UInt8(ascii: "v"), count: valueBytes)
        let host = addresses[0].description
        let token = file.authorization("ops")
        return LoadTarget(addresses: addresses, connector: connector, request: { worker, sequence in
            httpRequest("PUT", "/v1/kv/b\(worker)-\(sequence)", host: host, body: value, contentType: "application/octet-stream",
                        headers: token)
        }, preparedPerWorker: distinctKeys ? 0 : 64)
    }

    // MARK: - Task enqueue

    /// Defines `queue` for voice tasks (PUT /v1/queues/{name}, supervisor token).
    func defineVoiceQueue(_ queue: String, api: HostPort) throws {
        let client = HTTPClient(address: api, headers: file.authorization("supervisor"), connector: connector)
        let response = try client.sendJSON("PUT", "/v1/queues/\(queue)", json: ["channels": ["voice"]], timeoutMs: 10_000)
        guard (200..<300).contains(response.status) else {
            throw CommandFailure("PUT /v1/queues/\(queue) answered \(response.status): \(String(decoding: response.body.prefix(200), as: UTF8.self))")
        }
    }

    /// The number of tasks waiting in `queue`, as `api` reports it (GET /v1/queues/{name}, linearizable).
    func queueDepth(_ queue: String, api: HostPort) -> Int? {
        let client = HTTPClient(address: api, headers: file.authorization("supervisor"), connector: connector)
        return (try? client.send("GET", "/v1/queues/\(queue)", timeoutMs: 10_000).jsonObject)?["depth"] as? Int
    }

    /// POST /v1/tasks: a voice task in `queue` for a synthetic patient, a new
    /// patient per request (`PTAG-WORKER-SEQUENCE`, so each task seals its PHI
    /// under a freshly generated and wrapped data key). `tag` keeps patients of
    /// different runs apart. The supervisor token of `cluster up` (the first site).
    func taskTarget(addresses: [HostPort], queue: String, tag: String) -> LoadTarget {
        let host = addresses[0].description
        let token = file.authorization("supervisor")
        return LoadTarget(addresses: addresses, connector: connector, request: { worker, sequence in
            httpRequest("POST", "/v1/tasks", host: host, body: benchTaskBody(queue: queue, patient: "p\(tag)-\(worker)-\(sequence)", serial: sequence),
                        headers: token)
        }, preparedPerWorker: 0)
    }

    // MARK: - Failover and rejoin

    func index(of node: String) -> Int? { file.nodes.firstIndex { $0.node == node } }

    /// SIGKILL, only if the PID still runs this cluster's `serve`.
    func kill9(_ node: String) {
        guard let index = index(of: node) else { return }
        let entry = file.nodes[index]
        if ProcessControl.isRunning(entry.pid, commandContains: ["serve", entry.config]) { kill(entry.pid, SIGKILL) }
        let deadline = MonotonicClock.deadline(afterMs: 5_000)
        while ProcessControl.isRunning(entry.pid, commandContains: ["serve", entry.config]) && MonotonicClock.now() < deadline {
            ProcessControl.reap(entry.pid)
            ProcessControl.pause(ms: 5)
        }
        reapFully(entry.pid)
    }

    /// SIGTERM (graceful), only our own process.
    func stopNode(_ node: String) {
        guard let index = index(of: node) else { return }
        let entry = file.nodes[index]
        ProcessControl.stop(entry.pid, commandContains: ["serve", entry.config], graceMs: 10_000)
        reapFully(entry.pid)
    }

    /// Starts `node` again from its data directory.
    func restart(_ node: String) throws {
        guard let index = index(of: node) else { return }
        let entry = file.nodes[index]
        file.nodes[index].pid = try ProcessControl.spawnDetached(
            executable: ProcessControl.currentExecutable(), arguments: ["serve", "--config", entry.config],
            logFile: directory + "/\(entry.node).log")
        try file.write(to: directory)
    }

    /// Waits until `node` answers and has applied at least `index`.
    func waitUntilApplied(_ node: String, index target: Int, timeoutMs: UInt64) -> Bool {
        guard let api = file.nodes.first(where: { $0.node == node })?.apiAddress else { return false }
        let deadline = MonotonicClock.deadline(afterMs: timeoutMs)
        while MonotonicClock.now() < deadline {
            if let applied = view(api)?["appliedIndex"] as? Int, applied >= target { return true }
            ProcessControl.pause(ms: 10)
        }
        return false
    }
}

/// The JSON body of one benchmark task: synthetic PHI only (the node validates
/// it, seals name, phone and date of birth with AES-256-GCM, and keeps only the
/// reference in the command).
func benchTaskBody(queue: String, patient: String, serial: Int) -> [UInt8] {
    let day = 10 + serial % 18
    let json = #"{"queue":"\#(queue)","channel":"voice","priority":\#(serial % 4),"patient":{"id":"\#(patient)","name":"Bench Patient \#(serial)","#
        + #""phone":"+1 555 01\#(10 + serial % 90)","dateOfBirth":"1970-01-\#(day)"}}"#
    return Array(json.utf8)
}
