import Foundation
import Testing
import Raft
@testable import Storage

/// kill -9 during a write storm: every batch the writer acknowledged is on disk.
@Suite(.serialized) struct CrashTests {
    static var lifelineBinary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lifeline").path
    }

    @Test func everyAcknowledgedEntrySurvivesSIGKILL() throws {
        let binary = Self.lifelineBinary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the lifeline executable first (swift build): \(binary)")
        let path = RaftStorageTests.temporaryPath()
        var acknowledged: UInt64 = 0
        for round in 1...3 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["bench", "storage", "--db", path, "--print-acks", "--entry-bytes", "64"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(30)
            var buffer = ""
            var acksThisRound = 0
            while acksThisRound < 150, Date() < deadline {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { break }
                buffer += String(decoding: data, as: UTF8.self)
                while let newline = buffer.firstIndex(of: "\n") {
                    let line = buffer[..<newline]
                    buffer = String(buffer[buffer.index(after: newline)...])
                    if line.hasPrefix("ack "), let index = UInt64(line.dropFirst(4)) {
                        acknowledged = max(acknowledged, index)
                        acksThisRound += 1
                    }
                }
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(acksThisRound >= 150, "round \(round): the writer acknowledged only \(acksThisRound) batches")
            let state = try RaftStorage.open(path: path, clusterID: "bench", nodeID: NodeID("bench"), createIfMissing: false).load()
            let last = state.snapshot.metadata.index + UInt64(state.entries.count)
            #expect(last >= acknowledged, "round \(round): acknowledged \(acknowledged) but only \(last) survived")
            for entry in state.entries where entry.index <= acknowledged {
                #expect(entry.data == storageTestPayloadForTest(index: entry.index, bytes: 64), "entry \(entry.index) content changed")
            }
        }
    }
}

/// The writer's payload (the same rule as `storageTestPayload` in the CLI).
func storageTestPayloadForTest(index: UInt64, bytes: Int) -> [UInt8] {
    var payload = (0..<8).map { UInt8(truncatingIfNeeded: index >> (56 - 8 * UInt64($0))) }
    while payload.count < bytes { payload.append(UInt8(truncatingIfNeeded: index &+ UInt64(payload.count))) }
    return payload
}
