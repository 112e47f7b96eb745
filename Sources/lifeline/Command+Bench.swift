#if canImport(Glibc)
import Glibc
#endif
import Node
import Raft
import Simulation

/// One `lifeline bench` subcommand: a benchmark that prints figures.
struct Benchmark: Sendable {
    var name: String
    var summary: String
    var help: String
    var run: @Sendable (_ arguments: [String]) throws -> Int32
}

/// Every benchmark, in the order `bench --help` lists them.
let benchmarks: [Benchmark] = [
    Benchmark(name: "raft", summary: "the pure Raft core: a 3-node in-memory cluster", help: benchRaftHelp, run: benchRaft),
    Benchmark(name: "storage", summary: "the durable Raft log: SQLite WAL, one fsync per batch", help: benchStorageHelp, run: benchStorage),
    Benchmark(name: "routing", summary: "the contact-center state machine: routing at scale", help: benchRoutingHelp, run: benchRouting),
    Benchmark(name: "cluster", summary: "a 3-node TLS cluster with fsync: commits/s and latency per client count", help: benchClusterHelp, run: benchCluster),
    Benchmark(name: "compare", summary: "Lifeline vs etcd on this machine: throughput, latency, failover, rejoin; task enqueue, memory at queued tasks", help: benchCompareHelp, run: benchCompare),
]

let benchCommand = Command(
    name: "bench",
    summary: "run a benchmark and print its figures (not a test)",
    help: """
        Usage: lifeline bench NAME [OPTIONS]

        Benchmarks print figures; they assert nothing. Build in release mode for
        figures worth recording: swift run -c release lifeline bench NAME.
        Docs/performance.md records the figures with the method.

        Benchmarks:
        \(benchmarks.map { "  \($0.name.padding(toLength: 10, withPad: " ", startingAt: 0))\($0.summary)" }.joined(separator: "\n"))

        Run 'lifeline bench NAME --help' for each one's options.

        Example:
          swift run -c release lifeline bench raft --seconds 5

        Exit codes: 0 ran (benchmarks assert nothing), 1 failed to run, 2 usage.
        """,
    run: { arguments in
        guard let name = arguments.first else { throw UsageError("name a benchmark: \(benchmarks.map(\.name).joined(separator: ", "))") }
        guard let benchmark = benchmarks.first(where: { $0.name == name }) else {
            throw UsageError("unknown benchmark '\(name)' (\(benchmarks.map(\.name).joined(separator: ", ")))")
        }
        let rest = Array(arguments.dropFirst())
        if rest.contains("--help") || rest.contains("-h") {
            print(benchmark.help)
            return ExitCode.ok
        }
        return try benchmark.run(rest)
    }
)

/// Monotonic time in nanoseconds, for benchmarks.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Peak resident set size of this process in KiB (Linux: VmHWM).
func peakResidentKiB() -> Int? { ProcessStatus.kibibytes("VmHWM", pid: getpid()) }

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        var slice = Substring(self)
        while let first = slice.first, characters.contains(first) { slice.removeFirst() }
        while let last = slice.last, characters.contains(last) { slice.removeLast() }
        return String(slice)
    }
}

// MARK: - bench raft

let benchRaftHelp = """
    Usage: lifeline bench raft [--seconds S] [--entry-bytes N] [--batch N]

    A 3-node cluster of the pure Raft core in one process: no disk, no network,
    messages handed over directly. The leader proposes --batch entries of
    --entry-bytes each, the cluster runs until they are committed and applied,
    and again, for --seconds. Prints committed entries per second: what the
    consensus core costs, before storage and TLS.

    Options:
      --seconds S       how long to run (default 5)
      --entry-bytes N   payload of each entry (default 256)
      --batch N         entries proposed per round (default 256)

    Example:
      swift run -c release lifeline bench raft --seconds 5
    """

@Sendable func benchRaft(_ arguments: [String]) throws -> Int32 {
    let options = try OptionParser(arguments, valued: ["seconds", "entry-bytes", "batch"])
    let seconds = try options.int("seconds", default: 5, range: 1...3600)
    let entryBytes = try options.int("entry-bytes", default: 256, range: 1...CodecLimits.entryBytesMax)
    let batch = try options.int("batch", default: 256, range: 1...100_000)
    var cluster = InMemoryCluster(nodeCount: 3)
    let payload = [UInt8](repeating: 0xAB, count: entryBytes)
    let start = monotonicNanoseconds()
    let deadline = start + UInt64(seconds) * 1_000_000_000
    var committed: UInt64 = 0
    var rounds = 0
    while monotonicNanoseconds() < deadline {
        committed += cluster.round(count: batch, payload: payload)
        rounds += 1
    }
    let elapsedSeconds = Double(monotonicNanoseconds() - start) / 1e9
    let perSecond = Double(committed) / elapsedSeconds
    print("bench raft: 3 nodes in memory, \(entryBytes)-byte entries, \(batch) per round")
    print("  committed entries:   \(committed) in \(String(format: "%.2f", elapsedSeconds)) s (\(rounds) rounds)")
    print("  entries per second:  \(Int(perSecond))")
    print("  messages delivered:  \(cluster.messagesDelivered)")
    if let peak = peakResidentKiB() { print("  peak RSS:            \(peak) KiB") }
    return ExitCode.ok
}
