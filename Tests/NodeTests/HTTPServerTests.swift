#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import Node
import Testing
import Transport

/// The HTTP server against clients that misbehave: bytes that are not HTTP, a
/// request that never finishes, a body over the limit, more connections than
/// allowed. Each gets its error and is closed; the server keeps answering.
@Suite struct HTTPServerTests {
    final class Served: @unchecked Sendable {
        let server: HTTPServer
        let port: UInt16
        init(limits: HTTPLimits, tls: TLSContext? = nil) throws {
            let listener = try TCPListener(host: "127.0.0.1", port: 0)
            port = listener.port
            let quiet = Log(node: "http-test", minimumLevel: .error, fileDescriptor: open("/dev/null", O_WRONLY))
            server = HTTPServer(acceptor: APIAcceptor(listener: listener, context: tls, log: quiet), limits: limits, log: quiet) { request in
                if request.path == "/slow" { ProcessControl.pause(ms: 1_000) }
                if request.path == "/big-later", request.deferrable {
                    // A deferred answer of 1 MiB, ready at once.
                    let pending = PendingResponse()
                    pending.fulfil { HTTPResponse(status: 200, body: [UInt8](repeating: 0x61, count: 1 << 20)) }
                    return .deferred(pending)
                }
                if request.path.hasPrefix("/later/"), request.deferrable, let ms = UInt64(request.path.dropFirst("/later/".count)) {
                    // Answered later from another thread, as the node loop answers writes.
                    let pending = PendingResponse()
                    let path = request.path
                    let thread = Thread {
                        ProcessControl.pause(ms: ms)
                        pending.fulfil { NodeAPI.json(200, ["path": path]) }
                    }
                    thread.start()
                    return .deferred(pending)
                }
                return NodeAPI.json(200, ["path": request.path])
            }
            server.start()
        }
        deinit { server.stop() }

        func connect() throws -> PlainConnection {
            try connectPlain(host: "127.0.0.1", port: port, deadline: .after(milliseconds: 2_000))
        }

        /// Everything the server sends until it closes the connection (or 3 s pass).
        func readAll(_ connection: PlainConnection) -> String {
            var bytes: [UInt8] = []
            let deadline = Deadline.after(milliseconds: 3_000)
            while let chunk = try? connection.read(maxBytes: 4_096, deadline: deadline) { bytes += chunk }
            return String(decoding: bytes, as: UTF8.self)
        }

        func get(_ path: String) throws -> HTTPResponse {
            try HTTPClient(address: HostPort(host: "127.0.0.1", port: port), connector: NodeClient.plainConnector()).send("GET", path, timeoutMs: 3_000)
        }
    }

    static let limits = HTTPLimits(headerBytesMax: 1_024, bodyBytesMax: 4_096, headersCountMax: 16,
                                   requestTimeoutMs: 300, idleTimeoutMs: 2_000, connectionsMax: 4)

    @Test func garbageGetsA400AndTheServerGoesOn() throws {
        let served = try Served(limits: Self.limits)
        let connection = try served.connect()
        var generator = SystemRandomNumberGenerator()
        try connection.write((0..<600).map { _ in UInt8.random(in: 0...255, using: &generator) } + Array("\r\n\r\n".utf8), deadline: .after(milliseconds: 1_000))
        #expect(served.readAll(connection).hasPrefix("HTTP/1.1 400"))
        #expect(try served.get("/after").status == 200)
    }

    @Test func aRequestThatNeverFinishesTimesOutWith408() throws {
        let served = try Served(limits: Self.limits)
        let connection = try served.connect()
        try connection.write(Array("GET /slowloris HTTP/1.1\r\nhost: x\r\n".utf8), deadline: .after(milliseconds: 1_000))
        let answer = served.readAll(connection)
        #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer)")
        #expect(answer.contains("request_timeout"))
    }

    @Test func oversizedHeadersAndBodiesAreRefusedBeforeTheyAreRead() throws {
        let served = try Served(limits: Self.limits)
        let body = try served.connect()
        try body.write(Array("PUT /v1/kv/x HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\n".utf8), deadline: .after(milliseconds: 1_000))
        #expect(served.readAll(body).hasPrefix("HTTP/1.1 413"))
        let headers = try served.connect()
        try headers.write(Array(("GET / HTTP/1.1\r\nx-padding: " + String(repeating: "a", count: 2_000) + "\r\n\r\n").utf8), deadline: .after(milliseconds: 1_000))
        let answer = served.readAll(headers)
        #expect(answer.hasPrefix("HTTP/1.1 431") || answer.hasPrefix("HTTP/1.1 400"), "\(answer)")
        #expect(try served.get("/after").status == 200)
    }

    @Test func connectionsBeyondTheLimitGet503() throws {
        let served = try Served(limits: Self.limits)
        // Four slow requests hold every slot; the fifth connection is turned away.
        let holders = try (0..<4).map { _ in try served.connect() }
        for holder in holders {
            try holder.write(Array("GET /slow HTTP/1.1\r\nhost: x\r\n\r\n".utf8), deadline: .after(milliseconds: 1_000))
        }
        #expect(Self.eventually { served.server.openConnections == 4 })
        let extra = try served.connect()
        #expect(served.readAll(extra).hasPrefix("HTTP/1.1 503"))
        for holder in holders { #expect(served.readAll(holder).hasPrefix("HTTP/1.1 200")) }
        for holder in holders { holder.close() }
        #expect(Self.eventually { served.server.openConnections == 0 })
        #expect(try served.get("/after").status == 200)
    }

    /// Pipelined requests whose answers come later, or at once, or later but
    /// sooner: the answers leave in request order, and a deferred answer to a
    /// `connection: close` request is written before the connection closes.
    @Test func deferredAnswersLeaveInRequestOrder() throws {
        let served = try Served(limits: Self.limits)
        let connection = try served.connect()
        let paths = ["/later/250", "/now", "/later/10", "/now-again", "/later/50"]
        let requests = paths.map { "GET \($0) HTTP/1.1\r\nhost: x\r\n\r\n" }.joined() + "GET /later/20 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        try connection.write(Array(requests.utf8), deadline: .after(milliseconds: 1_000))
        let answer = served.readAll(connection)
        let order = answer.components(separatedBy: "\"path\":\"").dropFirst().map { $0.prefix { $0 != "\"" } }
        #expect(order == (paths + ["/later/20"]).map { Substring($0) }, "\(answer)")
        #expect(answer.components(separatedBy: "HTTP/1.1 200").count == 7)
        #expect(try served.get("/after").status == 200)
        #expect(Self.eventually { served.server.openConnections == 0 })
    }

    /// A client that asks for large answers and never reads them fills its
    /// socket: the writer thread hands that answer to a thread of its own, so
    /// everyone else's deferred answers still go out. (Were the writer to wait,
    /// it would wait the whole request timeout, 10 s here, and the other
    /// client's 3 s deadline would pass.)
    @Test func aClientThatDoesNotReadDoesNotHoldUpOtherAnswers() throws {
        let served = try Served(limits: HTTPLimits(requestTimeoutMs: 10_000, idleTimeoutMs: 20_000, connectionsMax: 8))
        let stuck = try served.connect()
        let requests = String(repeating: "GET /big-later HTTP/1.1\r\nhost: x\r\n\r\n", count: 12)
        try stuck.write(Array(requests.utf8), deadline: .after(milliseconds: 1_000))
        ProcessControl.pause(ms: 300)
        for round in 0..<3 {
            let answer = try served.get("/later/\(round)")
            #expect(answer.status == 200, "round \(round)")
        }
        stuck.close()
    }

    /// A client that opens a connection and never starts its TLS handshake
    /// holds up only itself: the handshake runs on the connection's thread.
    /// (On the accept thread it held every later client for the 5 s handshake
    /// timeout, longer than this client waits.)
    @Test func aClientThatNeverStartsItsHandshakeDoesNotHoldUpOthers() throws {
        let directory = NSTemporaryDirectory() + "lifeline-http-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try CertificateAuthority.generateCluster(directory: directory, nodes: ["a"], clients: ["ops"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let context = try TLSContext(role: .server, caFile: directory + "/ca.pem", certFile: directory + "/a.pem", keyFile: directory + "/a-key.pem")
        let served = try Served(limits: HTTPLimits(requestTimeoutMs: 2_000, idleTimeoutMs: 10_000, connectionsMax: 8), tls: context)
        let silent = try served.connect()
        defer { silent.close() }
        ProcessControl.pause(ms: 300)  // the accept thread has taken it by now
        let connector = try NodeClient.tlsConnector(caFile: directory + "/ca.pem", certFile: directory + "/ops.pem", keyFile: directory + "/ops-key.pem")
        for round in 0..<3 {
            let answer = try HTTPClient(address: HostPort(host: "127.0.0.1", port: served.port), connector: connector).send("GET", "/after/\(round)", timeoutMs: 3_000)
            #expect(answer.status == 200, "round \(round)")
        }
    }

    static func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = MonotonicClock.deadline(afterMs: 5_000)
        while MonotonicClock.now() < deadline {
            if condition() { return true }
            ProcessControl.pause(ms: 10)
        }
        return condition()
    }
}
