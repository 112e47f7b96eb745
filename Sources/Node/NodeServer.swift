import CShims
import Foundation
import Glibc
import Raft
import Storage
import Transport
import Vault

/// Accepts API connections: TLS with the node's certificate, or plain TCP when
/// the config allows it (loopback dashboards).
final class APIAcceptor: ConnectionAcceptor, @unchecked Sendable {
    private let listener: TCPListener
    private let context: TLSContext?
    private let log: Log

    init(listener: TCPListener, context: TLSContext?, log: Log) {
        self.listener = listener
        self.context = context
        self.log = log
    }

    func acceptConnection() throws -> @Sendable () throws -> any Connection {
        while true {
            if let context {
                if let handshake = try listener.acceptForTLS(context: context, handshakeTimeoutMs: 5_000, deadline: nil) {
                    return { () throws -> any Connection in try handshake() }
                }
            } else if let connection = try listener.acceptPlain(deadline: nil) {
                return { connection }
            }
        }
    }

    func close() { listener.close() }
}

/// `lifeline serve`: one node, from its config to a clean exit.
public enum NodeServer {
    /// Where a node keeps its Raft database inside its data directory.
    public static func databasePath(_ config: NodeConfig) -> String { config.dataDir + "/raft.db" }

    /// The replicated application every node of this build runs (also what
    /// `lifeline restore` loads a backup into to check it).
    public static func makeStateMachine() -> any ReplicatedStateMachine { LifelineStateMachine() }

    /// How long a stopping node waits for its loop (leadership transfer, flush).
    public static let stopTimeoutMs: UInt64 = 10_000
    /// glibc malloc arenas of a serving node (see `run`).
    static let mallocArenasMax: Int32 = 2

    /// Runs the node until SIGTERM or SIGINT; returns the process exit code.
    public static func run(config: NodeConfig, log: Log) -> Int32 {
        // glibc gives busy threads malloc arenas of their own (up to 8 per core)
        // and seldom returns their free space: with a thread per API connection
        // the leader held 4.0 GiB at 100,000 queued tasks, its followers 1.0
        // GiB. Two arenas: 1.3 GiB on every node, the same throughput
        // (Docs/performance.md). MALLOC_ARENA_MAX in the environment wins.
        if ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil { _ = ll_malloc_arena_max(Self.mallocArenasMax) }
        // Block the stop signals in every thread; the main thread waits for them.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

        if let warning = config.drill.warning {
            // Loud and first: a node with drill hooks breaks guarantees on purpose.
            printToStderr(warning)
            log.warning("node.drill_hooks_enabled", [("hooks", warning)])
        }
        let keyRing: KeyRing?
        do {
            keyRing = try config.keyRing.map { path throws(VaultError) in try KeyRing.load(path: path) }
        } catch {
            log.error("node.start_failed", [("reason", "key ring: \(error)")])
            printToStderr("lifeline serve: key ring \(config.keyRing ?? ""): \(error)")
            return 1
        }
        if let keyRing, keyRing.clusterID != config.clusterID {
            printToStderr("lifeline serve: the key ring \(config.keyRing ?? "") belongs to cluster '\(keyRing.clusterID)', this node to '\(config.clusterID)'")
            return 1
        }
        let runtime = NodeRuntime(config: config, log: log, keyRing: keyRing)
        let network: TLSPeerNetwork
        let http: HTTPServer
        var dashboard: HTTPServer?
        do {
            do {
                try FileManager.default.createDirectory(atPath: config.dataDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw NodeStartError(message: "cannot create the data directory \(config.dataDir): \(error.localizedDescription)")
            }
            let server = try TLSContext(role: .server, caFile: config.tls.ca, certFile: config.tls.cert, keyFile: config.tls.key)
            let client = try TLSContext(role: .client, caFile: config.tls.ca, certFile: config.tls.cert, keyFile: config.tls.key)
            network = try TLSPeerNetwork(config: config, serverContext: server, clientContext: client, inbox: runtime.inbox, log: log)
            let apiListener = try TCPListener(host: config.apiListen.host, port: config.apiListen.port)
            let dashboardListener = try config.dashboardListen.map { try TCPListener(host: $0.host, port: $0.port) }
            let path = databasePath(config)
            try runtime.start(network: network, machine: makeStateMachine()) {
                try RaftStorage.open(path: path, clusterID: config.clusterID, nodeID: config.node, createIfMissing: true)
            }
            let router = NodeAPI.makeRouter(runtime: runtime)
            http = HTTPServer(
                acceptor: APIAcceptor(listener: apiListener, context: config.apiPlainHTTP ? nil : server, log: log),
                limits: HTTPLimits(connectionsMax: 1024), log: log, handler: { router.respond(to: $0) })
            http.start()
            if let dashboardListener {
                let board = NodeAPI.makeDashboardRouter(runtime: runtime)
                dashboard = HTTPServer(acceptor: APIAcceptor(listener: dashboardListener, context: nil, log: log),
                                       limits: HTTPLimits(bodyBytesMax: 0, connectionsMax: 64), log: log, handler: { board.respond(to: $0) })
                dashboard?.start()
            }
        } catch {
            log.error("node.start_failed", [("reason", "\(error)")])
            printToStderr("lifeline serve: \(error)")
            return 1
        }
        log.info("node.serving", [
            ("peer", "\(config.peerListen)"), ("api", "\(config.apiListen)"), ("site", config.site.rawValue),
            ("dashboard", config.dashboardListen.map { "http://\($0)/" } ?? "none"),
        ])
        var exitCode: Int32 = 0
        while true {
            var timeout = timespec(tv_sec: 0, tv_nsec: 200_000_000)
            let signal = sigtimedwait(&stopSignals, nil, &timeout)
            if signal == SIGTERM || signal == SIGINT {
                log.info("node.stopping", [("signal", signal == SIGTERM ? "SIGTERM" : "SIGINT")])
                break
            }
            if signal == SIGHUP {
                // Reload the key ring off this thread: its audit event waits for a commit.
                log.info("keys.reload_requested", [("signal", "SIGHUP")])
                Thread.detachNewThread { _ = NodeAPI.reloadKeyRing(runtime, actor: "signal:SIGHUP", role: .ops) }
                continue
            }
            if runtime.isFinished {
                exitCode = 1
                break
            }
        }
        let failure = runtime.stop(timeoutMs: stopTimeoutMs)
        http.stop()
        dashboard?.stop()
        network.stop()
        switch failure {
        case .some(.some(let reason)):
            log.error("node.exited", [("code", "1"), ("reason", reason)])
            return 1
        case .some(.none):
            if exitCode == 0 {
                log.info("node.exited", [("code", "0")])
            } else {
                log.error("node.exited", [("code", "\(exitCode)"), ("reason", "the node loop ended on its own")])
            }
            return exitCode
        case .none:
            log.error("node.exited", [("code", "1"), ("reason", "the loop did not stop within \(stopTimeoutMs) ms")])
            return 1
        }
    }

    static func printToStderr(_ text: String) {
        let line = Array((text + "\n").utf8)
        _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}

/// Connectors for the CLI's HTTP client.
public enum NodeClient {
    /// TLS 1.3 with a client certificate of the cluster CA.
    public static func tlsConnector(caFile: String, certFile: String, keyFile: String) throws -> HTTPClient.Connector {
        let context = try TLSContext(role: .client, caFile: caFile, certFile: certFile, keyFile: keyFile)
        return { address, deadline in
            try connectTLS(host: address.host, port: address.port, context: context, expectedPeer: nil, deadline: deadline)
        }
    }

    /// Plain TCP, for a node whose config allows plain HTTP on loopback.
    public static func plainConnector() -> HTTPClient.Connector {
        return { address, deadline in
            try connectPlain(host: address.host, port: address.port, deadline: deadline)
        }
    }
}
