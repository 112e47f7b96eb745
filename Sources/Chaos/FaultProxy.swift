import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy in front of one node's peer port, for one ordered pair of nodes, in the
/// spirit of Toxiproxy. It forwards plain bytes (the peers' TLS stream passes through
/// unchanged: the proxy holds no keys) and applies live-adjustable `FaultSettings`, one
/// set per direction.
///
/// Threads: one accept thread, one thread per proxied connection; each polls with a
/// timeout of at most `pollIntervalMsMax`, so settings changes, resets and `stop` take
/// effect within that bound. Buffers are bounded (`pipeBytesMax` per direction): when
/// full the proxy stops reading and TCP pushes back on the sender.
public final class FaultProxy: Sendable {
    // MARK: - Limits

    public static let pollIntervalMsMax: Int32 = 20
    public static let chunkBytesMax = 16 * 1024
    public static let pipeBytesMax = 1024 * 1024
    public static let connectionsMax = 256
    public static let connectTimeoutMs: Int32 = 2_000

    // MARK: - State

    struct State {
        var forward = FaultSettings.clean
        var backward = FaultSettings.clean
        var stopping = false
        /// Bumped by `resetConnections`; a connection started under an older generation closes.
        var resetGeneration: UInt64 = 0
        var threadsRunning = 0
        var accepting = false
        var statistics = ProxyStatistics()
    }

    /// A name for logs and reports, e.g. "n1->n2".
    public let name: String
    public let target: ProxyTarget
    /// The port the proxy listens on, on 127.0.0.1.
    public let port: UInt16
    let seed: UInt64
    let state: Mutex<State>

    /// "127.0.0.1:port", what the dialing node must be configured with.
    public var address: String { "127.0.0.1:\(port)" }

    /// Binds 127.0.0.1:`listenPort` (0 picks a free port) and starts accepting.
    public init(name: String, target: ProxyTarget, listenPort: UInt16 = 0, seed: UInt64) throws(ProxyError) {
        let listener = try LoopbackSocket.listen(host: "127.0.0.1", port: listenPort)
        self.name = name
        self.target = target
        self.port = listener.port
        self.seed = seed
        self.state = Mutex(State())
        state.withLock {
            $0.threadsRunning = 1
            $0.accepting = true
        }
        let thread = Thread { [self] in acceptLoop(listenerFD: listener.fd) }
        thread.name = "proxy \(name) accept"
        thread.start()
    }

    // MARK: - Control

    /// The settings of one direction.
    public func settings(_ direction: ProxyDirection) -> FaultSettings {
        state.withLock { direction == .forward ? $0.forward : $0.backward }
    }

    /// Replaces the settings of one direction. Settings out of range are a programmer error.
    public func setSettings(_ direction: ProxyDirection, _ settings: FaultSettings) {
        precondition(settings.problem == nil, "proxy \(name): \(settings.problem ?? "")")
        state.withLock {
            switch direction {
            case .forward: $0.forward = settings
            case .backward: $0.backward = settings
            }
        }
    }

    /// Closes every current connection with a reset; new connections are accepted as usual.
    public func resetConnections() {
        state.withLock { $0.resetGeneration &+= 1 }
    }

    public var statistics: ProxyStatistics {
        state.withLock { state in
            var statistics = state.statistics
            statistics.connectionsActive = state.threadsRunning - (state.accepting ? 1 : 0)
            return statistics
        }
    }

    /// Stops accepting, resets every connection and waits for all threads until `timeoutMs`.
    /// Returns false if some thread was still running at the deadline.
    @discardableResult
    public func stop(timeoutMs: UInt64 = 2_000) -> Bool {
        state.withLock { $0.stopping = true }
        let deadline = MonotonicClock.nowNs() &+ timeoutMs &* 1_000_000
        while MonotonicClock.nowNs() < deadline {
            if state.withLock({ $0.threadsRunning }) == 0 { return true }
            MonotonicClock.pause(ms: 5)
        }
        return state.withLock { $0.threadsRunning } == 0
    }

    // MARK: - Accepting

    private func acceptLoop(listenerFD: Int32) {
        var connectionOrdinal: UInt64 = 0
        defer {
            close(listenerFD)
            state.withLock {
                $0.threadsRunning -= 1
                $0.accepting = false
            }
        }
        while !state.withLock({ $0.stopping }) {
            var entry = pollfd(fd: listenerFD, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Self.pollIntervalMsMax) == 1 else { continue }
            let clientFD = accept(listenerFD, nil, nil)
            guard clientFD >= 0 else { continue }
            let admitted: (Bool, UInt64) = state.withLock { state in
                guard state.threadsRunning - 1 < Self.connectionsMax, !state.stopping else { return (false, 0) }
                state.threadsRunning += 1
                state.statistics.connectionsAccepted += 1
                return (true, state.resetGeneration)
            }
            guard admitted.0 else {
                LoopbackSocket.closeWithReset(clientFD)
                continue
            }
            LoopbackSocket.setNonBlocking(clientFD)
            connectionOrdinal += 1
            let connectionSeed = SeededGenerator.derive(seed, connectionOrdinal)
            let generation = admitted.1
            let thread = Thread { [self] in
                defer { state.withLock { $0.threadsRunning -= 1 } }
                guard let serverFD = try? LoopbackSocket.connect(to: target, timeoutMs: Self.connectTimeoutMs) else {
                    state.withLock { $0.statistics.connectFailures += 1 }
                    LoopbackSocket.closeWithReset(clientFD)
                    return
                }
                var link = ProxiedConnection(
                    proxy: self, clientFD: clientFD, serverFD: serverFD,
                    generation: generation, seed: connectionSeed
                )
                link.run()
            }
            thread.name = "proxy \(name) #\(connectionOrdinal)"
            thread.start()
        }
    }
}

/// Counters a proxy keeps, for tests and the drill report.
public struct ProxyStatistics: Codable, Equatable, Sendable {
    public var connectionsAccepted = 0
    public var connectionsActive = 0
    public var connectFailures = 0
    public var bytesForward: UInt64 = 0
    public var bytesBackward: UInt64 = 0
    /// Chunks that were "lost" once or more (held back as a retransmission).
    public var chunksLost: UInt64 = 0
    /// Connections closed because a chunk was lost more than `FaultSettings.retransmitsMax` times.
    public var lossResets = 0
    public init() {}
}
