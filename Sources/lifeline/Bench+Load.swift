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
    /// CPU time of the server processes named to ``LoadGenerator/run`` during the run.
    var serverCPUNs: UInt64 = 0

    var commitsPerSecond: Double { elapsedNs == 0 ? 0 : Double(latenciesNs.count) * 1e9 / Double(elapsedNs) }
    /// The load generator's CPU as a share of one core.
    var generatorCores: Double { elapsedNs == 0 ? 0 : Double(generatorCPUNs) / Double(elapsedNs) }
    /// The servers' CPU as a share of one core (all of them together).
    var serverCores: Double { elapsedNs == 0 ? 0 : Double(serverCPUNs) / Double(elapsedNs) }

    /// `latenciesNs` must be sorted (``LoadGenerator/run`` sorts them).
    func percentile(_ fraction: Double) -> UInt64 {
        guard !latenciesNs.isEmpty else { return 0 }
        let rank = Int((Double(latenciesNs.count) * fraction).rounded(.up)) - 1
        return latenciesNs[min(latenciesNs.count - 1, max(0, rank))]
    }

    var maxNs: UInt64 { latenciesNs.last ?? 0 }
}

/// A closed-loop load generator: `concurrency` clients, each with one keep-alive
/// (TLS) connection, sending one prepared request and waiting for its answer.
///
/// The clients share a few threads (one per two cores, at least one), each
/// waiting on all of its clients' sockets at once (``Poller``): a thread per
/// client cost a poll and two context switches per request, and on this
/// 2-core machine made the generator a fifth of the machine at 9,000 writes/s
/// (Docs/performance.md). Latencies go to per-thread preallocated arrays,
/// merged and sorted once at the end (exact percentiles, no locks on the hot
/// path).
final class LoadGenerator: Sendable {
    let target: LoadTarget
    /// Set by a failover run just before the leader is killed (monotonic ns, 0 = not yet).
    let killedAtNs = Atomic<UInt64>(0)
    /// The first acknowledgement of a request sent after `killedAtNs` (0 = none yet).
    let firstAckAfterKillNs = Atomic<UInt64>(0)
    let stopRequested = Atomic<Bool>(false)
    /// Acknowledged writes so far (all clients).
    let acknowledged = Atomic<Int>(0)
    /// Writes sent or acknowledged (all clients): a client claims one before it
    /// sends and gives it back when the write fails, so a run with `totalWrites`
    /// makes exactly that many writes, not up to `concurrency - 1` more.
    let claimed = Atomic<Int>(0)

    static let errorBackoffNs: UInt64 = 5_000_000
    static let requestTimeoutNs: UInt64 = 15_000_000_000
    static let connectTimeoutMs: UInt64 = 2_000

    /// Threads that drive the clients.
    static var threads: Int { max(1, ProcessInfo.processInfo.activeProcessorCount / 2) }

    init(target: LoadTarget) {
        self.target = target
    }

    /// Runs until `seconds` pass, `stop()` is called, or `totalWrites` are acknowledged.
    ///
    /// Every client connects (TCP and TLS handshake) before the clock starts:
    /// a driver thread opens its clients' connections one after another, and
    /// with 256 clients on one thread (2 cores) the last handshake ended half a
    /// second after the first client's request was sent, which counted that
    /// wait as the request's latency and lost the first half second of
    /// throughput.
    /// Reconnections after an error (failover runs) happen on the clock.
    /// `serverPids` are the processes serving the target: their CPU time is
    /// measured over the same window.
    func run(concurrency: Int, seconds: Double, totalWrites: Int = .max, serverPids: [pid_t] = []) -> LoadResult {
        let collected = Mutex<(latencies: [[UInt64]], errors: Int)>(([], 0))
        let connected = DispatchGroup()
        let finished = DispatchGroup()
        let clockStarted = DispatchSemaphore(value: 0)
        let clock = Atomic<UInt64>(0)
        let threads = min(concurrency, LoadGenerator.threads)
        for thread in 0..<threads {
            connected.enter()
            finished.enter()
            let driver = Thread { [self] in
                let workers = Array(stride(from: thread, to: concurrency, by: threads))
                let (latencies, errors) = drive(workers: workers, totalWrites: totalWrites) {
                    connected.leave()
                    clockStarted.wait()
                    return clock.load(ordering: .acquiring)
                }
                collected.withLock {
                    $0.latencies.append(latencies)
                    $0.errors += errors
                }
                finished.leave()
            }
            driver.stackSize = 1 << 20
            driver.start()
        }
        // Bounded: a thread whose handshakes stall past this joins the run late.
        _ = connected.wait(timeout: .now() + .milliseconds(Int(LoadGenerator.connectTimeoutMs) * 4 + 10_000))
        let serverBefore = serverPids.map { processCPUNs(pid: $0) }
        let cpuBefore = processCPUNs()
        let startNs = MonotonicClock.nowNs()
        clock.store(startNs + UInt64(seconds * 1e9), ordering: .releasing)
        for _ in 0..<threads { clockStarted.signal() }
        _ = finished.wait(timeout: .now() + .milliseconds(Int(seconds * 1000) + Int(LoadGenerator.requestTimeoutNs / 1_000_000) + 30_000))
        let elapsed = MonotonicClock.nowNs() - startNs
        let cpu = processCPUNs() - cpuBefore
        let serverCPU = zip(serverPids, serverBefore).map { pid, before in
            let now = processCPUNs(pid: pid)
            return now >= before ? now - before : 0
        }.reduce(0, +)
        let (parts, errors) = collected.withLock { ($0.latencies, $0.errors) }
        var all: [UInt64] = []
        all.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for part in parts { all += part }
        all.sort()
        return LoadResult(latenciesNs: all, errors: errors, elapsedNs: elapsed, generatorCPUNs: cpu, serverCPUNs: serverCPU)
    }

    func stop() { stopRequested.store(true, ordering: .releasing) }

    /// One client: its connection, the answer it waits for, when it may try again.
    private struct Client {
        let worker: Int
        var endpoint: Int
        var prepared: [[UInt8]]
        var connection: (any Connection)?
        var parser = ResponseParser()
        var sequence = 0
        /// When the request in flight was sent; nil when none is.
        var sentAtNs: UInt64?
        /// No new request before this (after an error).
        var retryAtNs: UInt64 = 0
    }

    /// Connects `workers`' clients, then calls `startClock`, which returns once
    /// every thread is connected, with the run's end (monotonic ns); drives the
    /// clients on this thread until then and until every answer in flight came
    /// (or timed out).
    private func drive(workers: [Int], totalWrites: Int, startClock: () -> UInt64) -> ([UInt64], Int) {
        var latencies: [UInt64] = []
        latencies.reserveCapacity(1 << 18)
        var errors = 0
        let poller: Poller
        do {
            poller = try Poller()
        } catch {
            _ = startClock()
            return ([], workers.count)
        }
        var clients = workers.map { worker in
            Client(worker: worker, endpoint: worker % target.addresses.count,
                   prepared: (0..<target.preparedPerWorker).map { target.request(worker, $0) })
        }
        var tokens: [UInt64] = []
        var lastTimeoutScanNs: UInt64 = 0

        /// Drops the client's connection after an error; it reconnects (to the
        /// next endpoint) after the backoff.
        func fail(_ index: Int, now: UInt64) {
            errors += 1
            if totalWrites != .max && clients[index].sentAtNs != nil { claimed.wrappingSubtract(1, ordering: .relaxed) }
            clients[index].sentAtNs = nil
            if let connection = clients[index].connection {
                poller.forget(connection.descriptor)
                connection.close()
            }
            clients[index].connection = nil
            clients[index].endpoint = (clients[index].endpoint + 1) % target.addresses.count
            clients[index].retryAtNs = now + LoadGenerator.errorBackoffNs
        }

        /// Opens the client's connection; false (and the client backs off) when it fails.
        func connect(_ index: Int) -> Bool {
            do {
                let address = target.addresses[clients[index].endpoint]
                let connection = try target.connector(address, MonotonicClock.deadline(afterMs: LoadGenerator.connectTimeoutMs))
                try poller.watch(connection.descriptor, token: UInt64(index), oneShot: false)
                clients[index].connection = connection
                clients[index].parser = ResponseParser()
                return true
            } catch {
                fail(index, now: MonotonicClock.nowNs())
                return false
            }
        }

        /// Sends the client's next request, connecting first when needed.
        /// False when the run has made all its writes.
        func send(_ index: Int) -> Bool {
            if clients[index].connection == nil && !connect(index) { return true }
            if totalWrites != .max && claimed.wrappingAdd(1, ordering: .relaxed).newValue > totalWrites {
                claimed.wrappingSubtract(1, ordering: .relaxed)
                return false
            }
            let client = clients[index]
            let bytes = client.prepared.isEmpty ? target.request(client.worker, client.sequence) : client.prepared[client.sequence % client.prepared.count]
            clients[index].sequence += 1
            let start = MonotonicClock.nowNs()
            clients[index].sentAtNs = start
            do {
                try client.connection!.write(bytes, deadline: MonotonicClock.deadline(afterMs: LoadGenerator.requestTimeoutNs / 1_000_000))
            } catch {
                fail(index, now: MonotonicClock.nowNs())
            }
            return true
        }

        /// Reads what arrived for the client and takes its answer, if complete.
        func receive(_ index: Int) {
            guard let connection = clients[index].connection else { return }
            do {
                while true {
                    let bytes = try connection.readAvailable(maxBytes: 16 * 1024)
                    if bytes.isEmpty { break }
                    clients[index].parser.append(bytes)
                }
                guard let status = try clients[index].parser.next() else { return }
                let done = MonotonicClock.nowNs()
                guard let start = clients[index].sentAtNs else { throw ResponseParser.Malformed() }
                clients[index].sentAtNs = nil
                guard status >= 200 && status < 300 else {
                    errors += 1
                    if totalWrites != .max { claimed.wrappingSubtract(1, ordering: .relaxed) }
                    clients[index].retryAtNs = done + LoadGenerator.errorBackoffNs
                    return
                }
                latencies.append(done - start)
                let killed = killedAtNs.load(ordering: .acquiring)
                if killed != 0 && start >= killed {
                    _ = firstAckAfterKillNs.compareExchange(expected: 0, desired: done, ordering: .acquiringAndReleasing)
                }
                if acknowledged.wrappingAdd(1, ordering: .relaxed).newValue >= totalWrites { stop() }
            } catch {
                fail(index, now: MonotonicClock.nowNs())
            }
        }

        for index in clients.indices { _ = connect(index) }
        let endNs = startClock()
        for index in clients.indices { clients[index].retryAtNs = 0 }
        var exhausted = false
        while true {
            let now = MonotonicClock.nowNs()
            let sending = now < endNs && !exhausted && !stopRequested.load(ordering: .relaxed)
            var inFlight = 0
            var nextRetryNs = UInt64.max
            for index in clients.indices {
                if clients[index].sentAtNs != nil {
                    inFlight += 1
                    continue
                }
                guard sending else { continue }
                guard clients[index].retryAtNs <= now else {
                    nextRetryNs = min(nextRetryNs, clients[index].retryAtNs)
                    continue
                }
                if !send(index) {
                    exhausted = true
                    break
                }
                if clients[index].sentAtNs != nil { inFlight += 1 } else { nextRetryNs = min(nextRetryNs, clients[index].retryAtNs) }
            }
            if inFlight == 0 && (!sending || exhausted) { break }
            if now >= lastTimeoutScanNs + 100_000_000 {
                lastTimeoutScanNs = now
                for index in clients.indices {
                    if let sent = clients[index].sentAtNs, now >= sent + LoadGenerator.requestTimeoutNs { fail(index, now: now) }
                }
            }
            let waitMs = nextRetryNs == .max ? 100 : max(1, min(100, (nextRetryNs - min(nextRetryNs, now)) / 1_000_000))
            poller.wait(timeoutMs: Int32(waitMs), into: &tokens)
            for token in tokens { receive(Int(token)) }
        }
        for client in clients { client.connection?.close() }
        return (latencies, errors)
    }
}

/// Takes HTTP/1.1 responses apart as their bytes arrive: the status of each
/// complete one, its body skipped (Content-Length or chunked).
struct ResponseParser {
    private var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(16 * 1024) }

    struct Malformed: Error {}

    static let headBytesMax = 64 * 1024

    mutating func append(_ bytes: [UInt8]) { buffer += bytes }

    /// The status of the first response when all of it has arrived (and drops
    /// it); nil while it has not.
    mutating func next() throws -> Int? {
        guard let headEnd = Self.find([13, 10, 13, 10], in: buffer, from: 0).map({ $0 + 4 }) else {
            guard buffer.count < Self.headBytesMax else { throw Malformed() }
            return nil
        }
        // "HTTP/1.1 200 ..."
        guard headEnd > 12, buffer[8] == 32, buffer[9...11].allSatisfy({ $0 >= 48 && $0 <= 57 }) else { throw Malformed() }
        let status = (Int(buffer[9]) - 48) * 100 + (Int(buffer[10]) - 48) * 10 + (Int(buffer[11]) - 48)
        let end: Int
        if let length = headerValue("content-length", headEnd: headEnd) {
            guard let count = Int(String(decoding: length, as: UTF8.self)), count >= 0 else { throw Malformed() }
            end = headEnd + count
        } else if let encoding = headerValue("transfer-encoding", headEnd: headEnd),
                  String(decoding: encoding, as: UTF8.self).lowercased() == "chunked" {
            guard let chunkedEnd = try chunkedBodyEnd(from: headEnd) else { return nil }
            end = chunkedEnd
        } else {
            throw Malformed()
        }
        guard buffer.count >= end else { return nil }
        buffer.removeFirst(end)
        return status
    }

    /// Where the chunked body starting at `position` ends (after its trailers),
    /// or nil when it has not all arrived.
    private func chunkedBodyEnd(from start: Int) throws -> Int? {
        var position = start
        while true {
            guard let lineEnd = Self.find([13, 10], in: buffer, from: position) else {
                guard buffer.count - position < Self.headBytesMax else { throw Malformed() }
                return nil
            }
            let sizeText = String(decoding: buffer[position..<lineEnd], as: UTF8.self).prefix { $0.isHexDigit }
            guard let size = Int(sizeText, radix: 16) else { throw Malformed() }
            position = lineEnd + 2
            if size == 0 {
                // Trailers end with an empty line.
                while true {
                    guard let end = Self.find([13, 10], in: buffer, from: position) else { return nil }
                    let empty = end == position
                    position = end + 2
                    if empty { return position }
                }
            }
            position += size + 2
            guard buffer.count >= position else { return nil }
        }
    }

    /// The value of header `name` (lowercase) in the head ending at `headEnd`,
    /// without surrounding spaces.
    private func headerValue(_ name: String, headEnd: Int) -> ArraySlice<UInt8>? {
        let wanted = Array(name.utf8)
        var line = (Self.find([13, 10], in: buffer, from: 0) ?? headEnd) + 2
        while line < headEnd - 2 {
            let lineEnd = Self.find([13, 10], in: buffer, from: line) ?? headEnd
            if lineEnd - line > wanted.count, buffer[line + wanted.count] == 58,
               zip(buffer[line..<(line + wanted.count)], wanted).allSatisfy({ ($0 | 0x20) == $1 || $0 == $1 }) {
                var from = line + wanted.count + 1
                var to = lineEnd
                while from < to && buffer[from] == 32 { from += 1 }
                while to > from && buffer[to - 1] == 32 { to -= 1 }
                return buffer[from..<to]
            }
            line = lineEnd + 2
        }
        return nil
    }

    private static func find(_ pattern: [UInt8], in bytes: [UInt8], from: Int) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        var index = from
        while index + pattern.count <= bytes.count {
            if bytes[index] == pattern[0] && bytes[index..<(index + pattern.count)].elementsEqual(pattern) { return index }
            index += 1
        }
        return nil
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
func formatLevel(_ concurrency: Int, _ result: LoadResult) -> String {
    func ms(_ ns: UInt64) -> String { String(format: "%.2f", Double(ns) / 1e6) }
    return String(format: "%7d   %9.0f", concurrency, result.commitsPerSecond)
        + "   \(ms(result.percentile(0.50)).padded(7))   \(ms(result.percentile(0.99)).padded(7))   \(ms(result.maxNs).padded(8))"
        + "   \(String(result.errors).padded(6))   \(String(format: "%.2f", result.generatorCores).padded(7))   \(String(format: "%.2f", result.serverCores).padded(7))"
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
