#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Node

let benchCompareHelp = """
    Usage: lifeline bench compare [--seconds S] [--concurrency LIST] [--failovers N] [--commands N]
                                  [--queued-tasks N] [--skip-tasks] [--value-bytes N] [--base-port P]
                                  [--dir DIR] [--no-install] [--skip-etcd] [--etcd-default-timeouts]

    Lifeline side by side with etcd on this machine, one after the other, driven
    by the same load generator (clients with one keep-alive TLS 1.3 connection
    each, opened before the clock starts, sharing one epoll thread per two
    cores; exact percentiles, its own CPU reported; kv writes reuse prepared
    requests, task bodies are built per request for a new patient each):

      etcd      3 members on 127.0.0.1, mutual TLS for clients and peers
                (certificates from Lifeline's CA code), default durability (WAL
                fsync per Ready); writes are POST /v3/kv/put on its JSON gateway
                with base64 key and value. Installed with 'apt-get install -y
                etcd-server etcd-client' when missing (unless --no-install); if
                that fails, etcd's half is skipped and said so.
      Lifeline  'cluster up' with 3 nodes: TLS, fsync per batch; writes are
                PUT /v1/kv/KEY (answered after commit and apply).

    Per system:
      1. throughput: at each concurrency level, clients send N-byte writes to the
         leader for S seconds: writes/s, p50/p99/max latency, CPU;
      2. failover: clients at concurrency 16 spread over all 3 members (moving
         to the next member on an error); after 1.5 s the leader is killed with
         SIGKILL; the gap is from the kill until the first write SENT after the
         kill is acknowledged. The killed member is restarted and the cluster
         settles before the next round. Median and max of --failovers rounds;
      3. rejoin: one follower is stopped, --commands writes with distinct keys
         are made, the follower restarts; catch-up time until it has applied
         the leader's index, and the leader's latest snapshot size.
    Then, Lifeline only, each on a fresh 3-node cluster:
      4. task enqueue (unless --skip-tasks): the same concurrency levels and
         load generator, a fresh cluster per level, POST /v1/tasks to the leader (supervisor token from
         'cluster up'): a voice task in a queue defined first, for a new
         synthetic patient each time {id, name, phone, dateOfBirth}, whose PHI
         the node seals with AES-256-GCM under a new data key before the
         command enters the log. No agent is logged in, so every task stays
         queued and the state grows during the levels. Compared with etcd's
         puts at the same concurrency;
      5. queued tasks (unless --queued-tasks 0): N tasks (default 100,000) are
         enqueued at 64 clients with no agent logged in; once every node has
         applied the leader's commit index, each node's peak RSS (VmHWM in
         /proc/PID/status) and current RSS are printed with the queue depth.
    Then one table with the ratio Lifeline/etcd for every figure (task
    enqueues against etcd's puts), and the targets of issue 8.

    Both systems run with the same election settings: heartbeat 60 ms, election
    timeout 600 ms (both randomize in [600, 1200) ms); --etcd-default-timeouts
    runs etcd with its defaults (100 ms, 1000 ms) instead.

    Options:
      --seconds S          seconds per throughput level, 1...300 (default 10)
      --concurrency LIST   default 1,16,64,256
      --failovers N        leader kills per system, 0...20 (default 5)
      --commands N         writes before a follower rejoins, 0...10000000 (default
                           100000; the issue asks for 1000000: pass it when you have
                           the minutes)
      --queued-tasks N     tasks queued before the nodes' peak RSS is read,
                           0...2000000 (default 100000, as the issue asks: about
                           30 s and 0.6 GiB per node here; 0 skips step 5)
      --skip-tasks         skip the task-enqueue levels (step 4)
      --value-bytes N      bytes per kv write, 1...65536 (default 256)
      --base-port P        etcd uses P+1.. and P+51..; Lifeline P+100+1.. and
                           P+100+51.., its task-enqueue clusters P+200+..., its
                           queued-tasks cluster P+300+... (default 17200)
      --dir DIR            keep both clusters' files under DIR (default: a
                           temporary directory, removed at the end)
      --no-install         never run apt-get
      --skip-etcd          run Lifeline's half only

    Build in release mode first:
      swift build -c release && .build/release/lifeline bench compare

    Exit codes: 0 ok, 1 failed, 2 usage.
    """

/// One system's figures.
struct SystemFigures {
    var name: String
    var version = ""
    var settings = ""
    var levels: [(concurrency: Int, result: LoadResult)] = []
    var failoverGapsMs: [Double] = []
    var catchUpMs: Double?
    var catchUpCommands = 0
    var snapshotBytes: Int?
    var snapshotNote = ""
    var peakRSSKiB: [Int] = []
    /// After the rejoin: the largest state this run built.
    var peakRSSAfterRejoinKiB: [Int] = []
    var rejoinWritesPerSecond: Double?
    /// Lifeline only: POST /v1/tasks at each concurrency level.
    var taskLevels: [(concurrency: Int, result: LoadResult)] = []
    /// Lifeline only: memory with `--queued-tasks` tasks queued.
    var queued: QueuedTasksFigures?
}

/// Each node's memory after N tasks were enqueued with no agent to take them.
struct QueuedTasksFigures {
    struct NodeMemory {
        var node: String
        var isLeader: Bool
        var startRSSKiB: Int?
        var peakRSSKiB: Int?
        var rssKiB: Int?
    }

    var requested: Int
    var acknowledged: Int
    var errors: Int
    var enqueuesPerSecond: Double
    /// The queue's depth as the leader reports it (in-flight requests when the
    /// generator stopped may add a few tasks beyond `requested`).
    var depth: Int?
    /// Whether every node had applied the leader's commit index when RSS was read.
    var allApplied: Bool
    var nodes: [NodeMemory]
}

/// The queue the task benchmarks fill.
let benchTaskQueue = "bench-voice"

@Sendable func benchCompare(_ arguments: [String]) throws -> Int32 {
    let options = try OptionParser(
        arguments,
        valued: ["seconds", "concurrency", "failovers", "commands", "queued-tasks", "value-bytes", "base-port", "dir"],
        flags: ["no-install", "skip-etcd", "skip-tasks", "etcd-default-timeouts"])
    guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
    let seconds = try options.int("seconds", default: 10, range: 1...300)
    let levels = try concurrencyList(options.value("concurrency") ?? "1,16,64,256")
    let failovers = try options.int("failovers", default: 5, range: 0...20)
    let commands = try options.int("commands", default: 100_000, range: 0...10_000_000)
    let queuedTasks = try options.int("queued-tasks", default: 100_000, range: 0...2_000_000)
    let valueBytes = try options.int("value-bytes", default: 256, range: 1...65_536)
    let base = try options.int("base-port", default: 17_200, range: 1024...64_800)
    let keep = options.value("dir") != nil
    let root = options.value("dir").map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
        ?? NSTemporaryDirectory() + "lifeline-compare-\(getpid())"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    defer { if !keep { try? FileManager.default.removeItem(atPath: root) } }

    say("machine: \(machineSummary())")
    say("settings: \(seconds) s per level, \(valueBytes)-byte values, concurrency \(levels.map(String.init).joined(separator: ",")), "
          + "\(failovers) failovers, \(commands) commands before rejoin, "
          + (options.has("skip-tasks") ? "no task-enqueue levels, " : "task-enqueue levels, ")
          + (queuedTasks > 0 ? "peak RSS at \(queuedTasks) queued tasks" : "no queued-tasks RSS"))

    var etcd: SystemFigures?
    if !options.has("skip-etcd"), let executable = EtcdBenchCluster.ensureInstalled(allowInstall: !options.has("no-install")) {
        let defaults = options.has("etcd-default-timeouts")
        let cluster = try EtcdBenchCluster(
            executable: executable, directory: root + "/etcd", basePort: base,
            heartbeatMs: defaults ? 100 : 60, electionMs: defaults ? 1000 : 600)
        var figures = SystemFigures(name: "etcd")
        figures.version = EtcdBenchCluster.version(executable)
        figures.settings = "heartbeat-interval \(cluster.heartbeatMs) ms, election-timeout \(cluster.electionMs) ms, snapshot-count 100000 (default), WAL fsync per Ready (default)"
        say("\n== etcd: \(figures.version); \(figures.settings)")
        try cluster.start()
        defer { cluster.stop() }
        try runEtcd(cluster, &figures, levels: levels, seconds: seconds, valueBytes: valueBytes, failovers: failovers, commands: commands)
        etcd = figures
    }

    var lifeline = SystemFigures(name: "Lifeline")
    lifeline.version = "this build (\(swiftVersionLine()))"
    lifeline.settings = "tick 20 ms, heartbeat 60 ms, election 600 ms, snapshot every 10000 entries, SQLite WAL fsync per batch"
    say("\n== Lifeline: \(lifeline.settings)")
    do {
        let cluster = try LifelineBenchCluster.start(directory: root + "/lifeline", basePort: base + 100, snapshotEvery: 10_000)
        defer { cluster.stop() }
        try runLifeline(cluster, &lifeline, levels: levels, seconds: seconds, valueBytes: valueBytes, failovers: failovers, commands: commands)
    }
    if !options.has("skip-tasks") {
        say("\n== Lifeline task enqueue: POST /v1/tasks, a fresh cluster per level, a new patient per task, no agents (tasks stay queued)")
        lifeline.taskLevels = try runLifelineTasks(directory: root + "/lifeline-tasks", basePort: base + 200, levels: levels, seconds: seconds)
    }
    if queuedTasks > 0 {
        say("\n== Lifeline memory at \(queuedTasks) queued tasks: a fresh cluster, 64 clients, no agents")
        let cluster = try LifelineBenchCluster.start(directory: root + "/lifeline-queued", basePort: base + 300, snapshotEvery: 10_000)
        defer { cluster.stop() }
        lifeline.queued = try measureQueuedTasks(cluster, count: queuedTasks)
    }

    printComparison(lifeline: lifeline, etcd: etcd)
    return ExitCode.ok
}

func swiftVersionLine() -> String {
    let (status, output) = ProcessControl.run(executable: "/usr/bin/env", arguments: ["swift", "--version"], timeoutMs: 20_000)
    guard status == 0, let line = output.split(separator: "\n").first(where: { $0.contains("Swift version") }) else { return "Swift version unknown" }
    return String(line)
}

// MARK: - etcd

private func runEtcd(_ cluster: EtcdBenchCluster, _ figures: inout SystemFigures, levels: [Int], seconds: Int, valueBytes: Int,
                     failovers: Int, commands: Int) throws {
    var leader = try cluster.waitForLeader()
    say("leader e\(leader + 1)")
    say(levelHeader)
    for concurrency in levels {
        let target = cluster.putTarget(addresses: [cluster.clientAddresses[leader]], valueBytes: valueBytes)
        let result = LoadGenerator(target: target).run(concurrency: concurrency, seconds: Double(seconds), serverPids: cluster.pids)
        figures.levels.append((concurrency, result))
        say(formatLevel(concurrency, result))
    }
    figures.peakRSSKiB = cluster.pids.compactMap { peakResidentKiB(pid: $0) }
    for round in 0..<failovers {
        leader = try cluster.waitForLeader()
        let target = cluster.putTarget(addresses: cluster.clientAddresses, valueBytes: valueBytes)
        let gap = measureFailover(target: target) { cluster.kill9(leader) }
        try cluster.restart(leader)
        _ = try cluster.waitForLeader()
        report(round: round, gapMs: gap, into: &figures)
    }
    if commands > 0 {
        leader = try cluster.waitForLeader()
        let follower = (leader + 1) % 3
        cluster.stopMember(follower)
        let target = cluster.putTarget(addresses: [cluster.clientAddresses[leader]], valueBytes: valueBytes, distinctKeys: true)
        let written = LoadGenerator(target: target).run(concurrency: 64, seconds: 3600, totalWrites: commands)
        guard let leaderIndex = Int(cluster.status(leader)?["raftIndex"] as? String ?? "") else {
            throw CommandFailure("etcd leader did not report its raft index")
        }
        let start = MonotonicClock.nowNs()
        try cluster.restart(follower)
        if cluster.waitUntilApplied(follower, raftIndex: leaderIndex, timeoutMs: 600_000) {
            figures.catchUpMs = Double(MonotonicClock.nowNs() - start) / 1e6
        }
        figures.catchUpCommands = written.latenciesNs.count
        figures.rejoinWritesPerSecond = written.commitsPerSecond
        figures.peakRSSAfterRejoinKiB = cluster.pids.compactMap { peakResidentKiB(pid: $0) }
        let sizes = cluster.snapshotBytes(leader)
        figures.snapshotBytes = sizes.snap > 0 ? sizes.snap : nil
        figures.snapshotNote = "bbolt db \(sizes.db) bytes; " + (sizes.snap > 0 ? ".snap files \(sizes.snap) bytes" : "no .snap yet (snapshot-count 100000)")
        say(String(format: "rejoin: %d writes (%.0f/s), follower caught up to index %d in %@; leader: %@", written.latenciesNs.count, written.commitsPerSecond, leaderIndex,
                     figures.catchUpMs.map { String(format: "%.0f ms", $0) } ?? "NOT within 600 s", figures.snapshotNote))
    }
}

// MARK: - Lifeline

private func runLifeline(_ cluster: LifelineBenchCluster, _ figures: inout SystemFigures, levels: [Int], seconds: Int, valueBytes: Int,
                         failovers: Int, commands: Int) throws {
    var leader = try cluster.waitForLeader()
    say("leader \(leader.node)")
    say(levelHeader + "   entries/fsync")
    for concurrency in levels {
        let before = cluster.storageCounters(leader.api)
        let target = cluster.kvTarget(addresses: [leader.api], valueBytes: valueBytes)
        let result = LoadGenerator(target: target).run(concurrency: concurrency, seconds: Double(seconds), serverPids: cluster.pids)
        let after = cluster.storageCounters(leader.api)
        let batches = after.batches - before.batches
        figures.levels.append((concurrency, result))
        say(formatLevel(concurrency, result)
              + String(format: "   %13.1f", batches == 0 ? 0 : Double(after.entries - before.entries) / Double(batches)))
    }
    figures.peakRSSKiB = cluster.pids.compactMap { peakResidentKiB(pid: $0) }
    for round in 0..<failovers {
        leader = try cluster.waitForLeader()
        let target = cluster.kvTarget(addresses: cluster.apiAddresses, valueBytes: valueBytes)
        let killed = leader.node
        let gap = measureFailover(target: target) { cluster.kill9(killed) }
        try cluster.restart(killed)
        _ = try cluster.waitForLeader()
        report(round: round, gapMs: gap, into: &figures)
    }
    if commands > 0 {
        leader = try cluster.waitForLeader()
        guard let follower = cluster.file.nodes.first(where: { $0.node != leader.node })?.node else { return }
        cluster.stopNode(follower)
        let target = cluster.kvTarget(addresses: [leader.api], valueBytes: valueBytes, distinctKeys: true)
        let written = LoadGenerator(target: target).run(concurrency: 64, seconds: 3600, totalWrites: commands)
        guard let leaderIndex = cluster.view(leader.api)?["commitIndex"] as? Int else {
            throw CommandFailure("the Lifeline leader did not report its commit index")
        }
        let start = MonotonicClock.nowNs()
        try cluster.restart(follower)
        if cluster.waitUntilApplied(follower, index: leaderIndex, timeoutMs: 600_000) {
            figures.catchUpMs = Double(MonotonicClock.nowNs() - start) / 1e6
        }
        figures.catchUpCommands = written.latenciesNs.count
        figures.rejoinWritesPerSecond = written.commitsPerSecond
        figures.peakRSSAfterRejoinKiB = cluster.pids.compactMap { peakResidentKiB(pid: $0) }
        figures.snapshotBytes = lastSnapshotBytes(logFile: cluster.directory + "/\(leader.node).log")
        figures.snapshotNote = figures.snapshotBytes.map { "latest snapshot \($0) bytes" } ?? "no snapshot taken"
        say(String(format: "rejoin: %d writes (%.0f/s), follower caught up to index %d in %@; leader: %@", written.latenciesNs.count, written.commitsPerSecond, leaderIndex,
                     figures.catchUpMs.map { String(format: "%.0f ms", $0) } ?? "NOT within 600 s", figures.snapshotNote))
    }
}

/// POST /v1/tasks at each concurrency level, to the leader, each level on a
/// fresh cluster: every enqueue makes the state larger (a queued task, a data
/// key, an audit event), so a level must not inherit the tasks of the one before.
private func runLifelineTasks(directory: String, basePort: Int, levels: [Int], seconds: Int)
    throws -> [(concurrency: Int, result: LoadResult)] {
    var measured: [(concurrency: Int, result: LoadResult)] = []
    for (index, concurrency) in levels.enumerated() {
        let cluster = try LifelineBenchCluster.start(directory: directory + "-\(concurrency)", basePort: basePort, snapshotEvery: 10_000)
        defer { cluster.stop() }
        let leader = try cluster.waitForLeader()
        try cluster.defineVoiceQueue(benchTaskQueue, api: leader.api)
        say("leader \(leader.node); queue \(benchTaskQueue) (voice)")
        say(levelHeader + "   entries/fsync   queued after")
        let before = cluster.storageCounters(leader.api)
        let target = cluster.taskTarget(addresses: [leader.api], queue: benchTaskQueue, tag: "l\(index)")
        let result = LoadGenerator(target: target).run(concurrency: concurrency, seconds: Double(seconds), serverPids: cluster.pids)
        let after = cluster.storageCounters(leader.api)
        let batches = after.batches - before.batches
        let depth = cluster.queueDepth(benchTaskQueue, api: leader.api).map(String.init) ?? "?"
        measured.append((concurrency, result))
        say(formatLevel(concurrency, result)
              + String(format: "   %13.1f", batches == 0 ? 0 : Double(after.entries - before.entries) / Double(batches))
              + depth.padded(15))
    }
    return measured
}

/// Enqueues `count` tasks at 64 clients with no agent logged in, waits until
/// every node has applied them, then reads each node's peak and current RSS.
private func measureQueuedTasks(_ cluster: LifelineBenchCluster, count: Int) throws -> QueuedTasksFigures {
    let leader = try cluster.waitForLeader()
    try cluster.defineVoiceQueue(benchTaskQueue, api: leader.api)
    let startRSS = cluster.pids.map { residentKiB(pid: $0) }
    let target = cluster.taskTarget(addresses: [leader.api], queue: benchTaskQueue, tag: "q")
    let written = LoadGenerator(target: target).run(concurrency: 64, seconds: 3600, totalWrites: count)
    guard let commitIndex = cluster.view(leader.api)?["commitIndex"] as? Int else {
        throw CommandFailure("the Lifeline leader did not report its commit index")
    }
    let allApplied = cluster.file.nodes.allSatisfy { cluster.waitUntilApplied($0.node, index: commitIndex, timeoutMs: 120_000) }
    let depth = cluster.queueDepth(benchTaskQueue, api: leader.api)
    let nodes = cluster.file.nodes.enumerated().map { index, entry in
        QueuedTasksFigures.NodeMemory(node: entry.node, isLeader: entry.node == leader.node, startRSSKiB: startRSS[index],
                                      peakRSSKiB: peakResidentKiB(pid: entry.pid), rssKiB: residentKiB(pid: entry.pid))
    }
    let figures = QueuedTasksFigures(requested: count, acknowledged: written.latenciesNs.count, errors: written.errors,
                                     enqueuesPerSecond: written.commitsPerSecond, depth: depth, allApplied: allApplied, nodes: nodes)
    say(String(format: "%d tasks acknowledged (%.0f/s, %d errors); queue depth %@; every node applied index %d: %@",
               figures.acknowledged, figures.enqueuesPerSecond, figures.errors, depth.map(String.init) ?? "unknown", commitIndex,
               allApplied ? "yes" : "NO (within 120 s)"))
    for line in queuedMemoryLines(figures) { say(line) }
    return figures
}

private func queuedMemoryLines(_ figures: QueuedTasksFigures) -> [String] {
    func mib(_ kib: Int?) -> String { kib.map { String(format: "%.1f MiB", Double($0) / 1024) } ?? "unknown" }
    return figures.nodes.map { node in
        "  \(node.node)\(node.isLeader ? " (leader)" : ""): peak RSS (VmHWM) \(mib(node.peakRSSKiB)), RSS now \(mib(node.rssKiB)), "
            + "RSS before the tasks \(mib(node.startRSSKiB))"
    }
}

/// The `bytes` field of the last `snapshot.taken` event in a node's log.
func lastSnapshotBytes(logFile: String) -> Int? {
    guard let text = try? String(contentsOfFile: logFile, encoding: .utf8) else { return nil }
    guard let line = text.split(separator: "\n").last(where: { $0.contains("\"event\":\"snapshot.taken\"") }),
          let range = line.range(of: "\"bytes\":\"") else { return nil }
    return Int(line[range.upperBound...].prefix { $0.isNumber })
}

// MARK: - Shared

/// Runs load at concurrency 16 on `target`, kills the leader with `kill` after
/// 1.5 s, and returns the gap in ms until the first write sent after the kill
/// is acknowledged (nil when none within 30 s).
func measureFailover(target: LoadTarget, kill: () -> Void) -> Double? {
    let generator = LoadGenerator(target: target)
    let finished = DispatchSemaphore(value: 0)
    let thread = Thread {
        _ = generator.run(concurrency: 16, seconds: 60)
        finished.signal()
    }
    thread.start()
    ProcessControl.pause(ms: 1_500)
    let killedAt = MonotonicClock.nowNs()
    generator.killedAtNs.store(killedAt, ordering: .releasing)
    kill()
    let deadline = MonotonicClock.deadline(afterMs: 30_000)
    while generator.firstAckAfterKillNs.load(ordering: .acquiring) == 0 && MonotonicClock.now() < deadline {
        ProcessControl.pause(ms: 2)
    }
    let firstAck = generator.firstAckAfterKillNs.load(ordering: .acquiring)
    generator.stop()
    _ = finished.wait(timeout: .now() + .seconds(30))
    return firstAck == 0 ? nil : Double(firstAck - killedAt) / 1e6
}

private func report(round: Int, gapMs: Double?, into figures: inout SystemFigures) {
    if let gapMs {
        figures.failoverGapsMs.append(gapMs)
        say(String(format: "failover %d: write gap %.0f ms", round + 1, gapMs))
    } else {
        say("failover \(round + 1): no write acknowledged within 30 s of the kill")
    }
}

func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

// MARK: - The table

private func printComparison(lifeline: SystemFigures, etcd: SystemFigures?) {
    say("\n== Lifeline / etcd")
    if let etcd { say("etcd:     \(etcd.version); \(etcd.settings)") } else { say("etcd:     not run (see above)") }
    say("Lifeline: \(lifeline.version); \(lifeline.settings)")
    say("figure                          Lifeline         etcd    Lifeline/etcd")
    func row(_ name: String, _ ours: Double?, _ theirs: Double?, _ format: String) {
        func cell(_ value: Double?) -> String { value.map { String(format: format, $0) } ?? "-" }
        let ratio = (ours != nil && theirs != nil && theirs! > 0) ? String(format: "%.2f", ours! / theirs!) : "-"
        say(name.padding(toLength: 28, withPad: " ", startingAt: 0) + cell(ours).padded(12) + cell(theirs).padded(13) + ratio.padded(17))
    }
    for level in lifeline.levels {
        let other = etcd?.levels.first { $0.concurrency == level.concurrency }
        let c = level.concurrency
        row("writes/s @\(c)", level.result.commitsPerSecond, other?.result.commitsPerSecond, "%.0f")
        row("p50 ms @\(c)", Double(level.result.percentile(0.5)) / 1e6, other.map { Double($0.result.percentile(0.5)) / 1e6 }, "%.2f")
        row("p99 ms @\(c)", Double(level.result.percentile(0.99)) / 1e6, other.map { Double($0.result.percentile(0.99)) / 1e6 }, "%.2f")
        row("max ms @\(c)", Double(level.result.maxNs) / 1e6, other.map { Double($0.result.maxNs) / 1e6 }, "%.2f")
        row("server CPU cores @\(c)", level.result.serverCores, other?.result.serverCores, "%.2f")
        row("loadgen CPU cores @\(c)", level.result.generatorCores, other?.result.generatorCores, "%.2f")
    }
    row("failover gap median ms", median(lifeline.failoverGapsMs), etcd.flatMap { median($0.failoverGapsMs) }, "%.0f")
    row("failover gap max ms", lifeline.failoverGapsMs.max(), etcd?.failoverGapsMs.max(), "%.0f")
    row("rejoin catch-up ms", lifeline.catchUpMs, etcd?.catchUpMs, "%.0f")
    row("snapshot bytes", lifeline.snapshotBytes.map(Double.init), etcd?.snapshotBytes.map(Double.init), "%.0f")
    row("peak RSS MiB after levels", lifeline.peakRSSKiB.max().map { Double($0) / 1024 }, etcd?.peakRSSKiB.max().map { Double($0) / 1024 }, "%.1f")
    row("rejoin writes/s", lifeline.rejoinWritesPerSecond, etcd?.rejoinWritesPerSecond, "%.0f")
    row("peak RSS MiB after rejoin", lifeline.peakRSSAfterRejoinKiB.max().map { Double($0) / 1024 },
        etcd?.peakRSSAfterRejoinKiB.max().map { Double($0) / 1024 }, "%.1f")
    say("rejoin: Lifeline \(lifeline.catchUpCommands) writes (\(lifeline.snapshotNote))"
          + (etcd.map { "; etcd \($0.catchUpCommands) writes (\($0.snapshotNote))" } ?? ""))
    for level in lifeline.taskLevels {
        let other = etcd?.levels.first { $0.concurrency == level.concurrency }
        let c = level.concurrency
        row("task enqueues/s @\(c)", level.result.commitsPerSecond, other?.result.commitsPerSecond, "%.0f")
        row("task p50 ms @\(c)", Double(level.result.percentile(0.5)) / 1e6, other.map { Double($0.result.percentile(0.5)) / 1e6 }, "%.2f")
        row("task p99 ms @\(c)", Double(level.result.percentile(0.99)) / 1e6, other.map { Double($0.result.percentile(0.99)) / 1e6 }, "%.2f")
        row("task max ms @\(c)", Double(level.result.maxNs) / 1e6, other.map { Double($0.result.maxNs) / 1e6 }, "%.2f")
        row("task server CPU cores @\(c)", level.result.serverCores, other?.result.serverCores, "%.2f")
        row("task loadgen CPU cores @\(c)", level.result.generatorCores, other?.result.generatorCores, "%.2f")
    }
    if !lifeline.taskLevels.isEmpty {
        say("(task rows: Lifeline's POST /v1/tasks against etcd's puts at the same concurrency; errors: "
              + lifeline.taskLevels.map { "@\($0.concurrency) \($0.result.errors)" }.joined(separator: ", ") + ")")
        let ownRatios = lifeline.taskLevels.compactMap { task -> String? in
            guard let kv = lifeline.levels.first(where: { $0.concurrency == task.concurrency }), kv.result.commitsPerSecond > 0 else { return nil }
            return String(format: "@%d %.2f", task.concurrency, task.result.commitsPerSecond / kv.result.commitsPerSecond)
        }
        if !ownRatios.isEmpty { say("task enqueues / Lifeline's own kv puts: " + ownRatios.joined(separator: ", ")) }
    }
    if let queued = lifeline.queued {
        let largest = queued.nodes.compactMap(\.peakRSSKiB).max()
        say("peak RSS at \(queued.requested) queued tasks (queue depth \(queued.depth.map(String.init) ?? "unknown"), "
              + "all nodes applied: \(queued.allApplied ? "yes" : "NO")): largest node "
              + (largest.map { String(format: "%.1f MiB", Double($0) / 1024) } ?? "unknown"))
        for line in queuedMemoryLines(queued) { say(line) }
    } else {
        say("peak RSS at queued tasks: not measured (--queued-tasks 0)")
    }

    guard let etcd else { return }
    say("\ntargets (issue 8):")
    func level(_ figures: SystemFigures, _ c: Int) -> LoadResult? { figures.levels.first { $0.concurrency == c }?.result }
    for c in [64, 256] {
        if let ours = level(lifeline, c), let theirs = level(etcd, c), theirs.commitsPerSecond > 0 {
            let ratio = ours.commitsPerSecond / theirs.commitsPerSecond
            say(String(format: "  throughput @%d >= 3x etcd: %.2fx  %@", c, ratio, ratio >= 3 ? "MET" : "MISSED"))
        }
    }
    if let ours = level(lifeline, 16), let theirs = level(etcd, 16) {
        let met = ours.percentile(0.99) <= theirs.percentile(0.99)
        say(String(format: "  p99 @16 no worse than etcd: %.2f ms vs %.2f ms  %@", Double(ours.percentile(0.99)) / 1e6,
                     Double(theirs.percentile(0.99)) / 1e6, met ? "MET" : "MISSED"))
    }
    if let ours = median(lifeline.failoverGapsMs), let theirs = median(etcd.failoverGapsMs) {
        say(String(format: "  failover median no worse than etcd: %.0f ms vs %.0f ms  %@", ours, theirs, ours <= theirs ? "MET" : "MISSED"))
    }
}
