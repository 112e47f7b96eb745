import Testing
@testable import Raft

@Suite struct MessageCodecTests {
    static let sample = Message(
        kind: .append, from: NodeID("a"), to: NodeID("b"), term: 7, logTerm: 6, index: 41,
        entries: [Entry(term: 7, index: 42, data: [1, 2, 3]), Entry(term: 7, index: 43, kind: .noop)],
        commit: 40, reject: false, rejectHint: 0, hintTerm: 0,
        snapshot: Snapshot(
            metadata: SnapshotMetadata(index: 10, term: 2, conf: ConfState(voters: [NodeID("a"), NodeID("b")], learners: [NodeID("c")])),
            data: [9, 9]),
        context: [5])

    @Test func roundTrips() throws {
        let decoded = try Message(decoding: Self.sample.encoded())
        #expect(decoded == Self.sample)
    }

    @Test func everyTruncationIsAnErrorNotATrap() {
        let bytes = Self.sample.encoded()
        for length in 0..<bytes.count {
            #expect(throws: DecodingError.self) { try Message(decoding: Array(bytes[0..<length])) }
        }
    }

    @Test func trailingBytesAreRejected() {
        #expect(throws: DecodingError.self) { try Message(decoding: Self.sample.encoded() + [0]) }
    }

    @Test func unknownVersionAndKindAreRejected() {
        var bytes = Self.sample.encoded()
        bytes[0] = 99
        #expect(throws: DecodingError.self) { try Message(decoding: bytes) }
        bytes = Self.sample.encoded()
        bytes[1] = 200
        #expect(throws: DecodingError.self) { try Message(decoding: bytes) }
    }

    @Test func randomBytesNeverTrap() {
        var random = SeededRandom(seed: 1)
        let valid = Self.sample.encoded()
        for _ in 0..<5_000 {
            var bytes = valid
            let flips = Int.random(in: 1...4, using: &random)
            for _ in 0..<flips {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            _ = try? Message(decoding: bytes)
        }
    }

    @Test func confChangeRoundTrips() throws {
        let change = ConfChange(kind: .addLearner, node: NodeID("d"), context: [1])
        #expect(try ConfChange(decoding: change.encoded()) == change)
    }

    @Test func invalidNodeIDsAreRejected() {
        #expect(!NodeID("").isValid)
        #expect(!NodeID("-a").isValid)
        #expect(!NodeID("A").isValid)
        #expect(!NodeID(String(repeating: "a", count: 64)).isValid)
        #expect(NodeID("boston-1").isValid)
    }
}
