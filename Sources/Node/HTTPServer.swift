import Foundation
import Synchronization
import Transport

/// Something that hands out accepted connections: a TLS listener, or plain TCP
/// on loopback. `accept` blocks; after `close` it throws.
public protocol ConnectionAcceptor: AnyObject, Sendable {
    func acceptConnection() throws -> any Connection
    func close()
}

/// A small HTTP/1.1 server: one accept thread, one thread per connection, at most
/// `limits.connectionsMax` at once (extra connections get 503 and are closed).
///
/// Handlers run on the connection's thread and may block (a write waits for its
/// entry to apply), which is why the connection count is bounded.
public final class HTTPServer: Sendable {
    private let acceptor: any ConnectionAcceptor
    private let limits: HTTPLimits
    private let handler: @Sendable (HTTPRequest) -> HTTPResponse
    private let log: Log
    private let state = Mutex(State())

    struct State {
        var open: [ObjectIdentifier: any Connection] = [:]
        var stopped = false
        var acceptDone = false
    }

    public init(acceptor: any ConnectionAcceptor, limits: HTTPLimits, log: Log, handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        self.acceptor = acceptor
        self.limits = limits
        self.log = log
        self.handler = handler
    }

    /// Starts the accept thread and returns.
    public func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "http-accept"
        thread.start()
    }

    /// Stops accepting, closes every open connection, and returns at once.
    public func stop() {
        let open = state.withLock { state -> [any Connection] in
            state.stopped = true
            return Array(state.open.values)
        }
        acceptor.close()
        for connection in open { connection.close() }
    }

    public var openConnections: Int { state.withLock { $0.open.count } }

    // MARK: - Threads

    private func acceptLoop() {
        while !state.withLock({ $0.stopped }) {
            let connection: any Connection
            do {
                connection = try acceptor.acceptConnection()
            } catch {
                if state.withLock({ $0.stopped }) { break }
                log.debug("http.accept_failed", [("reason", "\(error)")])
                continue
            }
            let admitted = state.withLock { state -> Bool in
                guard !state.stopped, state.open.count < limits.connectionsMax else { return false }
                state.open[ObjectIdentifier(connection)] = connection
                return true
            }
            guard admitted else {
                let busy = HTTPResponse.error(503, code: "busy", message: "too many connections").serialized(keepAlive: false)
                try? connection.write(busy, deadline: MonotonicClock.deadline(afterMs: 1000))
                connection.close()
                continue
            }
            let thread = Thread { [self] in
                serve(connection)
                connection.close()
                _ = state.withLock { $0.open.removeValue(forKey: ObjectIdentifier(connection)) }
            }
            thread.name = "http-conn"
            thread.start()
        }
    }

    /// Serves requests on one connection until it closes, errs, times out or asks to close.
    private func serve(_ connection: any Connection) {
        var buffer: [UInt8] = []
        while true {
            // Idle until the first byte, then the request timeout for the rest.
            var deadline = MonotonicClock.deadline(afterMs: limits.idleTimeoutMs)
            var started = !buffer.isEmpty
            if started { deadline = MonotonicClock.deadline(afterMs: limits.requestTimeoutMs) }
            let request: HTTPRequest
            parsing: while true {
                do {
                    switch try HTTPParser.parseRequest(buffer, limits: limits) {
                    case .message(let parsed, let consumed):
                        request = parsed
                        buffer.removeFirst(consumed)
                        break parsing
                    case .needMore:
                        break
                    }
                } catch {
                    let response = HTTPResponse.error(error.status, code: error.code, message: error.message)
                    try? connection.write(response.serialized(keepAlive: false), deadline: MonotonicClock.deadline(afterMs: 1000))
                    return
                }
                do {
                    let chunk = try connection.read(maxBytes: 16 * 1024, deadline: deadline)
                    buffer += chunk
                    if !started {
                        started = true
                        deadline = MonotonicClock.deadline(afterMs: limits.requestTimeoutMs)
                    }
                } catch {
                    if error == .timedOut && started {
                        let response = HTTPResponse.error(408, code: "request_timeout", message: "the request did not arrive in time")
                        try? connection.write(response.serialized(keepAlive: false), deadline: MonotonicClock.deadline(afterMs: 1000))
                    }
                    return
                }
            }
            var response = handler(request)
            if request.method == "HEAD" { response.body = [] }
            let keepAlive = request.keepAlive && !state.withLock { $0.stopped }
            do {
                try connection.write(response.serialized(keepAlive: keepAlive), deadline: MonotonicClock.deadline(afterMs: limits.requestTimeoutMs))
            } catch {
                return
            }
            if !keepAlive { return }
        }
    }
}
