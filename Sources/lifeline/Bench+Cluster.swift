#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Node
import Synchronization

/// `lifeline bench cluster --help`. The lead wires `benchCluster` into `bench`.
let benchClusterHelp = """
    Usage: lifeline bench cluster [--seconds S] [--base-port P] [--dir DIR]

    Starts a 3-node cluster on 127.0.0.1 (TLS 1.3, fsync on every batch), then
    for each concurrency level 1, 16 and 64 runs that many clients for S seconds,
    each submitting 256-byte key-value commands to the leader one at a time and
    waiting until each applied. Prints commits/s and p50/p99/max latency per
    level, then stops the cluster and removes its directory (unless --dir).

    Options:
      --seconds S     seconds per level, 1...300 (default 5)
      --base-port P   default 17100
      --dir DIR       keep the cluster's files here instead of a temporary directory

    Example:
      lifeline bench cluster --seconds 10

    Exit codes: 0 ok, 1 failed, 2 usage.
    """

/// Runs the cluster benchmark (see `benchClusterHelp`).
func benchCluster(_ arguments: [String]) throws -> Int32 {
    let options = try OptionParser(arguments, valued: ["seconds", "base-port", "dir"])
    guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
    let seconds = try options.int("seconds", default: 5, range: 1...300)
    let base = try options.int("base-port", default: 17_100, range: 1024...65_000)
    let keep = options.value("dir") != nil
    let directory = options.value("dir") ?? NSTemporaryDirectory() + "lifeline-bench-\(getpid())"
    guard try LocalCluster.up(nodes: 3, spares: 0, directory: directory, basePort: base, snapshotEvery: 100_000) == ExitCode.ok else {
        _ = try? LocalCluster.down(directory: directory)
        return ExitCode.failed
    }
    defer {
        _ = try? LocalCluster.down(directory: directory)
        if !keep { try? FileManager.default.removeItem(atPath: directory) }
    }
    let file = try ClusterFile.read(from: directory)
    let connector = try NodeClient.tlsConnector(caFile: file.caFile, certFile: file.certFile, keyFile: file.keyFile)
    let probe = HTTPClient(address: file.nodes[0].apiAddress!, connector: connector)
    guard let leaderAPI = (try probe.send("GET", "/v1/cluster").jsonObject?["leaderAPI"] as? String).flatMap(HostPort.init(parsing:)) else {
        throw CommandFailure("no leader known")
    }
    print("leader API \(leaderAPI); 256-byte commands, \(seconds) s per level")
    print("clients   commits/s   p50 ms   p99 ms   max ms   errors")
    for concurrency in [1, 16, 64] {
        let result = runLevel(concurrency: concurrency, seconds: seconds, address: leaderAPI, connector: connector)
        func ms(_ ns: UInt64) -> String { String(format: "%.2f", Double(ns) / 1e6) }
        let rate = Double(result.latenciesNs.count) / Double(seconds)
        print(String(format: "%7d   %9.0f", concurrency, rate) + "   \(ms(result.percentile(0.50)).padded(6))   \(ms(result.percentile(0.99)).padded(6))   \(ms(result.latenciesNs.max() ?? 0).padded(6))   \(result.errors)")
    }
    return ExitCode.ok
}

struct LevelResult {
    var latenciesNs: [UInt64]
    var errors: Int

    func percentile(_ fraction: Double) -> UInt64 {
        guard !latenciesNs.isEmpty else { return 0 }
        let sorted = latenciesNs.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
    }
}

func runLevel(concurrency: Int, seconds: Int, address: HostPort, connector: @escaping HTTPClient.Connector) -> LevelResult {
    let results = Mutex(LevelResult(latenciesNs: [], errors: 0))
    let done = DispatchGroup()
    let endNs = MonotonicClock.nowNs() + UInt64(seconds) * 1_000_000_000
    let value = [UInt8](repeating: UInt8(ascii: "x"), count: 256)
    for worker in 0..<concurrency {
        done.enter()
        let thread = Thread {
            let client = HTTPClient(address: address, connector: connector)
            var latencies: [UInt64] = []
            var errors = 0
            var sequence = 0
            while MonotonicClock.nowNs() < endNs {
                let start = MonotonicClock.nowNs()
                let ok = (try? client.send("PUT", "/v1/kv/w\(worker)-\(sequence % 1024)", body: value))?.status == 200
                if ok { latencies.append(MonotonicClock.nowNs() - start) } else { errors += 1 }
                sequence += 1
            }
            client.close()
            results.withLock {
                $0.latenciesNs += latencies
                $0.errors += errors
            }
            done.leave()
        }
        thread.start()
    }
    _ = done.wait(timeout: .now() + .seconds(seconds + 60))
    return results.withLock { $0 }
}

extension String {
    func padded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
