import Foundation
import ContactCenter
@testable import Node
import Testing
import Vault

/// The replicated application as every node applies it: deterministic, strict
/// about its input, and snapshot-exact.
@Suite struct LifelineStateMachineTests {
    typealias Machine = LifelineStateMachine

    static func command(_ op: String, at: UInt64, _ fields: [String: Any] = [:]) -> [UInt8] {
        Machine().stamped(Machine.contactCommand(op, fields), atMs: at)
    }

    /// A small contact center: two sites, a queue, two agents, a call.
    static let script: [[UInt8]] = [
        command("addSite", at: 1_000, ["site": "boston"]),
        command("addSite", at: 1_000, ["site": "denver"]),
        command("defineQueue", at: 1_001, ["queue": "scheduling", "channels": ["voice", "chat"], "skills": ["spanish"]]),
        command("registerAgent", at: 1_002, ["agent": "alice", "site": "boston", "skills": ["spanish": 7]]),
        command("registerAgent", at: 1_002, ["agent": "dan", "site": "denver", "skills": ["spanish": 3]]),
        command("presence", at: 1_003, ["agent": "alice", "presence": "available"]),
        command("presence", at: 1_003, ["agent": "dan", "presence": "available"]),
        command("enqueue", at: 1_004, ["queue": "scheduling", "channel": "voice", "callType": "scheduling", "patient": "ref-1", "site": "boston"]),
        Machine.keyValueCommand(KeyValueStateMachine.command(.put, key: "k", value: [1, 2, 3])),
        command("tick", at: 2_000),
    ]

    static func run(_ commands: [[UInt8]]) -> (Machine, [[String: Any]]) {
        var machine = Machine()
        var results: [[String: Any]] = []
        for (offset, command) in commands.enumerated() {
            let bytes = machine.apply(index: UInt64(offset + 1), command: command)
            results.append((try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:])
        }
        return (machine, results)
    }

    @Test func theSameCommandsGiveTheSameStateAndIds() throws {
        let (first, results) = Self.run(Self.script)
        let (second, _) = Self.run(Self.script)
        #expect(first.stateHash == second.stateHash)
        #expect(results.allSatisfy { $0["ok"] as? Bool != false }, "\(results)")
        #expect(results[7]["task"] as? Int == 1)
        // The call at boston goes to alice at boston (site preference, higher proficiency).
        let offer = try #require(results[7]["offer"] as? [String: Any])
        #expect(offer["agent"] as? String == "alice")
        #expect(first.names.site("boston") != nil && first.names.agent("dan") != nil)
        #expect(first.keyValue.values["k"] == [1, 2, 3])
        #expect(first.clockMs == 2_000)
    }

    @Test func aSnapshotRestoresTheExactStateAndItsFuture() throws {
        let (original, _) = Self.run(Array(Self.script.prefix(8)))
        var restored = Machine()
        try restored.restore(original.snapshot())
        #expect(restored.stateHash == original.stateHash)
        #expect(restored.snapshot() == original.snapshot())
        var continued = original
        let next = Self.command("enqueue", at: 3_000, ["queue": "scheduling", "channel": "chat", "callType": "general", "patient": "ref-2", "site": "denver"])
        let answer = continued.apply(index: 9, command: next)
        #expect(answer == restored.apply(index: 9, command: next))
        #expect(String(decoding: answer, as: UTF8.self).contains("\"ok\":true"))
        #expect(continued.stateHash == restored.stateHash)
    }

    @Test func badCommandsAreRefusedAndChangeNothing() {
        var (machine, _) = Self.run(Self.script)
        let before = machine.stateHash
        let bad: [[UInt8]] = [
            [],
            [9, 1, 2],
            [2] + Array("not json".utf8),
            [2] + Array("{\"v\":2,\"op\":\"tick\",\"at\":1}".utf8),
            Self.command("nonsense", at: 5_000),
            Self.command("enqueue", at: 5_000, ["queue": "nowhere", "channel": "voice", "patient": "ref", "site": "boston"]),
            Self.command("enqueue", at: 5_000, ["queue": "scheduling", "channel": "fax", "patient": "ref", "site": "boston"]),
            Self.command("enqueue", at: 5_000, ["queue": "scheduling", "channel": "voice", "patient": "has space", "site": "boston"]),
            Self.command("registerAgent", at: 5_000, ["agent": "zoe", "site": "atlantis"]),
            Self.command("accept", at: 5_000, ["task": 1, "agent": "dan", "token": 1]),
            Self.command("accept", at: 5_000, ["task": "1", "agent": "alice", "token": 1]),
            Self.command("presence", at: 5_000, ["agent": "alice", "presence": true]),
        ]
        for (offset, command) in bad.enumerated() {
            let result = (try? JSONSerialization.jsonObject(with: Data(machine.apply(index: UInt64(100 + offset), command: command)))) as? [String: Any]
            #expect(result?["ok"] as? Bool == false, "command \(offset) was not refused: \(String(describing: result))")
            #expect((result?["error"] as? [String: Any])?["code"] is String)
        }
        #expect(machine.stateHash == before, "a refused command changed the state")
        #expect(machine.names.agent("zoe") == nil, "a refused registration kept its name")
    }

    /// A supervisor's `scopeSite` narrows a command to what is at that site, in
    /// apply: a refusal is `forbidden` and changes nothing (its name, time and
    /// all); the same command for their own site applies.
    @Test func aSupervisorsSiteScopeIsCheckedInApply() {
        var (machine, _) = Self.run(Self.script)
        let before = machine.stateHash
        let denver = ["scopeSite": "denver"]
        let refused: [[UInt8]] = [
            Self.command("registerAgent", at: 5_000, ["agent": "zoe", "site": "boston"].merging(denver) { $1 }),
            Self.command("registerAgent", at: 5_000, ["agent": "alice", "site": "denver"].merging(denver) { $1 }),
            Self.command("presence", at: 5_000, ["agent": "alice", "presence": "offline"].merging(denver) { $1 }),
            Self.command("abandon", at: 5_000, ["task": 1, "scopeSite": "denver"]),
            Self.command("callback", at: 5_000, ["task": 1, "scopeSite": "denver"]),
            Self.command("wrapUp", at: 5_000, ["task": 1, "agent": "alice", "token": 1, "scopeSite": "denver"]),
            Self.command("drain", at: 5_000, ["site": "boston", "scopeSite": "denver"]),
        ]
        for (offset, command) in refused.enumerated() {
            let result = (try? JSONSerialization.jsonObject(with: Data(machine.apply(index: UInt64(100 + offset), command: command)))) as? [String: Any]
            #expect((result?["error"] as? [String: Any])?["code"] as? String == "forbidden", "command \(offset): \(String(describing: result))")
        }
        #expect(machine.stateHash == before, "a refused command changed the state")
        #expect(machine.names.agent("zoe") == nil)
        let allowed = machine.apply(index: 200, command: Self.command("presence", at: 5_000, ["agent": "dan", "presence": "offline", "scopeSite": "denver"]))
        #expect(String(decoding: allowed, as: UTF8.self).contains("\"ok\":true"))
    }

    /// An agent or nurse abandons or parks only a task offered or assigned to them;
    /// anyone else's is refused in apply and nothing changes.
    @Test func anAgentEndsOrParksOnlyTheirOwnTask() {
        var (machine, _) = Self.run(Self.script)
        let before = machine.stateHash
        let refused = [
            Self.command("abandon", at: 5_000, ["task": 1, "scopeAgent": "nobody"]),
            Self.command("callback", at: 5_000, ["task": 1, "scopeAgent": "nobody"]),
        ]
        for (offset, command) in refused.enumerated() {
            let result = (try? JSONSerialization.jsonObject(with: Data(machine.apply(index: UInt64(100 + offset), command: command)))) as? [String: Any]
            #expect((result?["error"] as? [String: Any])?["code"] as? String == "forbidden", "command \(offset): \(String(describing: result))")
        }
        #expect(machine.stateHash == before, "a refused command changed the state")
        // Its holder (if the script's task 1 has one) may; without a scope anyone may, as before.
        if let holder = machine.center.task(ContactCenter.TaskID(1))?.agent.map({ machine.names.name(of: $0) }) {
            let own = machine.apply(index: 200, command: Self.command("callback", at: 5_000, ["task": 1, "scopeAgent": holder]))
            #expect(!String(decoding: own, as: UTF8.self).contains("forbidden"))
        }
    }

    @Test func timeNeverGoesBackwards() {
        var (machine, _) = Self.run(Self.script)
        let result = machine.apply(index: 50, command: Self.command("enqueue", at: 10, ["queue": "scheduling", "channel": "chat", "callType": "billing", "patient": "ref-9", "site": "denver"]))
        #expect(machine.clockMs == 2_000)
        let task = machine.center.allTasks.last
        #expect(task?.id.rawValue == 2, "\(String(decoding: result, as: UTF8.self))")
        #expect(task.map { $0.createdAt >= 2_000 } == true, "a command stamped in the past was applied in the past")
    }

    @Test func siteCommandsFollowReachabilityButLeaveDrainedSitesAlone() {
        var (machine, _) = Self.run(Self.script)
        func ops(_ commands: [[UInt8]]) -> [String] {
            commands.compactMap { command in
                let object = (try? JSONSerialization.jsonObject(with: Data(command.dropFirst()))) as? [String: Any]
                return (object?["op"] as? String).map { "\($0) \(object?["site"] as? String ?? "")" }
            }
        }
        #expect(ops(machine.siteCommands(known: ["boston", "denver", "atlanta"], reachable: ["boston", "denver", "atlanta"])) == ["addSite atlanta"])
        #expect(ops(machine.siteCommands(known: ["boston", "denver"], reachable: ["boston"])) == ["siteDown denver"])
        _ = machine.apply(index: 60, command: Self.command("siteDown", at: 3_000, ["site": "denver"]))
        #expect(ops(machine.siteCommands(known: ["boston", "denver"], reachable: ["boston", "denver"])) == ["siteUp denver"])
        _ = machine.apply(index: 61, command: Self.command("drain", at: 3_001, ["site": "boston"]))
        #expect(machine.center.isSiteUp(machine.names.site("boston")!) == false)
        #expect(ops(machine.siteCommands(known: ["boston", "denver"], reachable: ["boston"])) == [], "a drained site was brought back or a down site proposed twice")
        _ = machine.apply(index: 62, command: Self.command("resume", at: 3_002, ["site": "boston"]))
        #expect(machine.center.isSiteUp(machine.names.site("boston")!) == true)
    }

    @Test func theLeaderTicksOnlyWhenATimerOrANewWindowIsDue() throws {
        #expect(Machine().periodicCommand(nowMs: 5_000) == nil, "an empty center needs no clock")
        let (machine, results) = Self.run(Self.script)
        let offer = try #require(results[7]["offer"] as? [String: Any])
        let expiry = try #require((offer["expiresAt"] as? NSNumber)?.uint64Value)
        #expect(machine.periodicCommand(nowMs: 2_500) == nil, "an idle center ticked")
        #expect(machine.periodicCommand(nowMs: expiry) != nil, "the offer's expiry did not tick")
        #expect(machine.periodicCommand(nowMs: 900_000 + 1) != nil, "a new KPI window did not tick")
    }

    @Test func sealedRecordsRevocationsVerificationsAndShreddingLeaveAnAuditTrail() throws {
        let ring = try KeyRing.generate(clusterID: "test", now: Date())
        var (machine, _) = Self.run(Self.script)
        let record = try machine.security.keys.encrypt(fields: ["name": Array("Jane Roe".utf8)], patient: Vault.PatientID("ref-7"), ring: ring)
        let sealed = Base64.encode(Array(try JSONEncoder().encode(record)), urlSafe: false)
        let enqueue = Self.command("enqueue", at: 3_000, ["queue": "scheduling", "channel": "voice", "callType": "general",
                                                          "patient": "ref-7", "site": "boston", "record": sealed, "actor": "ivr", "role": "agent"])
        let answer = String(decoding: machine.apply(index: 20, command: enqueue), as: UTF8.self)
        #expect(answer.contains("\"ok\":true"), "\(answer)")
        #expect(try machine.security.readRecord("ref-7", ring: ring) == ["name": "Jane Roe"])
        let other = try KeyRing.generate(clusterID: "test", now: Date())
        #expect(throws: VaultError.self) { _ = try machine.security.readRecord("ref-7", ring: other) }

        func security(_ op: String, _ fields: [String: Any]) -> String {
            let command = Machine().stamped(Machine.securityCommand(op, actor: "sam", role: .supervisor, fields), atMs: 4_000)
            return String(decoding: machine.apply(index: 30, command: command), as: UTF8.self)
        }
        #expect(security("verify", ["task": 999, "method": "dob"]).contains("unknown_task"))
        #expect(security("verify", ["task": 2, "method": "dob+address"]).contains("\"ok\":true"))
        #expect(machine.security.verification(of: 2) == "dob+address")
        #expect(security("revoke", ["tokenID": "abc", "expiresAt": 9_999_999]).contains("\"ok\":true"))
        #expect(machine.security.revokedIDs == ["abc"])
        // A reason over the limit is refused before anything changes: the key is
        // not destroyed and no audit event is appended.
        let before = machine.stateHash
        #expect(security("shred", ["patient": "ref-7", "reason": String(repeating: "é", count: 129)]).contains("invalid_request"))
        #expect(machine.stateHash == before)
        #expect(try machine.security.readRecord("ref-7", ring: ring) == ["name": "Jane Roe"])
        #expect(Machine.clamped(String(repeating: "é", count: 200)) == String(repeating: "é", count: 128))
        #expect(security("shred", ["patient": "ref-7", "reason": "erasure request"]).contains("\"ok\":true"))
        #expect(throws: VaultError.self) { _ = try machine.security.readRecord("ref-7", ring: ring) }

        let actions = machine.security.events.map(\.action)
        #expect(actions == ["phi.write", "identity.verify", "token.revoke", "phi.shred"])
        #expect((try? AuditChain.verify(machine.security.events).get()) != nil, "the trail does not verify")
        var reordered = machine.security.events
        reordered.swapAt(1, 2)
        #expect((try? AuditChain.verify(reordered).get()) == nil, "a reordered trail verified")
        var restored = Machine()
        try restored.restore(machine.snapshot())
        #expect(restored.security == machine.security && restored.stateHash == machine.stateHash)
    }

    /// Archiving drops the exported head of the trail and keeps its last hash as
    /// the anchor: the rest verifies from it, the archive and the rest verify as
    /// one chain, a snapshot keeps the anchor; a wrong hash, an archived or an
    /// unknown sequence is refused and changes nothing.
    /// The record is stored in place and undone when the enqueue it travels with is
    /// rejected: the state (hash, keys, records, audit head) is as if it never came.
    @Test func aRecordWhoseEnqueueIsRejectedLeavesNoTrace() throws {
        let ring = try KeyRing.generate(clusterID: "test", now: Date())
        var (machine, _) = Self.run(Self.script)
        let record = try machine.security.keys.encrypt(fields: ["name": Array("Jane Roe".utf8)], patient: Vault.PatientID("ref-8"), ring: ring)
        let sealed = Base64.encode(Array(try JSONEncoder().encode(record)), urlSafe: false)
        func enqueue(_ channel: String) -> [UInt8] {
            Self.command("enqueue", at: 3_000, ["queue": "scheduling", "channel": channel, "callType": "general",
                                                "patient": "ref-8", "site": "boston", "record": sealed, "actor": "ivr", "role": "agent"])
        }
        let before = machine.stateHash
        let securityBefore = machine.security
        // The core refuses it (scheduling takes voice and chat), after the record was stored.
        let refused = String(decoding: machine.apply(index: 20, command: enqueue("email")), as: UTF8.self)
        #expect(refused.contains("channel"), "\(refused)")
        #expect(machine.stateHash == before, "a rejected enqueue changed the state")
        #expect(machine.security == securityBefore, "a rejected enqueue left its record, key or audit event behind")
        #expect(throws: VaultError.self) { _ = try machine.security.readRecord("ref-8", ring: ring) }
        // The same record on a channel the queue takes applies, its audit event after the old head.
        let applied = String(decoding: machine.apply(index: 21, command: enqueue("voice")), as: UTF8.self)
        #expect(applied.contains("\"ok\":true"), "\(applied)")
        #expect(try machine.security.readRecord("ref-8", ring: ring) == ["name": "Jane Roe"])
        #expect(machine.security.events.count == securityBefore.events.count + 1)
        if case .failure(let broken) = AuditChain.verify(machine.security.events, expectedHead: machine.security.lastHash) {
            Issue.record("the audit chain broke: \(broken)")
        }
    }

    @Test func archivingTheAuditTrailKeepsAnAnchoredHeadThatVerifies() throws {
        var (machine, _) = Self.run(Self.script)
        let untouched = machine.stateHash
        var restoredBefore = Machine()
        try restoredBefore.restore(machine.snapshot())
        #expect(restoredBefore.stateHash == untouched, "a state that never archived changed its encoding")
        func security(_ op: String, _ fields: [String: Any], index: UInt64) -> String {
            let command = Machine().stamped(Machine.securityCommand(op, actor: "ada", role: .auditor, fields), atMs: 4_000)
            return String(decoding: machine.apply(index: index, command: command), as: UTF8.self)
        }
        for number in 0..<5 {
            #expect(security("audit", ["action": "api.denied", "resources": ["r\(number)"], "outcome": "denied"], index: 40 + UInt64(number)).contains("\"ok\":true"))
        }
        let all = machine.security.events
        #expect(all.map(\.sequence) == [1, 2, 3, 4, 5])
        let before = machine.stateHash
        for (fields, expected) in [
            (["through": 3, "hash": Hex.encode(all[3].hash)], "another hash"),
            (["through": 9, "hash": Hex.encode(all[3].hash)], "no audit event"),
            (["through": 3, "hash": "zz"], "invalid_request"),
            (["through": 3], "invalid_request"),
        ] as [([String: Any], String)] {
            let answer = security("archive", fields, index: 50)
            #expect(answer.contains(expected), "\(fields): \(answer)")
        }
        #expect(machine.stateHash == before, "a refused archive changed the state")
        #expect(security("archive", ["through": 3, "hash": Hex.encode(all[2].hash)], index: 51).contains("\"ok\":true"))
        #expect(machine.security.events.map(\.sequence) == [4, 5, 6])
        #expect(machine.security.events.last?.action == "audit.archive")
        #expect(machine.security.anchor == AuditChain.Head(nextSequence: 4, lastHash: all[2].hash))
        #expect((try? AuditChain.verify(machine.security.events, anchor: machine.security.anchor, expectedHead: machine.security.lastHash).get()) != nil)
        #expect((try? AuditChain.verify(Array(all.prefix(3)) + machine.security.events, expectedHead: machine.security.lastHash).get()) != nil,
                "the archive and the rest are not one chain")
        #expect((try? AuditChain.verify(machine.security.events).get()) == nil, "the rest verified without its anchor")
        #expect(security("archive", ["through": 2, "hash": Hex.encode(all[1].hash)], index: 52).contains("already archived"))
        var restored = Machine()
        try restored.restore(machine.snapshot())
        #expect(restored.security == machine.security && restored.stateHash == machine.stateHash)
    }

    /// Retiring a KEK version in the replicated state: refused while a stored
    /// data key is wrapped under it; once recorded, a new key wrapped under it
    /// (an ingress node with an old ring) is refused and a re-wrap to it skipped.
    @Test func aRetiredKEKVersionIsRefusedForNewAndRewrappedKeys() throws {
        let ring = try KeyRing.generate(clusterID: "test", now: Date())
        var (machine, _) = Self.run(Self.script)
        func enqueue(_ patient: String, _ ring: KeyRing, index: UInt64) throws -> String {
            let record = try machine.security.keys.encrypt(fields: ["name": Array("N".utf8)], patient: Vault.PatientID(patient), ring: ring)
            let sealed = Base64.encode(Array(try JSONEncoder().encode(record)), urlSafe: false)
            let command = Self.command("enqueue", at: 3_000, ["queue": "scheduling", "channel": "chat", "callType": "general",
                                                              "patient": patient, "site": "boston", "record": sealed, "actor": "ivr", "role": "agent"])
            return String(decoding: machine.apply(index: index, command: command), as: UTF8.self)
        }
        func security(_ op: String, _ fields: [String: Any], index: UInt64) -> String {
            let command = Machine().stamped(Machine.securityCommand(op, actor: "olga", role: .ops, fields), atMs: 4_000)
            return String(decoding: machine.apply(index: index, command: command), as: UTF8.self)
        }
        #expect(try enqueue("ref-1", ring, index: 20).contains("\"ok\":true"))
        #expect(security("retireKEK", ["version": 1], index: 21).contains("key_in_use"))
        let rotated = try ring.rotated(now: Date())
        let keys = try machine.security.keys.rewrapped(ring: rotated).map { ($0.key.rawValue, $0.value.base64) }
        #expect(security("rewrap", ["keys": Dictionary(uniqueKeysWithValues: keys), "kekVersion": 2], index: 22).contains("\"ok\":true"))
        #expect(security("retireKEK", ["version": 1], index: 23).contains("\"ok\":true"))
        #expect(machine.security.retiredKEKVersions == [1])
        #expect(machine.security.events.last?.action == "key.retire")
        let before = machine.stateHash
        #expect(try enqueue("ref-2", ring, index: 24).contains("retired KEK version 1"), "a new key under a retired version was stored")
        #expect(machine.stateHash == before)
        var restored = Machine()
        try restored.restore(machine.snapshot())
        #expect(restored.stateHash == machine.stateHash && restored.security.retiredKEKVersions == [1])
    }

    @Test func thePatientObjectIsCheckedAndOnlyItsReferenceLeaves() throws {
        let reference = try NodeAPI.validatePatient(["id": "ref-77", "name": "Jane Roe", "phone": "+1 555 0100", "dateOfBirth": "1970-01-02"])
        #expect(reference == "ref-77")
        let command = Machine.contactCommand("enqueue", ["queue": "q", "channel": "voice", "patient": reference, "site": "s"])
        #expect(!String(decoding: command, as: UTF8.self).contains("Jane"))
        for bad: [String: Any] in [
            ["id": "ref", "name": "x", "phone": "1"],
            ["id": "ref", "name": "x", "phone": "1", "dateOfBirth": "02/01/1970"],
            ["id": "has space", "name": "x", "phone": "1", "dateOfBirth": "1970-01-02"],
            ["id": "ref", "name": 7, "phone": "1", "dateOfBirth": "1970-01-02"],
            ["id": "ref", "name": "x", "phone": "1", "dateOfBirth": "1970-01-02", "ssn": "1"],
        ] {
            #expect(throws: (any Error).self) { _ = try NodeAPI.validatePatient(bad) }
        }
    }
}
