import Foundation
import Testing
@testable import Vault

@Suite struct AuditChainTests {
    /// Ten events, sequences 1...10, properly chained.
    static func chain(count: Int = 10) throws -> [AuditEvent] {
        var chain = AuditChain()
        var events: [AuditEvent] = []
        for index in 0..<count {
            let actor: String = index % 2 == 0 ? "alice" : "bob"
            let outcome: AuditEvent.Outcome = index == 4 ? .denied : .allowed
            let reason: String = index == 4 ? "role nurse may not read notes" : ""
            let draft = AuditEvent.Draft(
                timeMs: 1_000 + UInt64(index), actor: actor, role: .nurse, action: "record.read",
                resources: ["task-\(index)", "p-\(index % 3)"], outcome: outcome, reason: reason, breakGlass: index == 7)
            events.append(try chain.append(draft))
        }
        return events
    }

    /// Rebuilds `draft` with a changed sequence / prevHash (an attacker renumbering rows).
    static func renumbered(_ events: [AuditEvent], from start: Int) -> [AuditEvent] {
        events.enumerated().map { index, event in
            index < start ? event : AuditEvent(sequence: UInt64(index + 1), draft: event.draft, prevHash: event.prevHash)
        }
    }

    func breakOf(_ result: Result<AuditChain.Head, AuditChain.Break>) -> AuditChain.Break? {
        if case .failure(let broken) = result { return broken }
        return nil
    }

    @Test func intactChainVerifies() throws {
        let events = try Self.chain()
        let head = try AuditChain.verify(events).get()
        #expect(head.nextSequence == 11)
        #expect(head.lastHash == events.last!.hash)
        #expect(try AuditChain.verify(events, expectedHead: events.last!.hash).get() == head)
        // A suffix verifies from its anchor.
        let anchor = AuditChain.Head(nextSequence: 6, lastHash: events[4].hash)
        #expect(try AuditChain.verify(Array(events[5...]), anchor: anchor).get() == head)
        #expect(try AuditChain.verify([]).get() == .genesis)
    }

    @Test func hashIsSHA256OfPrevHashAndCanonicalBytes() throws {
        let event = try Self.chain(count: 1)[0]
        #expect(event.prevHash == [UInt8](repeating: 0, count: 32))
        #expect(event.hash == Digest.sha256(event.prevHash + event.canonicalBytes()))
        // Known-answer test for the SHA-256 wrapper: SHA-256("abc").
        #expect(Hex.encode(Digest.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    /// Editing event 3 (same sequence, same prevHash) is only visible through the
    /// hash link from event 4: a verifier that skipped the prevHash check passes it.
    @Test func editedEventBreaksTheNextLink() throws {
        var events = try Self.chain()
        let original = events[3]
        var draft = original.draft
        draft.outcome = .denied
        events[3] = AuditEvent(sequence: original.sequence, draft: draft, prevHash: original.prevHash)
        let broken = try #require(breakOf(AuditChain.verify(events)))
        #expect(broken.index == 4)
        #expect(broken.reason == .prevHash)
        #expect(Self.sequenceOnlyVerifier(events) == nil)
    }

    @Test func editedLastEventNeedsTheAnchoredHead() throws {
        var events = try Self.chain()
        var draft = events[9].draft
        draft.actor = "mallory"
        events[9] = AuditEvent(sequence: 10, draft: draft, prevHash: events[9].prevHash)
        let expectedHead = try Self.chain().last!.hash
        let broken = try #require(breakOf(AuditChain.verify(events, expectedHead: expectedHead)))
        #expect(broken.index == 9)
        #expect(broken.reason == .head)
    }

    @Test func deletedEventIsDetected() throws {
        var events = try Self.chain()
        events.remove(at: 3)
        let broken = try #require(breakOf(AuditChain.verify(events)))
        #expect(broken.index == 3)
        #expect(broken.reason == .sequence(expected: 4, found: 5))
        // Renumbering after the deletion hides the gap; the hash link still breaks.
        let hidden = Self.renumbered(events, from: 3)
        let renumbered = try #require(breakOf(AuditChain.verify(hidden)))
        #expect(renumbered.index == 3)
        #expect(renumbered.reason == .prevHash)
        #expect(Self.sequenceOnlyVerifier(hidden) == nil)
    }

    @Test func truncatedTailNeedsTheAnchoredHead() throws {
        let events = try Self.chain()
        #expect(throws: Never.self) { try AuditChain.verify(Array(events.dropLast())).get() }
        let broken = try #require(breakOf(AuditChain.verify(Array(events.dropLast()), expectedHead: events.last!.hash)))
        #expect(broken.reason == .head)
    }

    @Test func reorderedEventsAreDetected() throws {
        var events = try Self.chain()
        events.swapAt(5, 6)
        let broken = try #require(breakOf(AuditChain.verify(events)))
        #expect(broken.index == 5)
        #expect(broken.reason == .sequence(expected: 6, found: 7))
        let hidden = Self.renumbered(events, from: 5)
        let renumbered = try #require(breakOf(AuditChain.verify(hidden)))
        #expect(renumbered.index == 5)
        #expect(renumbered.reason == .prevHash)
        #expect(Self.sequenceOnlyVerifier(hidden) == nil)
    }

    @Test func insertedEventIsDetected() throws {
        var events = try Self.chain()
        let forged = AuditEvent(sequence: 4, draft: events[3].draft, prevHash: events[2].hash)
        events.insert(forged, at: 3)
        let broken = try #require(breakOf(AuditChain.verify(Self.renumbered(events, from: 4))))
        #expect(broken.index == 4)
        #expect(broken.reason == .prevHash)
    }

    @Test func wrongGenesisAndOversizedFieldsAreReported() throws {
        let events = try Self.chain()
        let broken = try #require(breakOf(AuditChain.verify(Array(events[1...]))))
        #expect(broken.index == 0)
        var bad = events
        bad[2] = AuditEvent(sequence: 3, draft: events[2].draft, prevHash: [1, 2, 3])
        #expect(breakOf(AuditChain.verify(bad))?.index == 2)
        var chain = AuditChain()
        #expect(throws: VaultError.self) {
            try chain.append(AuditEvent.Draft(timeMs: 0, actor: "", role: .ops, action: "x", resources: [], outcome: .allowed))
        }
        #expect(chain.head == .genesis)
    }

    @Test func eventsRoundTripThroughJSON() throws {
        let events = try Self.chain()
        let decoded = try JSONDecoder().decode([AuditEvent].self, from: JSONEncoder().encode(events))
        #expect(decoded == events)
        #expect(try AuditChain.verify(decoded).get().lastHash == events.last!.hash)
    }

    /// The bug the prevHash tests exist to catch: a verifier that checks only
    /// sequence numbers. Returns the first bad index, or nil if it passes the
    /// chain. The tests above show it passes every tampered chain they build, so
    /// only the real prevHash check makes them pass.
    static func sequenceOnlyVerifier(_ events: [AuditEvent]) -> Int? {
        for (index, event) in events.enumerated() where event.sequence != UInt64(index + 1) { return index }
        return nil
    }
}
