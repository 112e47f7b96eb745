#if canImport(Glibc)
import Glibc
#endif

/// One direction of a proxied connection: chunks read from `source`, each with the
/// monotonic time at which it may be written to `destination`.
struct Pipe {
    let direction: ProxyDirection
    var chunks: [(releaseNs: UInt64, bytes: [UInt8])] = []
    var head = 0
    var writeOffset = 0
    var queuedBytes = 0
    /// When the last chunk is released; later chunks never overtake it (TCP keeps order).
    var lastReleaseNs: UInt64 = 0
    var sourceClosed = false
    var shutdownSent = false

    init(direction: ProxyDirection) { self.direction = direction }

    var isEmpty: Bool { head == chunks.count }

    mutating func push(_ bytes: [UInt8], releaseNs: UInt64) {
        chunks.append((releaseNs, bytes))
        queuedBytes += bytes.count
        lastReleaseNs = releaseNs
    }

    mutating func popHead() {
        queuedBytes -= chunks[head].bytes.count
        head += 1
        writeOffset = 0
        if head == chunks.count {
            chunks.removeAll(keepingCapacity: true)
            head = 0
        }
    }
}

/// The loop of one proxied connection: poll both sockets, read into bounded pipes with
/// release times computed from the current settings, write what is due. Owns both fds.
struct ProxiedConnection {
    let proxy: FaultProxy
    let clientFD: Int32
    let serverFD: Int32
    let generation: UInt64
    var random: SeededGenerator
    var forward = Pipe(direction: .forward)
    var backward = Pipe(direction: .backward)

    init(proxy: FaultProxy, clientFD: Int32, serverFD: Int32, generation: UInt64, seed: UInt64) {
        self.proxy = proxy
        self.clientFD = clientFD
        self.serverFD = serverFD
        self.generation = generation
        self.random = SeededGenerator(seed: seed)
    }

    enum Step { case keepGoing, closeCleanly, reset }

    mutating func run() {
        var outcome = Step.keepGoing
        while outcome == .keepGoing {
            outcome = step()
        }
        if outcome == .reset {
            LoopbackSocket.closeWithReset(clientFD)
            LoopbackSocket.closeWithReset(serverFD)
        } else {
            close(clientFD)
            close(serverFD)
        }
    }

    /// One poll round. Every wait is bounded by `FaultProxy.pollIntervalMsMax`.
    private mutating func step() -> Step {
        let snapshot = proxy.state.withLock { ($0.stopping, $0.resetGeneration, $0.forward, $0.backward) }
        if snapshot.0 || snapshot.1 != generation { return .reset }
        let forwardSettings = snapshot.2
        let backwardSettings = snapshot.3
        let now = MonotonicClock.nowNs()

        let readForward = !forward.sourceClosed && !forwardSettings.blackhole && forward.queuedBytes < FaultProxy.pipeBytesMax
        let readBackward = !backward.sourceClosed && !backwardSettings.blackhole && backward.queuedBytes < FaultProxy.pipeBytesMax
        let writeForward = !forwardSettings.blackhole && !forward.isEmpty && forward.chunks[forward.head].releaseNs <= now
        let writeBackward = !backwardSettings.blackhole && !backward.isEmpty && backward.chunks[backward.head].releaseNs <= now

        var timeoutMs = FaultProxy.pollIntervalMsMax
        for (pipe, settings) in [(forward, forwardSettings), (backward, backwardSettings)]
        where !settings.blackhole && !pipe.isEmpty && pipe.chunks[pipe.head].releaseNs > now {
            let waitMs = Int32(min(UInt64(FaultProxy.pollIntervalMsMax), (pipe.chunks[pipe.head].releaseNs - now) / 1_000_000 + 1))
            timeoutMs = min(timeoutMs, waitMs)
        }

        // A socket with nothing to wait for is left out (fd -1): poll would otherwise keep
        // reporting a hang-up on it and spin.
        let clientEvents = Int16((readForward ? POLLIN : 0) | (writeBackward ? POLLOUT : 0))
        let serverEvents = Int16((readBackward ? POLLIN : 0) | (writeForward ? POLLOUT : 0))
        var entries = [
            pollfd(fd: clientEvents == 0 ? -1 : clientFD, events: clientEvents, revents: 0),
            pollfd(fd: serverEvents == 0 ? -1 : serverFD, events: serverEvents, revents: 0),
        ]
        let ready = poll(&entries, 2, timeoutMs)
        if ready < 0 { return errno == EINTR ? .keepGoing : .reset }
        if entries.contains(where: { $0.revents & Int16(POLLERR | POLLNVAL) != 0 }) { return .reset }
        // A hang-up with nothing left to read is the end of that side's stream; what is
        // still queued for the other side is delivered before the FIN is passed on.
        if entries[0].revents & Int16(POLLHUP) != 0 && entries[0].revents & Int16(POLLIN) == 0 { forward.sourceClosed = true }
        if entries[1].revents & Int16(POLLHUP) != 0 && entries[1].revents & Int16(POLLIN) == 0 { backward.sourceClosed = true }

        if entries[0].revents & Int16(POLLIN) != 0, Self.readOne(from: clientFD, into: &forward, settings: forwardSettings, random: &random, proxy: proxy) == .reset {
            return .reset
        }
        if entries[1].revents & Int16(POLLIN) != 0, Self.readOne(from: serverFD, into: &backward, settings: backwardSettings, random: &random, proxy: proxy) == .reset {
            return .reset
        }
        if entries[1].revents & Int16(POLLOUT) != 0, Self.writeDue(to: serverFD, from: &forward, proxy: proxy) == .reset { return .reset }
        if entries[0].revents & Int16(POLLOUT) != 0, Self.writeDue(to: clientFD, from: &backward, proxy: proxy) == .reset { return .reset }

        Self.propagateHalfClose(&forward, to: serverFD)
        Self.propagateHalfClose(&backward, to: clientFD)
        if forward.shutdownSent && backward.shutdownSent { return .closeCleanly }
        return .keepGoing
    }

    private static func readOne(
        from fd: Int32, into pipe: inout Pipe, settings: FaultSettings, random: inout SeededGenerator, proxy: FaultProxy
    ) -> Step {
        var buffer = [UInt8](repeating: 0, count: FaultProxy.chunkBytesMax)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count == 0 {
            pipe.sourceClosed = true
            return .keepGoing
        }
        if count < 0 { return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? .keepGoing : .reset }
        buffer.removeSubrange(count...)
        guard let releaseNs = schedule(byteCount: count, after: pipe.lastReleaseNs, settings: settings, random: &random, proxy: proxy) else {
            proxy.state.withLock { $0.statistics.lossResets += 1 }
            return .reset
        }
        pipe.push(buffer, releaseNs: releaseNs)
        return .keepGoing
    }

    /// When a chunk read now may be written, or nil when its losses exceed the
    /// retransmission budget and the connection must be reset (TCP gave up).
    private static func schedule(
        byteCount: Int, after previousReleaseNs: UInt64, settings: FaultSettings,
        random: inout SeededGenerator, proxy: FaultProxy
    ) -> UInt64? {
        let now = MonotonicClock.nowNs()
        var delayNs = UInt64(settings.latencyMs) * 1_000_000
        if settings.jitterMs > 0 {
            delayNs += UInt64(random.nextUnit() * Double(settings.jitterMs) * 1_000_000)
        }
        var losses: UInt32 = 0
        while settings.dropChunkProbability > 0 && random.nextUnit() < settings.dropChunkProbability {
            losses += 1
            if losses > FaultSettings.retransmitsMax { return nil }
            delayNs += UInt64(settings.retransmitDelayMs) * 1_000_000 << (losses - 1)
        }
        if losses > 0 { proxy.state.withLock { $0.statistics.chunksLost += 1 } }
        var releaseNs = now + delayNs
        if settings.bandwidthBytesPerSecond > 0 {
            let transmitNs = UInt64(byteCount) * 1_000_000_000 / settings.bandwidthBytesPerSecond
            releaseNs = max(releaseNs, previousReleaseNs) + transmitNs
        }
        return max(releaseNs, previousReleaseNs)
    }

    private static func writeDue(to fd: Int32, from pipe: inout Pipe, proxy: FaultProxy) -> Step {
        let now = MonotonicClock.nowNs()
        while !pipe.isEmpty && pipe.chunks[pipe.head].releaseNs <= now {
            let offset = pipe.writeOffset
            let sent = pipe.chunks[pipe.head].bytes.withUnsafeBytes { bytes in
                send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 { return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? .keepGoing : .reset }
            let direction = pipe.direction
            proxy.state.withLock {
                if direction == .forward { $0.statistics.bytesForward += UInt64(sent) } else { $0.statistics.bytesBackward += UInt64(sent) }
            }
            pipe.writeOffset += sent
            if pipe.writeOffset < pipe.chunks[pipe.head].bytes.count { return .keepGoing }
            pipe.popHead()
        }
        return .keepGoing
    }

    /// The source finished sending and everything it sent is delivered: pass the FIN on.
    private static func propagateHalfClose(_ pipe: inout Pipe, to fd: Int32) {
        guard pipe.sourceClosed, pipe.isEmpty, !pipe.shutdownSent else { return }
        shutdown(fd, Int32(SHUT_WR))
        pipe.shutdownSent = true
    }
}
