import Foundation
import Raft
import Storage

let benchStorageHelp = """
    Usage: lifeline bench storage [--db PATH] [--seconds S] [--entry-bytes N]
                                  [--print-acks]

    Measures the durable Raft log: SQLite in WAL mode with synchronous=FULL, one
    transaction (one fsync) per batch. For batches of 1, 16 and 256 entries it
    prints fsync'd transactions per second, entries per second and p50/p99 commit
    latency.

    With --print-acks it instead appends batches of 16 entries forever (until
    killed), printing 'ack N' after each batch is durable: the crash test kills
    it with SIGKILL and checks that every acknowledged entry survived. A database
    that already exists is continued from its last entry.

    Options:
      --db PATH         the database file (default: a new file in the temp dir)
      --seconds S       seconds per batch size (default 3)
      --entry-bytes N   payload of each entry (default 256)
      --print-acks      the crash-test writer described above

    Example:
      swift run -c release lifeline bench storage --seconds 3
    """

/// The payload the crash-test writer stores at `index`: the index, then a filler,
/// so that a reader can check every byte.
func storageTestPayload(index: UInt64, bytes: Int) -> [UInt8] {
    var payload = (0..<8).map { UInt8(truncatingIfNeeded: index >> (56 - 8 * UInt64($0))) }
    while payload.count < bytes { payload.append(UInt8(truncatingIfNeeded: index &+ UInt64(payload.count))) }
    return payload
}

@Sendable func benchStorage(_ arguments: [String]) throws -> Int32 {
    let options = try OptionParser(arguments, valued: ["db", "seconds", "entry-bytes"], flags: ["print-acks"])
    let seconds = try options.int("seconds", default: 3, range: 1...3600)
    let entryBytes = try options.int("entry-bytes", default: 256, range: 8...CodecLimits.entryBytesMax)
    let path = options.value("db") ?? NSTemporaryDirectory() + "lifeline-bench-\(getpid()).db"
    let storage: RaftStorage
    do {
        storage = try RaftStorage.open(path: path, clusterID: "bench", nodeID: NodeID("bench"), createIfMissing: true)
    } catch {
        throw CommandFailure(error.description)
    }
    var next = try nextIndex(storage)
    if options.has("print-acks") {
        while true {
            let batch = (0..<16).map { offset in
                Entry(term: 1, index: next + UInt64(offset), data: storageTestPayload(index: next + UInt64(offset), bytes: entryBytes))
            }
            try persist(storage, batch, commit: batch.last!.index)
            next += 16
            // Straight to the file descriptor: the ack leaves only after persist returned.
            let line = Array("ack \(next - 1)\n".utf8)
            _ = line.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        }
    }
    print("bench storage: \(path), \(entryBytes)-byte entries, WAL + synchronous=FULL")
    for batchSize in [1, 16, 256] {
        var latenciesUs: [UInt64] = []
        let start = monotonicNanoseconds()
        let deadline = start + UInt64(seconds) * 1_000_000_000
        let payload = [UInt8](repeating: 0x5A, count: entryBytes)
        while monotonicNanoseconds() < deadline {
            let batch = (0..<batchSize).map { Entry(term: 1, index: next + UInt64($0), data: payload) }
            let before = monotonicNanoseconds()
            try persist(storage, batch, commit: next)
            latenciesUs.append((monotonicNanoseconds() - before) / 1000)
            next += UInt64(batchSize)
        }
        let elapsed = Double(monotonicNanoseconds() - start) / 1e9
        latenciesUs.sort()
        let p50 = latenciesUs[latenciesUs.count / 2]
        let p99 = latenciesUs[min(latenciesUs.count - 1, latenciesUs.count * 99 / 100)]
        let transactionsPerSecond = Double(latenciesUs.count) / elapsed
        print("  batch \(String(batchSize).padding(toLength: 4, withPad: " ", startingAt: 0)) \(Int(transactionsPerSecond)) tx/s, \(Int(transactionsPerSecond * Double(batchSize))) entries/s, commit p50 \(p50) µs, p99 \(p99) µs")
    }
    if options.value("db") == nil {
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
    }
    return ExitCode.ok
}

private func nextIndex(_ storage: RaftStorage) throws -> UInt64 {
    do {
        let state = try storage.load()
        return state.snapshot.metadata.index + UInt64(state.entries.count) + 1
    } catch {
        throw CommandFailure(error.description)
    }
}

private func persist(_ storage: RaftStorage, _ entries: [Entry], commit: UInt64) throws {
    do {
        try storage.persist(snapshot: nil, entries: entries, hardState: HardState(term: 1, vote: nil, commit: commit))
    } catch {
        throw CommandFailure(error.description)
    }
}
