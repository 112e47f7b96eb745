import Glibc
import Synchronization

/// A listening TCP socket. Port 0 picks a free port; `port` tells which.
public final class TCPListener: @unchecked Sendable {
    private let fd: Int32
    private let closed = Atomic<Bool>(false)
    public let host: String
    public let port: UInt16

    /// The most connections waiting to be accepted (the kernel caps it at
    /// net.core.somaxconn). 128 made some of 256 clients connecting at once fail.
    public static let backlogMax: Int32 = 1024

    public init(host: String, port: UInt16) throws(ConnectionError) {
        var address = try Socket.address(host: host, port: port)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .io(Socket.errorText("socket")) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, Self.backlogMax) == 0 else {
            let text = Socket.errorText("listen on \(host):\(port)")
            Glibc.close(fd)
            throw .io(text)
        }
        Socket.setNonBlocking(fd)
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        self.host = host
        self.port = UInt16(bigEndian: actual.sin_port)
    }

    deinit { Glibc.close(fd) }

    /// The next connected socket, or nil when `deadline` passes first.
    public func acceptSocket(deadline: Deadline?) throws(ConnectionError) -> Int32? {
        while true {
            if closed.load(ordering: .acquiring) { throw .closed }
            let client = accept(fd, nil, nil)
            if client >= 0 {
                Socket.setNonBlocking(client)
                Socket.setNoDelay(client)
                return client
            }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED else {
                if closed.load(ordering: .acquiring) { throw .closed }
                throw .io(Socket.errorText("accept"))
            }
            // Short polls so that close() is noticed promptly.
            let slice = Deadline.after(milliseconds: 200)
            let wait = deadline.map { min($0, slice) } ?? slice
            if try !Socket.wait(fd, events: Int16(POLLIN), deadline: wait), let deadline, deadline <= Deadline.after(milliseconds: 0) {
                return nil
            }
        }
    }

    /// Accepts and completes a TLS handshake. A failed handshake throws; the
    /// listener itself keeps serving.
    public func acceptTLS(context: TLSContext, handshakeTimeoutMs: Int, deadline: Deadline?) throws(ConnectionError) -> TLSConnection? {
        guard let client = try acceptSocket(deadline: deadline) else { return nil }
        return try TLSConnection.handshake(fd: client, context: context, expectedPeer: nil, deadline: .after(milliseconds: handshakeTimeoutMs))
    }

    /// Accepts a socket and returns its TLS handshake for the caller to run
    /// on another thread, so that a client that connects and then says
    /// nothing holds up only itself, not every connection after it. The
    /// handshake closes the socket when it fails; call it exactly once.
    public func acceptForTLS(context: TLSContext, handshakeTimeoutMs: Int,
                             deadline: Deadline?) throws(ConnectionError) -> (@Sendable () throws(ConnectionError) -> TLSConnection)? {
        guard let client = try acceptSocket(deadline: deadline) else { return nil }
        return { () throws(ConnectionError) -> TLSConnection in
            try TLSConnection.handshake(fd: client, context: context, expectedPeer: nil, deadline: .after(milliseconds: handshakeTimeoutMs))
        }
    }

    public func acceptPlain(deadline: Deadline?) throws(ConnectionError) -> PlainConnection? {
        guard let client = try acceptSocket(deadline: deadline) else { return nil }
        return PlainConnection(fd: client)
    }

    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(fd, Int32(SHUT_RDWR))
    }
}
