import Foundation
import ContactCenter
@testable import Node
import Testing
import Vault

/// Snapshots and state hashes write the security state with a direct writer
/// instead of `JSONEncoder`; it must give the very same bytes (older nodes
/// decode it, and a mixed-version cluster compares state hashes), for every
/// field and every escape.
@Suite struct SecurityStateJSONTests {
    typealias Machine = LifelineStateMachine

    static func encoderBytes(_ state: SecurityState) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(state))
    }

    @Test func theWriterGivesJSONEncodersBytes() throws {
        let ring = try KeyRing.generate(clusterID: "test", now: Date())
        var (machine, _) = LifelineStateMachineTests.run(LifelineStateMachineTests.script)
        #expect(machine.security.canonicalJSON() == (try Self.encoderBytes(machine.security)), "the empty state")

        var index: UInt64 = 20
        func apply(_ command: [UInt8]) -> String {
            index += 1
            return String(decoding: machine.apply(index: index, command: command), as: UTF8.self)
        }
        func security(_ op: String, _ fields: [String: Any], actor: String = "ada", role: Role = .ops) -> String {
            apply(Machine().stamped(Machine.securityCommand(op, actor: actor, role: role, fields), atMs: 4_000 + index))
        }
        // Patients with records (base64 carries '/' and '+'), several fields each.
        for number in 0..<12 {
            let patient = "ref-\(number)"
            let record = try machine.security.keys.encrypt(
                fields: ["name": Array("Name \(number)".utf8), "phone": Array("+1 555 01\(number)".utf8), "dob": [UInt8](repeating: UInt8(number), count: 40)],
                patient: Vault.PatientID(patient), ring: ring)
            let sealed = Base64.encode(Array(try JSONEncoder().encode(record)), urlSafe: false)
            let answer = apply(LifelineStateMachineTests.command("enqueue", at: 3_000 + index, [
                "queue": "scheduling", "channel": "chat", "callType": "general", "patient": patient, "site": "boston",
                "record": sealed, "actor": "ivr", "role": "agent"]))
            #expect(answer.contains("\"ok\":true"), "\(answer)")
        }
        // Free text with every escape JSONEncoder writes, and non-ASCII.
        let tricky = "a/b \"q\" back\\slash \u{8}\u{c}\n\r\t \u{1} \u{1f} é ü \u{2028} <>&' 漢字"
        #expect(security("audit", ["action": "phi.read", "resources": ["patient:ref-1", "x/y"], "outcome": "denied", "reason": tricky, "breakGlass": true],
                         actor: "sam/\u{1}é", role: .supervisor).contains("\"ok\":true"))
        #expect(security("verify", ["task": 2, "method": "dob+address/\"x\""]).contains("\"ok\":true"))
        #expect(security("verify", ["task": 10, "method": "dob"]).contains("\"ok\":true"))
        #expect(security("revoke", ["tokenID": "abc/def", "expiresAt": 9_999_999_999]).contains("\"ok\":true"))
        for token in ["0a", "é-token", "z", "E", "ü", "\u{2028}"] {
            #expect(security("revoke", ["tokenID": token, "expiresAt": 9_999_999_999]).contains("\"ok\":true"))
        }
        #expect(security("shred", ["patient": "ref-3", "reason": "erasure"]).contains("\"ok\":true"))
        #expect(machine.security.canonicalJSON() == (try Self.encoderBytes(machine.security)), "with records, events, verifications, revocations, a shred")

        // The optional members: an archive anchor and retired KEK versions.
        let events = machine.security.events
        #expect(security("archive", ["through": events[4].sequence, "hash": Hex.encode(events[4].hash)], role: .auditor).contains("\"ok\":true"))
        let rotated = try ring.rotated(now: Date())
        let keys = try machine.security.keys.rewrapped(ring: rotated).map { ($0.key.rawValue, $0.value.base64) }
        #expect(security("rewrap", ["keys": Dictionary(uniqueKeysWithValues: keys), "kekVersion": 2]).contains("\"ok\":true"))
        #expect(security("retireKEK", ["version": 1]).contains("\"ok\":true"))
        #expect(machine.security.archivedHash != nil && machine.security.retiredKEKVersions == [1])
        let written = machine.security.canonicalJSON()
        #expect(written == (try Self.encoderBytes(machine.security)), "with an archive anchor and a retired version")
        // And it decodes back to the same state.
        #expect(try SecurityState.decoded(written) == machine.security)
    }
}
