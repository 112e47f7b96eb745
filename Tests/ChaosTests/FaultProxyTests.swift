import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Chaos

@Suite(.serialized)
struct FaultProxyTests {
    static func payload(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    @Test func bytesPassUnchangedBothWays() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try FaultProxy(name: "a->b", target: ProxyTarget(port: echo.port), seed: 1)
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        let data = Self.payload(300_000, seed: 7)
        client.send(data)
        let answer = client.receive(count: data.count, timeoutMs: 10_000)
        #expect(answer.end == .complete)
        #expect(answer.bytes == data)
        let statistics = proxy.statistics
        #expect(statistics.bytesForward == UInt64(data.count))
        #expect(statistics.bytesBackward == UInt64(data.count))
    }

    @Test func latencyDelaysEveryRoundTrip() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try FaultProxy(name: "a->b", target: ProxyTarget(port: echo.port), seed: 2)
        defer { proxy.stop() }
        proxy.setSettings(.forward, FaultSettings(latencyMs: 60, jitterMs: 20))
        proxy.setSettings(.backward, FaultSettings(latencyMs: 40))
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        for round in 0..<3 {
            let data = Self.payload(1_000, seed: UInt64(round))
            let started = MonotonicClock.nowNs()
            client.send(data)
            let answer = client.receive(count: data.count, timeoutMs: 5_000)
            let elapsedMs = (MonotonicClock.nowNs() - started) / 1_000_000
            #expect(answer.bytes == data)
            // A lower bound only: 60 ms out plus 40 ms back is the least the proxy may add.
            #expect(elapsedMs >= 100, "round \(round) took \(elapsedMs) ms")
        }
    }

    @Test func lossWithinBudgetDelaysButKeepsTheStreamIntact() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try FaultProxy(name: "a->b", target: ProxyTarget(port: echo.port), seed: 3)
        defer { proxy.stop() }
        proxy.setSettings(.forward, FaultSettings(dropChunkProbability: 0.3, retransmitDelayMs: 5))
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        var received: [UInt8] = []
        var sent: [UInt8] = []
        for round in 0..<20 {
            let data = Self.payload(200, seed: 100 + UInt64(round))
            client.send(data)
            sent += data
            let answer = client.receive(count: data.count, timeoutMs: 5_000)
            received += answer.bytes
            if answer.end != .complete { break }
        }
        let statistics = proxy.statistics
        // Either the stream arrived intact, or TCP "gave up" and the connection was reset:
        // never corrupted bytes.
        #expect(received == Array(sent.prefix(received.count)))
        #expect(statistics.chunksLost > 0)
        #expect(received.count == sent.count || statistics.lossResets > 0)
    }

    @Test func certainLossResetsTheConnection() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try FaultProxy(name: "a->b", target: ProxyTarget(port: echo.port), seed: 4)
        defer { proxy.stop() }
        proxy.setSettings(.forward, FaultSettings(dropChunkProbability: 1))
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        client.send([1, 2, 3])
        let answer = client.receive(count: 3, timeoutMs: 5_000)
        #expect(answer.end == .closed)
        #expect(proxy.statistics.lossResets == 1)
    }

    @Test func blackholeStopsTrafficAndHealResumesIt() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try FaultProxy(name: "a->b", target: ProxyTarget(port: echo.port), seed: 5)
        defer { proxy.stop() }
        let existing = try TestClient(port: proxy.port)
        defer { existing.close() }
        existing.send([9])
        #expect(existing.receive(count: 1, timeoutMs: 5_000).bytes == [9])

        proxy.setSettings(.forward, FaultSettings(blackhole: true))
        proxy.setSettings(.backward, FaultSettings(blackhole: true))
        existing.send([1, 2, 3])
        let fresh = try TestClient(port: proxy.port)
        defer { fresh.close() }
        fresh.send([4, 5, 6])
        // Nothing may come back while the link is a blackhole (a bounded absence check).
        #expect(existing.receive(count: 3, timeoutMs: 300).bytes.isEmpty)
        #expect(fresh.receive(count: 3, timeoutMs: 300).bytes.isEmpty)

        proxy.setSettings(.forward, .clean)
        proxy.setSettings(.backward, .clean)
        let afterHeal = try TestClient(port: proxy.port)
        defer { afterHeal.close() }
        afterHeal.send([7, 8])
        #expect(afterHeal.receive(count: 2, timeoutMs: 5_000).bytes == [7, 8])
        // Bytes held during a short partition flow again, in order, like TCP after a blip.
        #expect(existing.receive(count: 3, timeoutMs: 5_000).bytes == [1, 2, 3])
        #expect(fresh.receive(count: 3, timeoutMs: 5_000).bytes == [4, 5, 6])
    }

    @Test func resetClosesEveryConnectionAndNewOnesWork() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try FaultProxy(name: "a->b", target: ProxyTarget(port: echo.port), seed: 6)
        defer { proxy.stop() }
        let first = try TestClient(port: proxy.port)
        defer { first.close() }
        let second = try TestClient(port: proxy.port)
        defer { second.close() }
        first.send([1])
        second.send([2])
        #expect(first.receive(count: 1, timeoutMs: 5_000).bytes == [1])
        #expect(second.receive(count: 1, timeoutMs: 5_000).bytes == [2])

        proxy.resetConnections()
        #expect(first.receive(count: 1, timeoutMs: 5_000).end == .closed)
        #expect(second.receive(count: 1, timeoutMs: 5_000).end == .closed)

        let third = try TestClient(port: proxy.port)
        defer { third.close() }
        third.send([3])
        #expect(third.receive(count: 1, timeoutMs: 5_000).bytes == [3])
    }

    @Test func bandwidthLimitSlowsABulkTransfer() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try FaultProxy(name: "a->b", target: ProxyTarget(port: echo.port), seed: 7)
        defer { proxy.stop() }
        proxy.setSettings(.forward, FaultSettings(bandwidthBytesPerSecond: 100_000))
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        let data = Self.payload(50_000, seed: 8)
        let started = MonotonicClock.nowNs()
        client.send(data)
        let answer = client.receive(count: data.count, timeoutMs: 10_000)
        let elapsedMs = (MonotonicClock.nowNs() - started) / 1_000_000
        #expect(answer.bytes == data)
        // 50 kB at 100 kB/s cannot take less than (a bit under) half a second.
        #expect(elapsedMs >= 400, "took \(elapsedMs) ms")
    }

    @Test func halfCloseIsPassedOnAfterDelayedBytes() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try FaultProxy(name: "a->b", target: ProxyTarget(port: echo.port), seed: 10)
        defer { proxy.stop() }
        proxy.setSettings(.forward, FaultSettings(latencyMs: 80))
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        client.send([1, 2, 3])
        shutdown(client.fd, Int32(SHUT_WR))
        // The FIN must not overtake the delayed bytes: the echo server sees them, answers,
        // then closes, and the client gets the answer followed by the close.
        let answer = client.receive(count: 4, timeoutMs: 5_000)
        #expect(answer.bytes == [1, 2, 3])
        #expect(answer.end == .closed)
    }

    /// The server gives up on a connection while it is cut off (a peer's idle timeout
    /// firing during a partition). After the heal, the client, which only writes, must
    /// learn of it from a failed write, as it would from the server's RST on a real
    /// network; otherwise its bytes vanish into the proxy forever.
    @Test func aServerCloseDuringABlackholeReachesAWritingClientAfterTheHeal() throws {
        let listener = try LoopbackSocket.listen(host: "127.0.0.1", port: 0)
        defer { close(listener.fd) }
        let proxy = try FaultProxy(name: "a->b", target: ProxyTarget(port: listener.port), seed: 12)
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        var entry = pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0)
        #expect(poll(&entry, 1, 5_000) == 1)
        let server = accept(listener.fd, nil, nil)
        try #require(server >= 0)
        client.send([1])

        proxy.setSettings(.forward, FaultSettings(blackhole: true))
        proxy.setSettings(.backward, FaultSettings(blackhole: true))
        client.send([2])
        close(server)
        MonotonicClock.pause(ms: 200)
        proxy.setSettings(.forward, .clean)
        proxy.setSettings(.backward, .clean)

        // Keep writing, as a follower answering heartbeats does, for at most 5 s.
        var failed = false
        let deadline = MonotonicClock.nowNs() + 5_000_000_000
        while !failed && MonotonicClock.nowNs() < deadline {
            let sent = [UInt8](repeating: 3, count: 64).withUnsafeBytes { Glibc.send(client.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 && errno != EAGAIN && errno != EINTR { failed = true }
            MonotonicClock.pause(ms: 20)
        }
        #expect(failed, "the client's writes kept succeeding after the server closed")
    }

    @Test func stopEndsEveryThread() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try FaultProxy(name: "a->b", target: ProxyTarget(port: echo.port), seed: 9)
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        client.send([1])
        #expect(client.receive(count: 1, timeoutMs: 5_000).bytes == [1])
        #expect(proxy.statistics.connectionsActive == 1)
        #expect(proxy.stop())
        #expect(proxy.statistics.connectionsActive == 0)
        #expect(client.receive(count: 1, timeoutMs: 5_000).end == .closed)
    }
}
