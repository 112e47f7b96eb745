import Foundation
import Synchronization
import Transport

/// Why an HTTP call failed before a response arrived.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A small HTTP/1.1 client with one keep-alive connection, for the CLI, tests and
/// bench. Thread-safe: calls are serialized on the one connection.
public final class HTTPClient: Sendable {
    public typealias Connector = @Sendable (_ address: HostPort, _ deadline: Deadline) throws -> any Connection

    public let address: HostPort
    private let connector: Connector
    private let limits: HTTPLimits
    private let connection = Mutex<(any Connection)?>(nil)
    /// Sent with every request (e.g. the bearer token).
    private let defaultHeaders: [(String, String)]

    /// - Parameter connector: opens a connection (TLS with the ops certificate, or plain TCP).
    public init(address: HostPort, limits: HTTPLimits = HTTPLimits(bodyBytesMax: 64 << 20), headers: [(String, String)] = [],
                connector: @escaping Connector) {
        self.address = address
        self.limits = limits
        self.connector = connector
        defaultHeaders = headers
    }

    deinit {
        connection.withLock { $0?.close() }
    }

    public func close() {
        connection.withLock { current in
            current?.close()
            current = nil
        }
    }

    /// Sends one request and waits for its response until `timeoutMs` passes.
    ///
    /// A request on a reused keep-alive connection that the server had already
    /// closed (no response byte received) is sent once more on a new connection.
    public func send(_ method: String, _ path: String, body: [UInt8] = [], headers: [(String, String)] = [],
                     timeoutMs: UInt64 = 10_000) throws -> HTTPResponse {
        let deadline = MonotonicClock.deadline(afterMs: timeoutMs)
        var head = "\(method) \(path) HTTP/1.1\r\nhost: \(address)\r\ncontent-length: \(body.count)\r\n"
        if !body.isEmpty && !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            head += "content-type: application/json\r\n"
        }
        for (name, value) in defaultHeaders + headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        let bytes = Array(head.utf8) + body
        return try connection.withLock { current throws -> HTTPResponse in
            for attempt in 0..<2 {
                let reused = current != nil
                let conn: any Connection
                if let existing = current {
                    conn = existing
                } else {
                    conn = try connector(address, deadline)
                    current = conn
                }
                do {
                    try conn.write(bytes, deadline: deadline)
                    let (response, closeAfter) = try readResponse(conn, deadline: deadline, idempotent: ["GET", "HEAD", "PUT", "DELETE"].contains(method))
                    if closeAfter {
                        conn.close()
                        current = nil
                    }
                    return response
                } catch let error as RetryableClose where reused && attempt == 0 {
                    _ = error
                    conn.close()
                    current = nil
                    continue
                } catch {
                    conn.close()
                    current = nil
                    if let retry = error as? RetryableClose { throw HTTPClientError(retry.description) }
                    throw error
                }
            }
            throw HTTPClientError("connection to \(address) closed twice")
        }
    }

    /// Sends JSON and returns the response.
    public func sendJSON(_ method: String, _ path: String, json: Any, timeoutMs: UInt64 = 10_000) throws -> HTTPResponse {
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        return try send(method, path, body: Array(data), timeoutMs: timeoutMs)
    }

    struct RetryableClose: Error, CustomStringConvertible {
        var description: String
    }

    /// A reused connection that fails before any response byte was probably closed
    /// by the server while idle: the caller retries once on a new connection, for
    /// any request when the close was clean, only for idempotent ones otherwise.
    private func readResponse(_ conn: any Connection, deadline: Deadline, idempotent: Bool) throws -> (HTTPResponse, Bool) {
        var buffer: [UInt8] = []
        while true {
            switch try HTTPParser.parseResponse(buffer, limits: limits) {
            case .message(let response, _):
                return (response, response.header("connection")?.lowercased() == "close")
            case .needMore:
                do {
                    buffer += try conn.read(maxBytes: 64 * 1024, deadline: deadline)
                } catch {
                    if buffer.isEmpty && (error == .closed || (idempotent && error != .timedOut)) {
                        throw RetryableClose(description: "\(address): \(error)")
                    }
                    throw HTTPClientError("\(address): \(error)")
                }
            }
        }
    }
}

extension HTTPResponse {
    /// The body as a JSON object, or nil.
    public var jsonObject: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }
}
