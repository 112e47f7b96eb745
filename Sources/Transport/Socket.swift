import Glibc

/// Monotonic time, for deadlines.
public func uptimeNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

extension Deadline {
    /// A deadline `milliseconds` from now.
    public static func after(milliseconds: Int) -> Deadline {
        Deadline(uptimeNs: uptimeNanoseconds() + UInt64(max(0, milliseconds)) * 1_000_000)
    }

    /// Milliseconds left, for poll(); 0 when past.
    var remainingMs: Int32 {
        let now = uptimeNanoseconds()
        guard uptimeNs > now else { return 0 }
        return Int32(min(UInt64(Int32.max), (uptimeNs - now + 999_999) / 1_000_000))
    }
}

/// Thin helpers over POSIX sockets. File descriptors are closed by their owner.
enum Socket {
    static func errorText(_ what: String) -> String {
        "\(what): \(String(cString: strerror(errno)))"
    }

    /// Parses "host:port" (IPv4 dotted quad or "localhost").
    static func address(host: String, port: UInt16) throws(ConnectionError) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        let name = host == "localhost" ? "127.0.0.1" : host
        guard inet_pton(AF_INET, name, &address.sin_addr) == 1 else {
            throw .io("'\(host)' is not an IPv4 address")
        }
        return address
    }

    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Waits until `fd` is ready for `events`; false on timeout.
    static func wait(_ fd: Int32, events: Int16, deadline: Deadline?) throws(ConnectionError) -> Bool {
        while true {
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let timeout = deadline?.remainingMs ?? 1000
            let result = poll(&entry, 1, timeout)
            if result > 0 { return true }
            if result == 0 {
                if deadline != nil { return false }
                continue
            }
            if errno == EINTR { continue }
            throw .io(errorText("poll"))
        }
    }

    /// Connects a non-blocking TCP socket to host:port before `deadline`.
    static func connect(host: String, port: UInt16, deadline: Deadline) throws(ConnectionError) -> Int32 {
        var address = try address(host: host, port: port)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .io(errorText("socket")) }
        setNonBlocking(fd)
        setNoDelay(fd)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 {
            guard errno == EINPROGRESS else {
                let text = errorText("connect to \(host):\(port)")
                close(fd)
                throw .io(text)
            }
            let ready: Bool
            do {
                ready = try wait(fd, events: Int16(POLLOUT), deadline: deadline)
            } catch {
                close(fd)
                throw error
            }
            guard ready else {
                close(fd)
                throw .timedOut
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else {
                close(fd)
                throw .io("connect to \(host):\(port): \(String(cString: strerror(error)))")
            }
        }
        return fd
    }

    static func remoteAddress(_ fd: Int32) -> String {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard result == 0 else { return "?" }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &address.sin_addr, &text, socklen_t(text.count))
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + ":\(UInt16(bigEndian: address.sin_port))"
    }
}
