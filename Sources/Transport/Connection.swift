/// A point in time on the monotonic clock, in nanoseconds since an arbitrary origin.
/// Only the shell reads the clock; deadlines are passed in as values of this type.
public struct Deadline: Comparable, Sendable {
    public var uptimeNs: UInt64

    public init(uptimeNs: UInt64) {
        self.uptimeNs = uptimeNs
    }

    public static func < (lhs: Deadline, rhs: Deadline) -> Bool {
        lhs.uptimeNs < rhs.uptimeNs
    }
}

/// Why a connection failed. A struct with a private base, in the style of
/// swift-nio's errors, so new cases never break callers.
public struct ConnectionError: Error, Equatable, CustomStringConvertible {
    private enum Base: Equatable {
        case closed
        case timedOut
        case handshake(String)
        case peerIdentity(String)
        case io(String)
        case protocolViolation(String)
    }

    private let base: Base

    /// The peer closed the connection cleanly.
    public static let closed = ConnectionError(base: .closed)
    /// A deadline passed before the operation finished.
    public static let timedOut = ConnectionError(base: .timedOut)
    /// The TLS handshake failed (wrong CA, wrong protocol version, ...).
    public static func handshake(_ reason: String) -> ConnectionError { ConnectionError(base: .handshake(reason)) }
    /// The peer's certificate does not name who it claims to be.
    public static func peerIdentity(_ reason: String) -> ConnectionError { ConnectionError(base: .peerIdentity(reason)) }
    /// A system call failed.
    public static func io(_ reason: String) -> ConnectionError { ConnectionError(base: .io(reason)) }
    /// The bytes received break the protocol (bad frame, oversized, unknown).
    public static func protocolViolation(_ reason: String) -> ConnectionError { ConnectionError(base: .protocolViolation(reason)) }

    public var description: String {
        switch base {
        case .closed: "connection closed by peer"
        case .timedOut: "timed out"
        case .handshake(let reason): "TLS handshake failed: \(reason)"
        case .peerIdentity(let reason): "peer identity rejected: \(reason)"
        case .io(let reason): "I/O error: \(reason)"
        case .protocolViolation(let reason): "protocol violation: \(reason)"
        }
    }
}

/// A bidirectional byte stream: a TLS connection, or plain TCP for a loopback
/// dashboard. The peer link and the HTTP layer are written against this.
///
/// Not thread-safe for concurrent reads or concurrent writes: one reader and one
/// writer at a time. `close` may be called from any thread and unblocks both.
public protocol Connection: AnyObject, Sendable {
    /// Reads at least one and at most `maxBytes` bytes, blocking until data arrives,
    /// the peer closes (`ConnectionError.closed`) or `deadline` passes (`.timedOut`).
    func read(maxBytes: Int, deadline: Deadline?) throws(ConnectionError) -> [UInt8]

    /// Writes `bytes` from `offset` on, advancing `offset` as bytes leave, and
    /// blocks until all are written or `deadline` passes. On a throw `offset`
    /// says how far it got, so a caller may finish the write later (from the
    /// same or another thread, never two at once).
    func write(_ bytes: [UInt8], from offset: inout Int, deadline: Deadline?) throws(ConnectionError)

    /// Reads what has arrived, without waiting: at most `maxBytes` bytes, or
    /// none when nothing is ready (then wait for `descriptor` to turn readable).
    /// A full buffer may mean more is ready: call again until it returns none.
    /// Throws `.closed` at the end of the stream.
    func readAvailable(maxBytes: Int) throws(ConnectionError) -> [UInt8]

    /// The socket, for a caller that waits for many connections at once (``Poller``).
    var descriptor: Int32 { get }

    /// Closes the connection; pending and later reads and writes fail.
    func close()

    /// The names the peer's certificate carries (subject alternative names and the
    /// common name); empty for plain TCP.
    var peerNames: [String] { get }

    /// "host:port" of the remote end, for logs.
    var remoteAddress: String { get }
}

extension Connection {
    /// Writes all of `bytes`, blocking until written or `deadline` passes.
    public func write(_ bytes: [UInt8], deadline: Deadline?) throws(ConnectionError) {
        var offset = 0
        try write(bytes, from: &offset, deadline: deadline)
    }
}
