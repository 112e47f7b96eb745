import Foundation
import Testing
import Vault
@testable import Chaos

struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ])
    func fipsVectors(input: String, expected: String) {
        #expect(SHA256.hex(SHA256.digest(Array(input.utf8))) == expected)
    }

    @Test func oneMillionAs() {
        var hasher = SHA256()
        let thousand = [UInt8](repeating: 0x61, count: 1_000)
        for _ in 0..<1_000 { hasher.update(thousand) }
        #expect(SHA256.hex(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func agreesWithOpenSSLAcrossLengthsAndSplits() {
        var random = SeededGenerator(seed: 99)
        for length in [1, 55, 56, 57, 63, 64, 65, 127, 128, 129, 1_000, 4_097] {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let split = Int(random.next() % UInt64(length + 1))
            var hasher = SHA256()
            hasher.update(bytes[..<split])
            hasher.update(bytes[split...])
            #expect(hasher.finalize() == Digest.sha256(bytes), "length \(length) split \(split)")
        }
    }
}

struct HistoryTests {
    static func sample() -> [ClientOperation] {
        [
            ClientOperation(id: 1, client: "ivr-a", kind: .enqueue, task: TaskID("t1"), invokeUs: 10, completeUs: 30,
                            outcome: .ok, value: OperationValue(queue: "triage", priority: 2, emergency: false, site: SiteName("a"))),
            ClientOperation(id: 2, client: "agent-b-1", kind: .offer, task: TaskID("t1"), invokeUs: 20, completeUs: 40,
                            outcome: .ok, value: OperationValue(agent: AgentID("b-1"), token: 7, site: SiteName("b"))),
            ClientOperation(id: 3, client: "agent-b-1", kind: .accept, task: TaskID("t1"), invokeUs: 45, completeUs: 5_000_045,
                            outcome: .unknown, value: OperationValue(agent: AgentID("b-1"), token: 7)),
            ClientOperation(id: 4, client: "reader", kind: .read, task: TaskID("t1"), invokeUs: 50, completeUs: 60,
                            outcome: .failed, value: OperationValue(error: "no-leader")),
        ]
    }

    @Test func writesAndReadsBackJSONLines() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("chaos-history-\(getpid()).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        let writer = try HistoryWriter(url: url)
        for operation in Self.sample() { #expect(writer.append(operation)) }
        writer.close()
        #expect(!writer.append(Self.sample()[0]))

        #expect(try History.read(contentsOf: url) == Self.sample())
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.split(separator: "\n").count == 4)
        #expect(text.hasPrefix(#"{"client":"ivr-a","completeUs":30,"id":1,"invokeUs":10,"kind":"enqueue""#))

        let expected = SHA256.hex(Digest.sha256(Array(try Data(contentsOf: url))))
        #expect(try History.sha256(ofFile: url) == expected)
    }

    @Test func badLineIsReportedWithItsNumber() {
        let good = String(decoding: HistoryWriter.encode(Self.sample()[0]), as: UTF8.self)
        do throws(HistoryError) {
            _ = try History.parse(Data((good + "\n\n" + #"{"id": "x"}"# + "\n").utf8))
            Issue.record("a bad line must not parse")
        } catch {
            #expect(error.line == 3)
        }
    }
}
