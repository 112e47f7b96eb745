#if canImport(Glibc)
import Glibc
#endif

/// Why the proxy could not do what was asked. Expected failures, as values.
public struct ProxyError: Error, Equatable, CustomStringConvertible {
    public var operation: String
    public var detail: String
    public init(operation: String, detail: String) {
        self.operation = operation
        self.detail = detail
    }
    public var description: String { "proxy \(operation) failed: \(detail)" }

    static func errno(_ operation: String) -> ProxyError {
        ProxyError(operation: operation, detail: String(cString: strerror(Glibc.errno)) + " (errno \(Glibc.errno))")
    }
}

/// Where a proxy forwards to: an IPv4 address in dotted form and a port. Drills run on
/// loopback, so names are not resolved.
public struct ProxyTarget: Hashable, Codable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public init(host: String = "127.0.0.1", port: UInt16) {
        self.host = host
        self.port = port
    }
    public var description: String { "\(host):\(port)" }
}

/// The few socket calls the proxy needs, wrapped once. File descriptors are plain Int32
/// owned by exactly one thread (the listener's or a connection's).
enum LoopbackSocket {
    static let listenBacklog: Int32 = 64

    static func address(host: String, port: UInt16) throws(ProxyError) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw ProxyError(operation: "address", detail: "'\(host)' is not a dotted IPv4 address")
        }
        return address
    }

    /// Binds and listens on `host:port` (port 0 picks a free one); returns the fd and the port.
    static func listen(host: String, port: UInt16) throws(ProxyError) -> (fd: Int32, port: UInt16) {
        var address = try address(host: host, port: port)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .errno("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let error = ProxyError.errno("bind \(host):\(port)")
            close(fd)
            throw error
        }
        guard Glibc.listen(fd, listenBacklog) == 0 else {
            let error = ProxyError.errno("listen")
            close(fd)
            throw error
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        setNonBlocking(fd)
        return (fd, UInt16(bigEndian: actual.sin_port))
    }

    /// Connects to `target` within `timeoutMs`; the returned fd is non-blocking.
    static func connect(to target: ProxyTarget, timeoutMs: Int32) throws(ProxyError) -> Int32 {
        var address = try address(host: target.host, port: target.port)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .errno("socket") }
        setNonBlocking(fd)
        let started = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if started != 0 && errno != EINPROGRESS {
            let error = ProxyError.errno("connect \(target)")
            close(fd)
            throw error
        }
        if started != 0 {
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&entry, 1, timeoutMs)
            var socketError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length)
            guard ready == 1, socketError == 0 else {
                close(fd)
                let detail = ready == 1 ? String(cString: strerror(socketError)) : "timed out after \(timeoutMs) ms"
                throw ProxyError(operation: "connect \(target)", detail: detail)
            }
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL, 0)
        precondition(flags >= 0, "fcntl(F_GETFL) on fd \(fd) failed: errno \(errno)")
        precondition(fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0, "fcntl(F_SETFL) on fd \(fd) failed: errno \(errno)")
    }

    /// Closes with an RST (SO_LINGER 0), as a reset link or a dead peer looks to the other side.
    static func closeWithReset(_ fd: Int32) {
        var lingerOption = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lingerOption, socklen_t(MemoryLayout<linger>.size))
        close(fd)
    }
}
