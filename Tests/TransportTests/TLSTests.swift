import Foundation
import Glibc
import Testing
@testable import Transport

/// Certificates made once per test into a fresh temporary directory.
struct TestPKI {
    let directory: String

    init(nodes: [String] = ["a", "b"], clients: [String] = ["ops"]) throws {
        directory = NSTemporaryDirectory() + "lifeline-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try CertificateAuthority.generateCluster(directory: directory, nodes: nodes, clients: clients)
    }

    var ca: String { directory + "/ca.pem" }
    func context(_ name: String, role: TLSContext.Role, maxVersion: Int32? = nil) throws -> TLSContext {
        try TLSContext(role: role, caFile: ca, certFile: "\(directory)/\(name).pem", keyFile: "\(directory)/\(name)-key.pem", testingMaxVersion: maxVersion)
    }
}

/// What a test server saw: each handshake's outcome, and the open connections.
final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<[String], ConnectionError>] = []
    private var connections: [TLSConnection] = []

    func record(_ result: Result<[String], ConnectionError>, _ connection: TLSConnection?) {
        lock.lock()
        defer { lock.unlock() }
        results.append(result)
        if let connection { connections.append(connection) }
    }

    var snapshot: [Result<[String], ConnectionError>] {
        lock.lock()
        defer { lock.unlock() }
        return results
    }

    func closeAll() {
        lock.lock()
        defer { lock.unlock() }
        connections.forEach { $0.close() }
    }
}

/// A TLS server on 127.0.0.1 that accepts in a background thread, echoes frames,
/// and records each handshake's outcome.
final class TestServer: @unchecked Sendable {
    let listener: TCPListener
    let recorder = Recorder()

    init(context: TLSContext) throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        self.listener = listener
        let recorder = recorder
        Thread.detachNewThread {
            while true {
                do {
                    guard let connection = try listener.acceptTLS(context: context, handshakeTimeoutMs: 2000, deadline: nil) else { continue }
                    recorder.record(.success(connection.peerNames), connection)
                    Thread.detachNewThread {
                        var reader = FrameReader(frameBytesMax: 1 << 20)
                        while let frame = try? connection.readFrame(&reader, deadline: nil) {
                            try? connection.write(frame.encoded(), deadline: .after(milliseconds: 2000))
                        }
                        connection.close()
                    }
                } catch {
                    let failure = error as! ConnectionError
                    if failure == .closed { return }
                    recorder.record(.failure(failure), nil)
                }
            }
        }
    }

    var port: UInt16 { listener.port }

    /// Polls until `count` handshakes have finished, with a deadline.
    func waitForOutcomes(_ count: Int, timeoutMs: Int = 5000) -> [Result<[String], ConnectionError>] {
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        while Date() < deadline {
            let snapshot = recorder.snapshot
            if snapshot.count >= count { return snapshot }
            usleep(10_000)
        }
        return recorder.snapshot
    }

    func stop() {
        listener.close()
        recorder.closeAll()
    }
}

@Suite(.serialized) struct TLSTests {
    @Test func mutualTLSHandshakeAndFramesRoundTrip() throws {
        let pki = try TestPKI()
        let server = try TestServer(context: try pki.context("a", role: .server))
        defer { server.stop() }
        let client = try connectTLS(host: "127.0.0.1", port: server.port, context: try pki.context("b", role: .client), expectedPeer: "a", deadline: .after(milliseconds: 3000))
        defer { client.close() }
        #expect(client.peerNames.contains("a"))
        let frame = Frame(type: .raftMessages, payload: Array(repeating: 7, count: 100_000))
        try client.write(frame.encoded(), deadline: .after(milliseconds: 3000))
        var reader = FrameReader()
        #expect(try client.readFrame(&reader, deadline: .after(milliseconds: 3000)) == frame)
        let outcomes = server.waitForOutcomes(1)
        #expect(try outcomes.first?.get().contains("b") == true)
    }

    @Test func aPeerFromAnotherCAIsRejectedBothWays() throws {
        let cluster = try TestPKI()
        let stranger = try TestPKI(nodes: ["a", "b"])
        let server = try TestServer(context: try cluster.context("a", role: .server))
        defer { server.stop() }
        #expect(throws: ConnectionError.self) {
            _ = try connectTLS(host: "127.0.0.1", port: server.port, context: try stranger.context("b", role: .client), expectedPeer: "a", deadline: .after(milliseconds: 3000))
        }
        let outcomes = server.waitForOutcomes(1)
        guard case .failure(let error)? = outcomes.first else {
            Issue.record("the server accepted a client from another CA: \(outcomes)")
            return
        }
        #expect(error.description.contains("handshake"))
        // And a client of our cluster refuses a server from another CA.
        let strangerServer = try TestServer(context: try stranger.context("a", role: .server))
        defer { strangerServer.stop() }
        #expect(throws: ConnectionError.self) {
            _ = try connectTLS(host: "127.0.0.1", port: strangerServer.port, context: try cluster.context("b", role: .client), expectedPeer: "a", deadline: .after(milliseconds: 3000))
        }
    }

    @Test func aServerThatIsNotTheNodeDialedIsRejected() throws {
        let pki = try TestPKI()
        let server = try TestServer(context: try pki.context("b", role: .server))
        defer { server.stop() }
        #expect {
            _ = try connectTLS(host: "127.0.0.1", port: server.port, context: try pki.context("a", role: .client), expectedPeer: "a", deadline: .after(milliseconds: 3000))
        } throws: { error in
            (error as? ConnectionError)?.description.contains("peer identity rejected") == true
        }
        #expect(verifyPeer(["b", "localhost", "127.0.0.1"], claims: "b"))
        #expect(!verifyPeer(["b", "localhost", "127.0.0.1"], claims: "a"))
    }

    @Test func aTLS12ClientIsRejected() throws {
        let pki = try TestPKI()
        let server = try TestServer(context: try pki.context("a", role: .server))
        defer { server.stop() }
        let old = try pki.context("b", role: .client, maxVersion: 0x0303)
        #expect(throws: ConnectionError.self) {
            _ = try connectTLS(host: "127.0.0.1", port: server.port, context: old, expectedPeer: "a", deadline: .after(milliseconds: 3000))
        }
        let outcomes = server.waitForOutcomes(1)
        guard case .failure? = outcomes.first else {
            Issue.record("the server accepted TLS 1.2: \(outcomes)")
            return
        }
    }

    @Test func garbageAndTruncatedBytesDoNotStopTheListener() throws {
        let pki = try TestPKI()
        let server = try TestServer(context: try pki.context("a", role: .server))
        defer { server.stop() }
        var random = SystemRandomNumberGenerator()
        for attempt in 0..<5 {
            let plain = try connectPlain(host: "127.0.0.1", port: server.port, deadline: .after(milliseconds: 2000))
            let garbage = (0..<(attempt * 300 + 5)).map { _ in UInt8.random(in: 0...255, using: &random) }
            try? plain.write(garbage, deadline: .after(milliseconds: 1000))
            plain.close()
        }
        _ = server.waitForOutcomes(5)
        let client = try connectTLS(host: "127.0.0.1", port: server.port, context: try pki.context("b", role: .client), expectedPeer: "a", deadline: .after(milliseconds: 3000))
        defer { client.close() }
        try client.write(Frame(type: .ping, payload: [1]).encoded(), deadline: .after(milliseconds: 2000))
        var reader = FrameReader()
        #expect(try client.readFrame(&reader, deadline: .after(milliseconds: 3000)) == Frame(type: .ping, payload: [1]))
    }

    /// What an event loop relies on: `readAvailable` never waits and returns
    /// nothing only when OpenSSL holds no plaintext (so waiting on the socket
    /// is safe), a one-shot `Poller` stays quiet until rearmed, and the end of
    /// the stream is an error, not an endless "nothing yet".
    @Test func readAvailableAndPollerServeAConnectionWithoutAThread() throws {
        let pki = try TestPKI()
        let server = try TestServer(context: try pki.context("a", role: .server))
        defer { server.stop() }
        let client = try connectTLS(host: "127.0.0.1", port: server.port, context: try pki.context("b", role: .client), expectedPeer: "a", deadline: .after(milliseconds: 3000))
        defer { client.close() }
        let poller = try Poller()
        try poller.watch(client.descriptor, token: 7, oneShot: true)
        var tokens: [UInt64] = []
        // The server may send TLS 1.3 session tickets (whenever it gets to
        // them): readable, but no plaintext. Then the socket goes quiet.
        var quiet = false
        for _ in 0..<20 where !quiet {
            poller.wait(timeoutMs: 100, into: &tokens)
            #expect(try client.readAvailable(maxBytes: 1024) == [])
            if tokens.isEmpty { quiet = true } else { try poller.rearm(client.descriptor, token: 7) }
        }
        #expect(quiet, "nothing was sent, yet the socket stays readable")

        // Several TLS records, read through 1 KiB at a time: more than one read per wake-up.
        let frame = Frame(type: .raftMessages, payload: (0..<100_000).map { UInt8(truncatingIfNeeded: $0) })
        try client.write(frame.encoded(), deadline: .after(milliseconds: 3000))
        var reader = FrameReader(frameBytesMax: 1 << 20)
        var echoed: Frame?
        var wakeUps = 0
        let deadline = Deadline.after(milliseconds: 5000)
        while echoed == nil && Deadline.after(milliseconds: 0) < deadline {
            poller.wait(timeoutMs: 100, into: &tokens)
            guard !tokens.isEmpty else { continue }
            #expect(tokens == [7])
            wakeUps += 1
            // One-shot: quiet until rearmed, though the bytes are still waiting.
            poller.wait(timeoutMs: 0, into: &tokens)
            #expect(tokens.isEmpty, "a one-shot descriptor reported twice")
            while true {
                let bytes = try client.readAvailable(maxBytes: 1024)
                if bytes.isEmpty { break }
                reader.append(bytes)
            }
            echoed = try reader.next()
            try poller.rearm(client.descriptor, token: 7)
        }
        #expect(echoed.map { $0 == frame } == true, "the echoed frame differs or never came")
        #expect(wakeUps >= 1)

        // The peer closes: readable, and reading says so.
        server.stop()
        var closed = false
        for _ in 0..<50 where !closed {
            poller.wait(timeoutMs: 100, into: &tokens)
            do {
                while try !client.readAvailable(maxBytes: 1024).isEmpty {}
                try poller.rearm(client.descriptor, token: 7)
            } catch {
                closed = true
            }
        }
        #expect(closed, "the end of the stream was never reported")
        poller.forget(client.descriptor)
    }

    @Test func plainReadAvailableReturnsWhatArrivedAndReportsTheEnd() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let client = try connectPlain(host: "127.0.0.1", port: listener.port, deadline: .after(milliseconds: 2000))
        defer { client.close() }
        let accepted = try #require(try listener.acceptPlain(deadline: .after(milliseconds: 2000)))
        #expect(try client.readAvailable(maxBytes: 64) == [])
        try accepted.write([1, 2, 3], deadline: .after(milliseconds: 1000))
        let poller = try Poller()
        try poller.watch(client.descriptor, token: 3, oneShot: false)
        var tokens: [UInt64] = []
        poller.wait(timeoutMs: 2000, into: &tokens)
        #expect(tokens == [3])
        #expect(try client.readAvailable(maxBytes: 64) == [1, 2, 3])
        #expect(try client.readAvailable(maxBytes: 64) == [])
        accepted.close()
        poller.wait(timeoutMs: 2000, into: &tokens)
        #expect(throws: ConnectionError.closed) { _ = try client.readAvailable(maxBytes: 64) }
    }

    @Test func privateKeysAreWrittenMode0600AndCertificatesCarryTheirNames() throws {
        let pki = try TestPKI(nodes: ["boston"], clients: ["ops"])
        for name in ["ca-key.pem", "boston-key.pem", "ops-key.pem"] {
            var info = stat()
            #expect(stat(pki.directory + "/" + name, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o600, "\(name) has mode \(String(info.st_mode & 0o777, radix: 8))")
        }
        #expect(throws: TLSError.self) {
            try CertificateAuthority.generateCluster(directory: pki.directory, nodes: ["x"], clients: [])
        }
    }
}

@Suite struct FrameTests {
    @Test func framesDecodeAcrossArbitrarySplits() throws {
        let frames = [Frame(type: .hello, payload: Array("a".utf8)), Frame(type: .raftMessages, payload: [1, 2, 3]), Frame(type: .pong, payload: [])]
        let bytes = frames.flatMap { $0.encoded() }
        for split in 1..<bytes.count {
            var reader = FrameReader()
            var decoded: [Frame] = []
            reader.append(Array(bytes[..<split]))
            while let frame = try reader.next() { decoded.append(frame) }
            reader.append(Array(bytes[split...]))
            while let frame = try reader.next() { decoded.append(frame) }
            #expect(decoded == frames)
        }
    }

    @Test func oversizedUnknownAndMalformedFramesAreViolations() {
        var oversized = FrameReader(frameBytesMax: 100)
        oversized.append(Frame(type: .ping, payload: [UInt8](repeating: 0, count: 200)).encoded())
        #expect(throws: ConnectionError.self) { _ = try oversized.next() }
        var unknownType = FrameReader()
        unknownType.append([0, 0, 0, 2, 1, 99])
        #expect(throws: ConnectionError.self) { _ = try unknownType.next() }
        var unknownVersion = FrameReader()
        unknownVersion.append([0, 0, 0, 2, 9, 1])
        #expect(throws: ConnectionError.self) { _ = try unknownVersion.next() }
        var tooShort = FrameReader()
        tooShort.append([0, 0, 0, 1, 1])
        #expect(throws: ConnectionError.self) { _ = try tooShort.next() }
        var atLimit = FrameReader(frameBytesMax: 102)
        atLimit.append(Frame(type: .ping, payload: [UInt8](repeating: 0, count: 100)).encoded())
        #expect((try? atLimit.next())??.payload.count == 100)
    }
}
