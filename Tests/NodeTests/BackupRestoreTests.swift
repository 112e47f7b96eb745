import Foundation
import Node
import Raft
import Testing

/// `lifeline backup` and `lifeline restore` (through `cluster up --restore`): a
/// new cluster carries on from a consistent copy of an old one; a damaged or
/// foreign file is refused and nothing is written.
@Suite(.serialized) struct BackupRestoreTests {
    @Test func aNewClusterRestoredFromABackupHasTheSameStateAndCommits() throws {
        let source = try TestCluster(nodes: 3, slot: 6)
        defer { source.down() }
        guard let leader = source.awaitLeader(among: ["a", "b", "c"]) else { return }
        #expect(source.put(through: leader, keys: 0..<25, prefix: "kept") == 25)
        let out = source.directory + "/backup.llbk"
        let (status, output) = TestCluster.run(["backup", "--cluster", source.directory, "--node", leader, "--out", out])
        try #require(status == 0, "\(output)")
        let image = try BackupImage(decoding: Array(try #require(FileManager.default.contents(atPath: out))))
        #expect(image.index >= 25)
        let again = TestCluster.run(["backup", "--cluster", source.directory, "--out", out])
        #expect(again.0 == 1 && again.1.contains("already exists"), "an existing backup must never be overwritten")

        // A damaged copy: one flipped byte in the middle. Restore refuses and writes nothing.
        var damaged = Array(try #require(FileManager.default.contents(atPath: out)))
        damaged[damaged.count / 2] ^= 0x40
        let damagedFile = source.directory + "/damaged.llbk"
        try Data(damaged).write(to: URL(fileURLWithPath: damagedFile))
        let config = source.file.nodes[0].config
        let dataDir = source.directory + "/restore-check"
        let configText = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "\"data/a\"", with: "\"restore-check\"")
        let otherConfig = source.directory + "/restore-check.json"
        try configText.write(toFile: otherConfig, atomically: true, encoding: .utf8)
        let refused = TestCluster.run(["restore", "--file", damagedFile, "--config", otherConfig])
        #expect(refused.0 == 1 && refused.1.contains("SHA-256"), "\(refused.1)")
        #expect(!FileManager.default.fileExists(atPath: dataDir + "/raft.db"), "a refused restore wrote a database")
        // Into a data directory that already holds state: refused, the database untouched.
        let liveConfig = source.file.nodes.first { $0.node == leader }!.config
        let busy = TestCluster.run(["restore", "--file", out, "--config", liveConfig])
        #expect(busy.0 == 1 && busy.1.contains("already holds state"), "\(busy.1)")

        let restored = try TestCluster(nodes: 3, slot: 7, extra: ["--restore", out])
        defer { restored.down() }
        guard let newLeader = restored.awaitLeader(among: ["a", "b", "c"]) else { return }
        #expect(restored.waitUntil(timeoutMs: 30_000) { restored.converged(["a", "b", "c"], atLeast: image.index) })
        // The leader of the new cluster writes on at once (its clock ticks), so compare
        // contents: every acknowledged write of the old cluster reads back from the new.
        let reader = try #require(restored.client(newLeader))
        for index in 0..<25 {
            let response = try reader.send("GET", "/v1/kv/kept-\(index)")
            #expect(response.status == 200 && response.body == Array("value-\(index)".utf8), "kept-\(index) missing after restore")
        }
        #expect(restored.put(through: newLeader, keys: 0..<5, prefix: "new") == 5)
        let applied = (restored.view(newLeader)?["appliedIndex"] as? NSNumber)?.uint64Value ?? 0
        #expect(restored.waitUntil(timeoutMs: 30_000) { restored.converged(["a", "b", "c"], atLeast: applied) })
    }

    /// The state digest changed (FNV-1a 64 before 2026-12-04, SHA-256 since); a
    /// backup written by an older build still restores, and a digest that matches
    /// neither is refused before anything is written.
    @Test func aBackupWithTheOlderStateDigestStillRestores() throws {
        var machine = KeyValueStateMachine()
        for index in 0..<10 {
            _ = machine.apply(index: UInt64(index + 1), command: KeyValueStateMachine.command(.put, key: "k\(index)", value: Array("v\(index)".utf8)))
        }
        let state = machine.snapshot()
        #expect(StateDigest.hex(of: state) != StateDigest.legacyHex(of: state))
        let directory = NSTemporaryDirectory() + "lifeline-legacy-backup-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func config(_ name: String) -> NodeConfig {
            let any = HostPort(host: "127.0.0.1", port: 0)
            return NodeConfig(node: NodeID("a"), site: SiteID("a"), clusterID: "restored", dataDir: directory + "/" + name,
                              peerListen: any, apiListen: any, peers: [], tls: TLSFiles(ca: "", cert: "", key: ""))
        }
        func image(digest: String) -> BackupImage {
            BackupImage(clusterID: "old", node: NodeID("a"), index: 10, term: 2, createdAtMs: 0, stateHash: digest,
                        snapshot: NodeSnapshotData(directory: MemberDirectory(), machine: state).encoded())
        }
        #expect(throws: BackupError.self) { try Backup.restore(image(digest: "0123456789abcdef"), into: config("wrong"), machine: KeyValueStateMachine()) }
        #expect(!FileManager.default.fileExists(atPath: directory + "/wrong/raft.db"), "a refused restore wrote a database")
        let legacy = try Backup.restore(image(digest: StateDigest.legacyHex(of: state)), into: config("legacy"), machine: KeyValueStateMachine())
        #expect(FileManager.default.fileExists(atPath: legacy))
        let current = try Backup.restore(image(digest: StateDigest.hex(of: state)), into: config("current"), machine: KeyValueStateMachine())
        #expect(FileManager.default.fileExists(atPath: current))
    }
}
