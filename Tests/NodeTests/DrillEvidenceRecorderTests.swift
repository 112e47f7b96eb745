import Chaos
import Foundation
@testable import Node
import Testing
import Vault

/// The drill evidence recorder fed by a real state machine, without processes:
/// the core's events become the offers log the harness's checkers replay, the
/// answer decodes into the harness's own `NodeFinalState`, and recording
/// changes nothing in the replicated state.
@Suite struct DrillEvidenceRecorderTests {
    typealias Machine = LifelineStateMachine

    static func command(_ op: String, at: UInt64, _ fields: [String: Any] = [:]) -> [UInt8] {
        Machine().stamped(Machine.contactCommand(op, fields), atMs: at)
    }

    /// Applies `commands` (index = position + 1) with the recorder on, and the same
    /// commands to a second machine without it.
    struct Run {
        var machine = Machine()
        var plain = Machine()
        var evidence = DrillEvidence(fromIndex: 1)
        var results: [[String: Any]] = []

        mutating func apply(_ command: [UInt8]) {
            let index = UInt64(results.count + 1)
            var recorder = evidence
            let bytes = machine.apply(index: index, command: command) { events, after in
                recorder.record(index: index, events: events, center: after)
            }
            evidence = recorder
            #expect(plain.apply(index: index, command: command) == bytes)
            results.append((try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:])
        }

        func token(ofResult index: Int) -> UInt64? {
            ((results[index - 1]["offer"] as? [String: Any])?["token"] as? NSNumber)?.uint64Value
        }

        func finalState() throws -> NodeFinalState {
            let image = DrillEvidenceImage(node: "a", site: "site-a", appliedIndex: UInt64(results.count), machine: machine, evidence: evidence)
            return try JSONDecoder().decode(NodeFinalState.self, from: Data(DrillEvidence.json(image)))
        }
    }

    static func kinds(_ log: [OfferEvent], task: String) -> [OfferEvent.Kind] {
        log.filter { $0.task.rawValue == task }.map(\.kind)
    }

    @Test func coreEventsBecomeTheOffersLogInLogOrder() throws {
        var run = Run()
        for command in [
            Self.command("addSite", at: 1_000, ["site": "boston"]),
            Self.command("addSite", at: 1_000, ["site": "denver"]),
            Self.command("defineQueue", at: 1_001, ["queue": "triage", "channels": ["voice", "chat", "callback"]]),
            Self.command("registerAgent", at: 1_002, ["agent": "alice", "site": "boston"]),
            Self.command("registerAgent", at: 1_002, ["agent": "dan", "site": "denver", "capacity": ["voice": 1, "chat": 2, "sms": 0, "email": 0]]),
            Self.command("presence", at: 1_003, ["agent": "alice", "presence": "available"]),
            // 7: task 1, offered to alice at once.
            Self.command("enqueue", at: 1_004, ["queue": "triage", "channel": "voice", "callType": "general", "priority": 5, "patient": "p1", "site": "boston"]),
        ] { run.apply(command) }
        let firstTokenFound = run.token(ofResult: 7)
        let firstToken = try #require(firstTokenFound, "\(run.results)")
        for command in [
            Self.command("accept", at: 1_005, ["task": 1, "agent": "alice", "token": firstToken]),
            Self.command("wrapUp", at: 1_006, ["task": 1, "agent": "alice", "token": firstToken]),
            Self.command("complete", at: 1_007, ["task": 1, "agent": "alice", "token": firstToken]),
            // 11: task 2 (chat), offered to alice; 12: she declines (and is not ready).
            Self.command("enqueue", at: 1_010, ["queue": "triage", "channel": "chat", "callType": "general", "patient": "p2", "site": "boston"]),
        ] { run.apply(command) }
        let declinedFound = run.token(ofResult: 11)
        let declined = try #require(declinedFound, "\(run.results)")
        for command in [
            Self.command("decline", at: 1_011, ["task": 2, "agent": "alice", "token": declined]),
            // 13: task 3, an emergency nobody can take; 14: the caller hangs up.
            Self.command("enqueue", at: 1_012, ["queue": "triage", "channel": "voice", "callType": "emergency", "patient": "p3", "site": "boston"]),
            Self.command("abandon", at: 1_013, ["task": 3]),
            // 15: alice is back: task 2 is offered to her again.
            Self.command("presence", at: 1_014, ["agent": "alice", "presence": "available"]),
        ] { run.apply(command) }
        #expect(run.results.allSatisfy { $0["ok"] as? Bool == true }, "\(run.results)")
        let state = try run.finalState()
        let reoffer = try #require(state.offersLog.last { $0.task.rawValue == "2" && $0.kind == .offered })
        #expect(reoffer.index == 15 && reoffer.agent?.rawValue == "alice")
        let secondToken = try #require(reoffer.token)
        for command in [
            Self.command("accept", at: 1_015, ["task": 2, "agent": "alice", "token": secondToken]),
            Self.command("presence", at: 1_016, ["agent": "dan", "presence": "available"]),
            // 18: boston is lost: alice's chat goes back to waiting, and on to dan.
            Self.command("siteDown", at: 1_017, ["site": "boston"]),
        ] { run.apply(command) }
        #expect(run.results.allSatisfy { $0["ok"] as? Bool == true }, "\(run.results)")

        let final = try run.finalState()
        #expect(final.node.rawValue == "a" && final.site.rawValue == "site-a" && final.appliedIndex == 18)
        #expect(final.stateHash == run.plain.stateHash, "recording changed nothing, so the hash is the plain machine's")
        #expect(Self.kinds(final.offersLog, task: "1") == [.enqueued, .offered, .accepted, .completed])
        #expect(Self.kinds(final.offersLog, task: "2") == [.enqueued, .offered, .released, .offered, .accepted, .released, .offered])
        #expect(Self.kinds(final.offersLog, task: "3") == [.enqueued, .abandoned])
        #expect(final.offersLog.map(\.index) == final.offersLog.map(\.index).sorted(), "log order")
        let one = final.offersLog.filter { $0.task.rawValue == "1" }
        #expect(one.map(\.index) == [7, 7, 8, 10])
        #expect(one.dropFirst().allSatisfy { $0.agent?.rawValue == "alice" && $0.token == firstToken })
        let two = final.offersLog.filter { $0.task.rawValue == "2" }
        #expect(two[2] == OfferEvent(index: 12, kind: .released, task: TaskID("2"), agent: AgentID("alice"), token: declined))
        #expect(two[5] == OfferEvent(index: 18, kind: .released, task: TaskID("2"), agent: AgentID("alice"), token: secondToken))
        #expect(two[6].agent?.rawValue == "dan" && two[6].index == 18 && two[6].token.map { $0 > secondToken } == true)

        let tasks = Dictionary(uniqueKeysWithValues: final.tasks.map { ($0.id.rawValue, $0) })
        #expect(tasks["1"] == TaskSnapshot(id: TaskID("1"), state: .completed, agent: AgentID("alice"), queue: "triage", priority: 5,
                                           emergency: false, enqueueTimeMs: 1_004, enqueueIndex: 7, site: SiteName("boston")))
        #expect(tasks["2"] == TaskSnapshot(id: TaskID("2"), state: .offered, agent: AgentID("dan"), queue: "triage", priority: 0,
                                           emergency: false, enqueueTimeMs: 1_010, enqueueIndex: 11, site: SiteName("boston")))
        #expect(tasks["3"] == TaskSnapshot(id: TaskID("3"), state: .abandoned, queue: "triage", priority: 0, emergency: true, enqueueTimeMs: 1_012,
                                           enqueueIndex: 13, site: SiteName("boston")))
        #expect(final.agents == [AgentSnapshot(id: AgentID("alice"), site: SiteName("boston"), capacity: 9),
                                 AgentSnapshot(id: AgentID("dan"), site: SiteName("denver"), capacity: 3)])
        #expect(final.auditHead == Hex.encode(run.machine.security.lastHash))
        let raw = try #require(try JSONSerialization.jsonObject(with: Data(DrillEvidence.json(DrillEvidenceImage(
            node: "a", site: "site-a", appliedIndex: 18, machine: run.machine, evidence: run.evidence)))) as? [String: Any])
        #expect(raw["fromIndex"] as? Int == 1 && raw["truncated"] as? Bool == false)
    }

    @Test func aKeyValueMachineHasEmptyEvidenceAndTheSameHash() throws {
        var machine: any ReplicatedStateMachine = KeyValueStateMachine()
        var seen = 0
        _ = machine.apply(index: 1, command: KeyValueStateMachine.command(.put, key: "k", value: [1])) { _, _ in seen += 1 }
        #expect(seen == 0)
        let image = DrillEvidenceImage(node: "a", site: "s", appliedIndex: 1, machine: machine, evidence: DrillEvidence(fromIndex: 1))
        let state = try JSONDecoder().decode(NodeFinalState.self, from: Data(DrillEvidence.json(image)))
        #expect(state.stateHash == machine.stateHash && state.tasks.isEmpty && state.offersLog.isEmpty)
    }
}
