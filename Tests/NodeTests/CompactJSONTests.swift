import ContactCenter
import Foundation
@testable import Node
import Testing

/// The node's own JSON writer: same meaning as `JSONSerialization`, fixed key order.
struct CompactJSONTests {
    static func parse(_ bytes: [UInt8]) -> NSDictionary? {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? NSDictionary
    }

    @Test func writesWhatJSONSerializationReadsBackTheSame() throws {
        let parsed = try #require((try JSONSerialization.jsonObject(with: Data(#"{"one":1,"yes":true,"zero":0,"half":0.5,"big":18446744073709551615}"#.utf8))) as? [String: Any])
        let object: [String: Any] = [
            "text": "quote \" backslash \\ newline \n tab \t bell \u{07} é 日本 🚑",
            "int": -42, "uint64": UInt64.max, "uint32": UInt32(7), "int64": Int64.min,
            "flag": true, "off": false, "null": NSNull(), "double": 2.25,
            "array": ["a", 1, false, ["nested": [1, 2, 3]]] as [Any],
            "object": ["z": 1, "a": "first", "m": [String: Any]()] as [String: Any],
            "parsed": parsed,
        ]
        let written = try #require(CompactJSON.data(object))
        #expect(JSONSyntax.isValid(written))
        let reference = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        #expect(Self.parse(written) == Self.parse(Array(reference)))
        // Numbers parsed from a request keep their kind: 1 stays 1, true stays true.
        let back = try #require(Self.parse(written)?["parsed"] as? NSDictionary)
        #expect((back["one"] as? NSNumber)?.intValue == 1 && "\(back["one"]!)" == "1")
        #expect("\(back["yes"]!)" == "true" || "\(back["yes"]!)" == "1")
        #expect(String(decoding: written, as: UTF8.self).contains(#""one":1"#))
        #expect(String(decoding: written, as: UTF8.self).contains(#""yes":true"#))
    }

    @Test func theSameObjectAlwaysGivesTheSameBytesWithKeysInOrder() throws {
        var object: [String: Any] = [:]
        for index in 0..<50 { object["key-\(index)"] = index }
        let first = try #require(CompactJSON.data(object))
        var rebuilt: [String: Any] = [:]
        for index in (0..<50).reversed() { rebuilt["key-\(index)"] = index }
        #expect(CompactJSON.data(rebuilt) == first)
        let text = String(decoding: first, as: UTF8.self)
        let keys = object.keys.sorted()
        var position = text.startIndex
        for key in keys {
            let found = try #require(text.range(of: "\"\(key)\":", range: position..<text.endIndex), "\(key) out of order")
            position = found.upperBound
        }
    }

    /// Commands put `at` first so the leader stamps them without parsing; the
    /// result reads back exactly like the slow path's.
    @Test func aStampedCommandCarriesTheTimeAndEverythingElse() throws {
        let command = LifelineStateMachine.contactCommand("enqueue", ["queue": "triage", "priority": 3, "note": "{\"at\":0,"])
        let machine = LifelineStateMachine()
        let stamped = machine.stamped(command, atMs: 1_764_000_000_123)
        #expect(stamped.first == command.first)
        let object = try #require(Self.parse(Array(stamped.dropFirst())))
        #expect((object["at"] as? NSNumber)?.uint64Value == 1_764_000_000_123)
        #expect(object["queue"] as? String == "triage" && (object["priority"] as? NSNumber)?.intValue == 3)
        #expect(object["note"] as? String == "{\"at\":0,")
        #expect(object["op"] as? String == "enqueue")
        // A command without the leading time (an older build's) takes the slow path.
        let legacy = [command[0]] + Array(#"{"op":"enqueue","at":0,"v":1,"queue":"triage"}"#.utf8)
        let slow = try #require(Self.parse(Array(machine.stamped(legacy, atMs: 77).dropFirst())))
        #expect((slow["at"] as? NSNumber)?.uint64Value == 77 && slow["queue"] as? String == "triage")
    }
}

/// Event names in answers are the case names: the switch that writes them
/// agrees with what printing the event (reflection, the old way) gives, for
/// every case.
@Suite struct EventNameTests {
    @Test func everyEventIsNamedByItsCase() {
        let task = TaskID(7), agent = AgentID(3), queue = QueueID(2), site = SiteID(1)
        let events: [ContactEvent] = [
            .settingsChanged, .siteAdded(site), .queueDefined(queue), .agentRegistered(agent, site),
            .agentStatusChanged(agent, site, from: .available, to: .busy),
            .taskCreated(task, queue, site, .voice, .general, priority: 1), .taskQueued(task, queue),
            .taskOffered(task, agent, token: 9, expiresAt: 10), .offerDeclined(task, agent, token: 9),
            .offerExpired(task, agent, token: 9), .taskAccepted(task, agent, queue, site, waitMs: 5, withinTarget: true),
            .taskWrapUp(task, agent), .taskCompleted(task, agent, queue, site, handleMs: 4, nil),
            .taskAbandoned(task, queue, site, waitMs: 3, short: false), .callbackScheduled(task, dueAt: 11),
            .failoverDrop(task, queue, site), .callbackDue(task), .overflowed(task, from: queue, to: QueueID(4), stage: 1),
            .transferred(task, agent, from: queue, to: QueueID(4)),
            .escalated(task, agent, from: queue, to: QueueID(4), .clinicalConcern), .siteWentDown(site), .siteCameUp(site),
            .kpiWindowStarted(index: 2),
        ]
        for event in events {
            let printed = String("\(event)".prefix { $0 != "(" })
            #expect(ContactJSON.eventName(event) == printed)
        }
        #expect(Set(events.map(ContactJSON.eventName)).count == events.count, "two cases share a name")
    }
}
