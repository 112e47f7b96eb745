import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
@testable import Chaos

/// A small echo server on 127.0.0.1 for the proxy tests: every byte read is written back.
/// Every wait is bounded; `stop` ends the accept thread and all connection threads.
final class EchoServer: Sendable {
    let port: UInt16
    private let stopping = Mutex(false)
    private let running = Mutex(0)

    init() throws {
        let listener = try LoopbackSocket.listen(host: "127.0.0.1", port: 0)
        port = listener.port
        running.withLock { $0 = 1 }
        Thread { [self] in acceptLoop(listener.fd) }.start()
    }

    private func acceptLoop(_ listenerFD: Int32) {
        defer {
            close(listenerFD)
            running.withLock { $0 -= 1 }
        }
        while !stopping.withLock({ $0 }) {
            var entry = pollfd(fd: listenerFD, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 20) == 1 else { continue }
            let fd = accept(listenerFD, nil, nil)
            guard fd >= 0 else { continue }
            running.withLock { $0 += 1 }
            Thread { [self] in echo(fd) }.start()
        }
    }

    private func echo(_ fd: Int32) {
        defer {
            close(fd)
            running.withLock { $0 -= 1 }
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !stopping.withLock({ $0 }) {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 20) == 1 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return }
            var offset = 0
            while offset < count {
                let sent = buffer.withUnsafeBytes { send(fd, $0.baseAddress! + offset, count - offset, Int32(MSG_NOSIGNAL)) }
                if sent <= 0 { return }
                offset += sent
            }
        }
    }

    func stop() {
        stopping.withLock { $0 = true }
        let deadline = MonotonicClock.nowNs() + 2_000_000_000
        while running.withLock({ $0 }) > 0 && MonotonicClock.nowNs() < deadline { usleep(5_000) }
    }
}

/// A blocking test client with deadlines on every read.
struct TestClient {
    let fd: Int32

    init(port: UInt16) throws {
        fd = try LoopbackSocket.connect(to: ProxyTarget(port: port), timeoutMs: 2_000)
    }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        let deadline = MonotonicClock.nowNs() + 5_000_000_000
        while offset < bytes.count && MonotonicClock.nowNs() < deadline {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent > 0 { offset += sent } else {
                var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&entry, 1, 20)
            }
        }
    }

    enum ReadEnd: Equatable { case complete, timedOut, closed }

    /// Reads until `count` bytes arrived, the peer closed, or `timeoutMs` passed.
    func receive(count: Int, timeoutMs: UInt64) -> (bytes: [UInt8], end: ReadEnd) {
        var received: [UInt8] = []
        let deadline = MonotonicClock.nowNs() + timeoutMs * 1_000_000
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while received.count < count {
            let now = MonotonicClock.nowNs()
            guard now < deadline else { return (received, .timedOut) }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let waitMs = Int32(min(20, (deadline - now) / 1_000_000 + 1))
            guard poll(&entry, 1, waitMs) == 1 else { continue }
            let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - received.count), 0) }
            if got == 0 { return (received, .closed) }
            if got < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                return (received, .closed)
            }
            received += buffer[0..<got]
        }
        return (received, .complete)
    }

    func close() { Glibc.close(fd) }
}
