#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Node
import Synchronization
import Transport

/// What the load generator drives: where to connect, how to connect, and the
/// exact bytes of each HTTP request (built before the clock starts).
struct LoadTarget: Sendable {
    /// Endpoints; worker `i` starts on `addresses[i % count]` and moves to the
    /// next one when its connection fails (failover runs).
    var addresses: [HostPort]
    var connector: HTTPClient.Connector
    /// The whole request (head and body) for worker `worker`'s `sequence`-th write.
    var request: @Sendable (_ worker: Int, _ sequence: Int) -> [UInt8]
    /// Requests prebuilt per worker and reused round-robin; 0 builds each request
    /// when it is sent (distinct keys, for the catch-up run).
    var preparedPerWorker: Int = 64
}

/// One load run's figures.
struct LoadResult {
    var latenciesNs: [UInt64]
    var errors: Int
    var elapsedNs: UInt64
    /// CPU time (user + system) of this process, i.e. the load generator, during the run.
    var generatorCPUNs: UInt64

    var commitsPerSecond: Double { elapsedNs == 0 ? 0 : Double(latenciesNs.count) * 1e9 / Double(elapsedNs) }
    /// The load generator's CPU as a share of one core.
    var generatorCores: Double { elapsedNs == 0 ? 0 : Double(generatorCPUNs) / Double(elapsedNs) }

    /// `latenciesNs` must be sorted (``LoadGenerator/run`` sorts them).
    func percentile(_ fraction: Double) -> UInt64 {
        guard !latenciesNs.isEmpty else { return 0 }
        let rank = Int((Double(latenciesNs.count) * fraction).rounded(.up)) - 1
        return latenciesNs[min(latenciesNs.count - 1, max(0, rank))]
    }

    var maxNs: UInt64 { latenciesNs.last ?? 0 }
}

/// A closed-loop load generator: `concurrency` threads, each with one keep-alive
/// (TLS) connection, sending one prepared request and waiting for its answer.
/// Latencies go to per-thread preallocated arrays, merged and sorted once at the
/// end (exact percentiles, no locks on the hot path).
final class LoadGenerator: Sendable {
    let target: LoadTarget
    /// Set by a failover run just before the leader is killed (monotonic ns, 0 = not yet).
    let killedAtNs = Atomic<UInt64>(0)
    /// The first acknowledgement of a request sent after `killedAtNs` (0 = none yet).
    let firstAckAfterKillNs = Atomic<UInt64>(0)
    let stopRequested = Atomic<Bool>(false)
    /// Acknowledged writes so far (all workers).
    let acknowledged = Atomic<Int>(0)
    /// Writes sent or acknowledged (all workers): a worker claims one before it
    /// sends and gives it back when the write fails, so a run with `totalWrites`
    /// makes exactly that many writes, not up to `concurrency - 1` more.
    let claimed = Atomic<Int>(0)

    static let errorBackoffMs: UInt64 = 5
    static let requestTimeoutMs = 15_000

    init(target: LoadTarget) {
        self.target = target
    }

    /// Runs until `seconds` pass, `stop()` is called, or `totalWrites` are acknowledged.
    func run(concurrency: Int, seconds: Double, totalWrites: Int = .max) -> LoadResult {
        let collected = Mutex<(latencies: [[UInt64]], errors: Int)>(([], 0))
        let group = DispatchGroup()
        let startNs = MonotonicClock.nowNs()
        let endNs = startNs + UInt64(seconds * 1e9)
        let cpuBefore = processCPUNs()
        for worker in 0..<concurrency {
            group.enter()
            let thread = Thread { [self] in
                let (latencies, errors) = work(worker: worker, endNs: endNs, totalWrites: totalWrites)
                collected.withLock {
                    $0.latencies.append(latencies)
                    $0.errors += errors
                }
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        _ = group.wait(timeout: .now() + .milliseconds(Int(seconds * 1000) + LoadGenerator.requestTimeoutMs + 30_000))
        let elapsed = MonotonicClock.nowNs() - startNs
        let cpu = processCPUNs() - cpuBefore
        let (parts, errors) = collected.withLock { ($0.latencies, $0.errors) }
        var all: [UInt64] = []
        all.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for part in parts { all += part }
        all.sort()
        return LoadResult(latenciesNs: all, errors: errors, elapsedNs: elapsed, generatorCPUNs: cpu)
    }

    func stop() { stopRequested.store(true, ordering: .releasing) }

    private func work(worker: Int, endNs: UInt64, totalWrites: Int) -> ([UInt64], Int) {
        let prepared = (0..<target.preparedPerWorker).map { target.request(worker, $0) }
        var latencies: [UInt64] = []
        latencies.reserveCapacity(1 << 16)
        var errors = 0
        var sequence = 0
        var endpoint = worker % target.addresses.count
        var connection: (any Connection)?
        var reader = ResponseReader()
        defer { connection?.close() }
        while !stopRequested.load(ordering: .relaxed) {
            let now = MonotonicClock.nowNs()
            if now >= endNs { break }
            if connection == nil {
                do {
                    connection = try target.connector(target.addresses[endpoint], MonotonicClock.deadline(afterMs: 2_000))
                    reader = ResponseReader()
                } catch {
                    errors += 1
                    endpoint = (endpoint + 1) % target.addresses.count
                    ProcessControl.pause(ms: LoadGenerator.errorBackoffMs)
                    continue
                }
            }
            if totalWrites != .max && claimed.wrappingAdd(1, ordering: .relaxed).newValue > totalWrites {
                claimed.wrappingSubtract(1, ordering: .relaxed)
                break
            }
            let bytes = prepared.isEmpty ? target.request(worker, sequence) : prepared[sequence % prepared.count]
            sequence += 1
            let start = MonotonicClock.nowNs()
            var ok = false
            do {
                let deadline = MonotonicClock.deadline(afterMs: UInt64(LoadGenerator.requestTimeoutMs))
                try connection!.write(bytes, deadline: deadline)
                let status = try reader.readStatus(connection!, deadline: deadline)
                ok = status >= 200 && status < 300
            } catch {
                connection?.close()
                connection = nil
                endpoint = (endpoint + 1) % target.addresses.count
            }
            let done = MonotonicClock.nowNs()
            if ok {
                latencies.append(done - start)
                let killed = killedAtNs.load(ordering: .acquiring)
                if killed != 0 && start >= killed {
                    _ = firstAckAfterKillNs.compareExchange(expected: 0, desired: done, ordering: .acquiringAndReleasing)
                }
                if acknowledged.wrappingAdd(1, ordering: .relaxed).newValue >= totalWrites { stop() }
            } else {
                errors += 1
                if totalWrites != .max { claimed.wrappingSubtract(1, ordering: .relaxed) }
                ProcessControl.pause(ms: LoadGenerator.errorBackoffMs)
            }
        }
        return (latencies, errors)
    }
}

/// Reads one HTTP/1.1 response and returns its status, skipping the body
/// (Content-Length or chunked). Keeps bytes of the next response, if any.
struct ResponseReader {
    private var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(16 * 1024) }

    struct Malformed: Error {}

    mutating func readStatus(_ connection: any Connection, deadline: Deadline) throws -> Int {
        var headEnd = -1
        var scanFrom = 0
        while true {
            if buffer.count >= 4 {
                var index = max(3, scanFrom)
                while index < buffer.count {
                    if buffer[index] == 10 && buffer[index - 1] == 13 && buffer[index - 2] == 10 && buffer[index - 3] == 13 {
                        headEnd = index + 1
                        break
                    }
                    index += 1
                }
                if headEnd > 0 { break }
                scanFrom = buffer.count
            }
            guard buffer.count < 64 * 1024 else { throw Malformed() }
            buffer += try connection.read(maxBytes: 16 * 1024, deadline: deadline)
        }
        // "HTTP/1.1 200 ..."
        guard headEnd > 12, buffer[8] == 32 else { throw Malformed() }
        let status = (Int(buffer[9]) - 48) * 100 + (Int(buffer[10]) - 48) * 10 + (Int(buffer[11]) - 48)
        let head = String(decoding: buffer[0..<headEnd], as: UTF8.self).lowercased()
        if let range = head.range(of: "\r\ncontent-length:") {
            let digits = head[range.upperBound...].drop { $0 == " " }.prefix { $0.isNumber }
            guard let length = Int(digits) else { throw Malformed() }
            while buffer.count < headEnd + length {
                buffer += try connection.read(maxBytes: 16 * 1024, deadline: deadline)
            }
            buffer.removeFirst(headEnd + length)
        } else if head.contains("\r\ntransfer-encoding: chunked") {
            // Skip chunks until the terminating zero-length chunk.
            var position = headEnd
            while true {
                guard let lineEnd = try lineEnd(from: position, connection, deadline) else { throw Malformed() }
                let sizeText = String(decoding: buffer[position..<lineEnd], as: UTF8.self).prefix { $0.isHexDigit }
                guard let size = Int(sizeText, radix: 16) else { throw Malformed() }
                position = lineEnd + 2
                if size == 0 {
                    // Trailers end with an empty line.
                    while true {
                        guard let end = try self.lineEnd(from: position, connection, deadline) else { throw Malformed() }
                        let empty = end == position
                        position = end + 2
                        if empty { break }
                    }
                    break
                }
                while buffer.count < position + size + 2 {
                    buffer += try connection.read(maxBytes: 16 * 1024, deadline: deadline)
                }
                position += size + 2
            }
            buffer.removeFirst(position)
        } else {
            throw Malformed()
        }
        return status
    }

    /// Index of the "\r\n" at or after `from`, reading more as needed.
    private mutating func lineEnd(from: Int, _ connection: any Connection, _ deadline: Deadline) throws -> Int? {
        var index = from
        while true {
            while index + 1 < buffer.count {
                if buffer[index] == 13 && buffer[index + 1] == 10 { return index }
                index += 1
            }
            guard buffer.count - from < 64 * 1024 else { return nil }
            buffer += try connection.read(maxBytes: 16 * 1024, deadline: deadline)
        }
    }
}

/// User + system CPU time of this process in nanoseconds.
func processCPUNs() -> UInt64 {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func ns(_ time: timeval) -> UInt64 { UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_usec) * 1_000 }
    return ns(usage.ru_utime) + ns(usage.ru_stime)
}

/// User + system CPU time of another process (from /proc/PID/stat), nanoseconds.
func processCPUNs(pid: pid_t) -> UInt64 {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
          let text = String(data: data, encoding: .utf8),
          let close = text.lastIndex(of: ")")
    else { return 0 }
    // Fields after ")": state(3) ... utime(14) stime(15), i.e. offsets 11 and 12.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return 0 }
    let ticks = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
    return (user + system) * (1_000_000_000 / ticks)
}

/// Peak resident set size (VmHWM) of a process in KiB.
func peakResidentKiB(pid: pid_t) -> Int? { ProcessStatus.kibibytes("VmHWM", pid: pid) }

/// Current resident set size (VmRSS) of a process in KiB.
func residentKiB(pid: pid_t) -> Int? { ProcessStatus.kibibytes("VmRSS", pid: pid) }

/// Builds raw HTTP/1.1 request bytes.
func httpRequest(_ method: String, _ path: String, host: String, body: [UInt8], contentType: String = "application/json",
                 headers: [(String, String)] = []) -> [UInt8] {
    var head = "\(method) \(path) HTTP/1.1\r\nhost: \(host)\r\ncontent-length: \(body.count)\r\n"
    for (name, value) in headers { head += "\(name): \(value)\r\n" }
    if !body.isEmpty { head += "content-type: \(contentType)\r\n" }
    head += "\r\n"
    return Array(head.utf8) + body
}

/// One formatted line of a load run.
func formatLevel(_ concurrency: Int, _ result: LoadResult, serverCores: Double) -> String {
    func ms(_ ns: UInt64) -> String { String(format: "%.2f", Double(ns) / 1e6) }
    return String(format: "%7d   %9.0f", concurrency, result.commitsPerSecond)
        + "   \(ms(result.percentile(0.50)).padded(7))   \(ms(result.percentile(0.99)).padded(7))   \(ms(result.maxNs).padded(8))"
        + "   \(String(result.errors).padded(6))   \(String(format: "%.2f", result.generatorCores).padded(7))   \(String(format: "%.2f", serverCores).padded(7))"
}

let levelHeader = "clients   commits/s    p50 ms    p99 ms     max ms   errors   gen CPU   srv CPU"

extension String {
    func padded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

/// Prints a line and flushes at once, so progress shows even through a pipe or file.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

/// Collects a stopped child's exit status, waiting up to `timeoutMs`: a
/// multi-threaded child shows as a zombie before waitpid can collect it.
func reapFully(_ pid: pid_t, timeoutMs: UInt64 = 2_000) {
    guard pid > 0 else { return }
    let deadline = MonotonicClock.deadline(afterMs: timeoutMs)
    var status: Int32 = 0
    while MonotonicClock.now() < deadline {
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid || result == -1 { return }
        ProcessControl.pause(ms: 5)
    }
}
