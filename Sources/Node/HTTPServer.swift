import Foundation
import Synchronization
import Transport

/// Something that hands out accepted connections: a TLS listener, or plain TCP
/// on loopback. `acceptConnection` blocks until a client connects (after
/// `close` it throws) and returns what establishes the connection (the TLS
/// handshake), which the server runs on the connection's own thread: a client
/// that connects and says nothing must not hold up the clients after it.
public protocol ConnectionAcceptor: AnyObject, Sendable {
    func acceptConnection() throws -> @Sendable () throws -> any Connection
    func close()
}

/// A small HTTP/1.1 server: one accept thread, one thread per connection (which
/// also runs its TLS handshake), at most `limits.connectionsMax` at once (extra
/// connections get 503 and are closed), and one writer thread for deferred
/// answers.
///
/// Handlers run on the connection's thread and may block (a read waits for the
/// leader's read index), which is why the connection count is bounded. A write
/// answers with `HTTPResponse.deferred` instead: the connection's thread goes
/// back to reading at once, and when the command applies the writer thread
/// sends the answer (one wake-up per batch of answers, not two per request).
/// Answers leave in request order: each connection keeps a queue of them.
public final class HTTPServer: Sendable {
    private let acceptor: any ConnectionAcceptor
    private let limits: HTTPLimits
    private let handler: @Sendable (HTTPRequest) -> HTTPResponse
    private let log: Log
    /// Admitted connections by number; nil while the handshake runs.
    private let open = Mutex<(connections: [UInt64: any Connection], handshaking: Int, next: UInt64)>(([:], 0, 1))
    /// Set (under `open`'s lock, so no connection is admitted after `stop`
    /// took the list); read without a lock on every request.
    private let stopped = Atomic<Bool>(false)
    private let writer = Inbox<Exchange>(capacity: Int.max)

    /// Answers queued on one connection (pipelined requests) before its thread
    /// waits for them to go out.
    static let queuedAnswersMax = 16
    /// How long a connection's thread waits for room in that queue (every write
    /// is answered within the node's write timeout).
    static let queueWaitMs: UInt64 = 60_000

    public init(acceptor: any ConnectionAcceptor, limits: HTTPLimits, log: Log, handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        self.acceptor = acceptor
        self.limits = limits
        self.log = log
        self.handler = handler
    }

    /// Starts the accept and writer threads and returns.
    public func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "http-accept"
        thread.start()
        let writing = Thread { [self] in writeLoop() }
        writing.name = "http-writer"
        writing.start()
    }

    /// Stops accepting, closes every open connection, and returns at once.
    public func stop() {
        let connections = open.withLock { open -> [any Connection] in
            stopped.store(true, ordering: .releasing)
            return Array(open.connections.values)
        }
        writer.push(Exchange(connection: nil, requestTimeoutMs: 0) { _ in })
        acceptor.close()
        for connection in connections { connection.close() }
    }

    /// Connections served or in their handshake.
    public var openConnections: Int { open.withLock { $0.connections.count + $0.handshaking } }

    // MARK: - Threads

    private func acceptLoop() {
        while !stopped.load(ordering: .acquiring) {
            let establish: @Sendable () throws -> any Connection
            do {
                establish = try acceptor.acceptConnection()
            } catch {
                if stopped.load(ordering: .acquiring) { break }
                log.debug("http.accept_failed", [("reason", "\(error)")])
                continue
            }
            let admitted = open.withLock { open -> Bool in
                guard !stopped.load(ordering: .acquiring), open.connections.count + open.handshaking < limits.connectionsMax else { return false }
                open.handshaking += 1
                return true
            }
            guard admitted else {
                // Over the limit: answered here, one at a time, so a flood of
                // connections does not become a flood of threads.
                guard let connection = establishOrLog(establish) else { continue }
                let busy = HTTPResponse.error(503, code: "busy", message: "too many connections").serialized(keepAlive: false)
                try? connection.write(busy, deadline: MonotonicClock.deadline(afterMs: 1000))
                connection.close()
                continue
            }
            let thread = Thread { [self] in
                let connection = establishOrLog(establish)
                let id = open.withLock { open -> UInt64? in
                    open.handshaking -= 1
                    guard let connection, !stopped.load(ordering: .acquiring) else { return nil }
                    let id = open.next
                    open.next += 1
                    open.connections[id] = connection
                    return id
                }
                guard let connection else { return }
                guard let id else { return connection.close() }
                serve(connection)
                _ = open.withLock { $0.connections.removeValue(forKey: id) }
            }
            thread.name = "http-conn"
            thread.start()
        }
    }

    /// Runs the handshake; a failed one is that client's problem (logged, and
    /// the server keeps serving).
    private func establishOrLog(_ establish: @Sendable () throws -> any Connection) -> (any Connection)? {
        do {
            return try establish()
        } catch {
            log.warning("api.rejected", [("reason", "\(error)")])
            return nil
        }
    }

    /// Sends the answers that became ready, connection by connection, until the
    /// server stops.
    private func writeLoop() {
        while !stopped.load(ordering: .acquiring) {
            for exchange in writer.drain(timeoutNs: 1_000_000_000) { exchange.send(blocking: false) }
        }
    }

    /// Serves requests on one connection until it closes, errs, times out or
    /// asks to close; then closes it, or leaves that to whoever sends its last
    /// queued answer.
    private func serve(_ connection: any Connection) {
        let exchange = Exchange(connection: connection, requestTimeoutMs: limits.requestTimeoutMs) { [writer] in writer.push($0) }
        defer { exchange.release() }
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
                    exchange.answer(HTTPResponse.error(error.status, code: error.code, message: error.message), keepAlive: false)
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
                    if error == .timedOut && !started && exchange.isBusy {
                        // Not idle: the client is waiting for an answer.
                        deadline = MonotonicClock.deadline(afterMs: limits.idleTimeoutMs)
                        continue
                    }
                    if error == .timedOut && started {
                        exchange.answer(HTTPResponse.error(408, code: "request_timeout", message: "the request did not arrive in time"), keepAlive: false)
                    }
                    return
                }
            }
            guard exchange.waitForRoom(below: Self.queuedAnswersMax, timeoutMs: Self.queueWaitMs) else { return }
            var deferrable = request
            deferrable.deferrable = true
            let response = handler(deferrable)
            let keepAlive = request.keepAlive && !stopped.load(ordering: .acquiring)
            exchange.answer(response, keepAlive: keepAlive, head: request.method == "HEAD")
            if !keepAlive { return }
        }
    }
}

/// One connection's answers in request order, shared by its thread, the node
/// loop (which completes deferred answers) and the writer thread (which sends
/// them). The connection's thread writes an answer itself only when nothing is
/// queued before it; otherwise answers go through the queue, and whoever takes
/// the head sends every ready answer in order. Whoever is last closes the
/// connection: its thread when the queue is empty, else the sender.
final class Exchange: Sendable {
    private final class Slot: Sendable {
        let keepAlive: Bool
        let head: Bool
        let make = Mutex<(@Sendable () -> HTTPResponse)?>(nil)
        init(keepAlive: Bool, head: Bool) {
            self.keepAlive = keepAlive
            self.head = head
        }
    }

    private struct State {
        var slots: [Slot] = []
        var sending = false
        var released = false
        var failed = false
        var roomWaiter: DispatchSemaphore?
    }

    private let connection: (any Connection)?
    private let requestTimeoutMs: UInt64
    private let state = Mutex(State())
    /// Schedules `send(blocking: false)` on the writer thread.
    private let onReady: @Sendable (Exchange) -> Void

    init(connection: (any Connection)?, requestTimeoutMs: UInt64, onReady: @escaping @Sendable (Exchange) -> Void) {
        self.connection = connection
        self.requestTimeoutMs = requestTimeoutMs
        self.onReady = onReady
    }

    var isBusy: Bool { state.withLock { !$0.slots.isEmpty } }

    /// Answers the oldest unanswered request: written at once when nothing is
    /// queued and the answer is ready, else queued behind the others. A `head`
    /// answer goes without its body.
    func answer(_ response: HTTPResponse, keepAlive: Bool, head: Bool = false) {
        guard let connection else { return }
        let queued = state.withLock { state -> Slot? in
            guard response.pending != nil || !state.slots.isEmpty else { return nil }
            let slot = Slot(keepAlive: keepAlive, head: head)
            state.slots.append(slot)
            return slot
        }
        guard let slot = queued else {
            var response = response
            if head { response.body = [] }
            let sent = (try? connection.write(response.serialized(keepAlive: keepAlive), deadline: MonotonicClock.deadline(afterMs: requestTimeoutMs))) != nil
            if !sent { connection.close() }
            return
        }
        if let pending = response.pending {
            pending.whenReady { [self] make in fill(slot, make) }
        } else {
            fill(slot) { response }
        }
    }

    private func fill(_ slot: Slot, _ make: @escaping @Sendable () -> HTTPResponse) {
        slot.make.withLock { $0 = make }
        let schedule = state.withLock { state -> Bool in
            guard !state.sending, !state.failed, state.slots.first === slot else { return false }
            state.sending = true
            return true
        }
        if schedule { onReady(self) }
    }

    /// Sends every ready answer at the head of the queue, in order. Without
    /// `blocking` (the writer thread) a client that does not read is left to a
    /// thread of its own rather than holding up everyone else's answers.
    func send(blocking: Bool) {
        guard let connection else { return }
        while true {
            let next = state.withLock { state -> (Slot, @Sendable () -> HTTPResponse)? in
                guard !state.failed, let slot = state.slots.first, let make = slot.make.withLock({ $0 }) else {
                    state.sending = false
                    return nil
                }
                return (slot, make)
            }
            guard let (slot, make) = next else { return finishSending() }
            var response = make()
            if slot.head { response.body = [] }
            let bytes = response.serialized(keepAlive: slot.keepAlive)
            var offset = 0
            var ok = true
            do {
                try connection.write(bytes, from: &offset, deadline: blocking ? MonotonicClock.deadline(afterMs: requestTimeoutMs) : MonotonicClock.now())
            } catch where error == .timedOut && !blocking {
                let sentSoFar = offset
                let rest = Thread { [self] in
                    var offset = sentSoFar
                    let done = (try? connection.write(bytes, from: &offset, deadline: MonotonicClock.deadline(afterMs: requestTimeoutMs))) != nil
                    sent(slot, ok: done)
                    send(blocking: true)
                }
                rest.name = "http-slow-write"
                rest.start()
                return
            } catch {
                ok = false
            }
            sent(slot, ok: ok)
        }
    }

    /// The head answer went out (or failed): drop it, wake a thread waiting for
    /// room, and after a failure or a closing answer, fail the rest.
    private func sent(_ slot: Slot, ok: Bool) {
        let waiter = state.withLock { state -> DispatchSemaphore? in
            if state.slots.first === slot { state.slots.removeFirst() }
            if !ok || !slot.keepAlive { state.failed = true }
            defer { state.roomWaiter = nil }
            return state.roomWaiter
        }
        if !ok || !slot.keepAlive { connection?.close() }
        waiter?.signal()
    }

    /// The sender stopped (queue empty or head not ready): closes the connection
    /// when its thread is done with it and nothing is left to send.
    private func finishSending() {
        let close = state.withLock { $0.released && ($0.slots.isEmpty || $0.failed) }
        if close { connection?.close() }
    }

    /// Waits until fewer than `limit` answers are queued; false on timeout or
    /// when the connection failed.
    func waitForRoom(below limit: Int, timeoutMs: UInt64) -> Bool {
        let deadline = MonotonicClock.deadline(afterMs: timeoutMs)
        while true {
            let signal = state.withLock { state -> DispatchSemaphore?? in
                if state.failed { return .some(nil) }
                guard state.slots.count >= limit else { return nil }
                let signal = DispatchSemaphore(value: 0)
                state.roomWaiter = signal
                return signal
            }
            switch signal {
            case .none: return true
            case .some(.none): return false
            case .some(.some(let signal)):
                guard MonotonicClock.now() < deadline else { return false }
                _ = signal.wait(timeout: .now() + .milliseconds(100))
            }
        }
    }

    /// The connection's thread is done: closes the connection now when nothing
    /// is queued, else the sender of the last answer does.
    func release() {
        let close = state.withLock { state -> Bool in
            state.released = true
            return state.slots.isEmpty || state.failed
        }
        if close { connection?.close() }
    }
}
