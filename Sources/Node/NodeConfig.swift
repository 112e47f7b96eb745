import Foundation
import Raft

/// A site: one hospital call center, triage floor or partner. Distinct from a node id.
public struct SiteID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (lhs: SiteID, rhs: SiteID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// "host:port", checked.
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (IPv4 or name) or `[v6]:port`. Nil when malformed.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard let port = UInt16(portText), port != 0 else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, host.count <= 253,
              host.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || ".-:_".unicodeScalars.contains($0) })
        else { return nil }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// True for 127.0.0.0/8, ::1 and "localhost": where a plain-HTTP API may listen.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// One other member of the cluster as this node's configuration names it.
public struct PeerConfig: Sendable, Equatable {
    public var node: NodeID
    public var site: SiteID
    public var peerAddress: HostPort
    public var apiAddress: HostPort

    public init(node: NodeID, site: SiteID, peerAddress: HostPort, apiAddress: HostPort) {
        self.node = node
        self.site = site
        self.peerAddress = peerAddress
        self.apiAddress = apiAddress
    }
}

/// The TLS files: the cluster CA, this node's certificate (its SAN names the node id)
/// and private key. The same files serve the peer links and the HTTPS API.
public struct TLSFiles: Sendable, Equatable {
    public var ca: String
    public var cert: String
    public var key: String

    public init(ca: String, cert: String, key: String) {
        self.ca = ca
        self.cert = cert
        self.key = key
    }
}

/// Raft timing in milliseconds, set from the inter-site round trip (see Config/README.md):
/// heartbeat at least one RTT, election about ten heartbeats.
public struct RaftTiming: Sendable, Equatable {
    public var tickMs: UInt64
    public var heartbeatMs: UInt64
    public var electionMs: UInt64

    public init(tickMs: UInt64 = 50, heartbeatMs: UInt64 = 100, electionMs: UInt64 = 1000) {
        self.tickMs = tickMs
        self.heartbeatMs = heartbeatMs
        self.electionMs = electionMs
    }

    public var heartbeatTicks: Int { Int(max(1, heartbeatMs / tickMs)) }
    public var electionTicks: Int { Int(max(2, electionMs / tickMs)) }

    public static let tickMsRange: ClosedRange<UInt64> = 1...1000
    public static let heartbeatMsMax: UInt64 = 60_000
    public static let electionMsMax: UInt64 = 600_000
}

/// A node's whole configuration, read from one JSON file (`lifeline serve --config`).
///
/// Every field is documented in Config/README.md. Relative paths are resolved
/// against the directory of the configuration file.
public struct NodeConfig: Sendable, Equatable {
    public var node: NodeID
    public var site: SiteID
    public var clusterID: String
    public var dataDir: String
    public var peerListen: HostPort
    public var apiListen: HostPort
    /// The other members this node starts with (never itself).
    public var peers: [PeerConfig]
    public var tls: TLSFiles
    public var raft: RaftTiming
    /// Take a state machine snapshot and compact the log every this many applied entries.
    public var snapshotEveryEntries: UInt64
    /// Serve the API as plain HTTP instead of HTTPS. Allowed only on a loopback address.
    public var apiPlainHTTP: Bool
    /// True for a node that joins an existing cluster: it starts with no voters and
    /// waits for the leader to add it (`lifeline members add`).
    public var join: Bool
    /// This node's own peer address as others reach it (defaults to `peerListen`).
    public var advertisePeer: HostPort
    /// This node's own API address as others reach it (defaults to `apiListen`).
    public var advertiseAPI: HostPort
    /// How long the leader waits without hearing from any node of a site before it
    /// marks the site down and reroutes its calls (nil: 3 × raft.electionMs).
    public var siteDownAfterMs: UInt64?

    /// How long a patient's records are kept after their last record before the
    /// retention listing and `POST /v1/patients/retention/shred` treat them as
    /// due (nil: `retentionDaysDefault`, six years).
    public var retentionDays: UInt64?
    /// `retentionDays` or its default.
    public var retention: UInt64 { retentionDays ?? Self.retentionDaysDefault }
    public static let retentionDaysDefault: UInt64 = 2_192
    public static let retentionDaysRange: ClosedRange<UInt64> = 1...36_500

    /// The cluster key ring file (KEKs and the token secret; 0600). With it the
    /// node seals patient fields into the log; without it they are dropped.
    public var keyRing: String?

    /// A plain-HTTP listener for wallboards and the status page on this machine:
    /// only `GET /`, `/health`, `/ready`, `/metrics` and `/v1/cluster`, and only
    /// on a loopback address (nil: none).
    public var dashboardListen: HostPort?

    /// Test-only hooks for the drill harness (see `DrillSettings`); all off by default.
    public var drill: DrillSettings = .off

    /// `siteDownAfterMs` or its default.
    public var siteDownAfter: UInt64 { siteDownAfterMs ?? raft.electionMs * 3 }
    public static let siteDownAfterMsRange: ClosedRange<UInt64> = 100...3_600_000

    public static let peersMax = 63
    public static let snapshotEveryEntriesRange: ClosedRange<UInt64> = 2...100_000_000
    public static let configBytesMax = 1 << 20

    public init(
        node: NodeID, site: SiteID, clusterID: String, dataDir: String,
        peerListen: HostPort, apiListen: HostPort, peers: [PeerConfig], tls: TLSFiles,
        raft: RaftTiming = RaftTiming(), snapshotEveryEntries: UInt64 = 10_000,
        apiPlainHTTP: Bool = false, join: Bool = false,
        advertisePeer: HostPort? = nil, advertiseAPI: HostPort? = nil
    ) {
        self.node = node
        self.site = site
        self.clusterID = clusterID
        self.dataDir = dataDir
        self.peerListen = peerListen
        self.apiListen = apiListen
        self.peers = peers
        self.tls = tls
        self.raft = raft
        self.snapshotEveryEntries = snapshotEveryEntries
        self.apiPlainHTTP = apiPlainHTTP
        self.join = join
        self.advertisePeer = advertisePeer ?? peerListen
        self.advertiseAPI = advertiseAPI ?? apiListen
    }
}

// MARK: - Errors

/// One thing wrong with a configuration, at a key path such as `peers[1].peerAddress`.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Everything wrong with a configuration, reported at once so an operator fixes
/// the file in one pass.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var problems: [ConfigProblem]

    public init(file: String, problems: [ConfigProblem]) {
        self.file = file
        self.problems = problems
    }

    public var description: String {
        "\(file): \(problems.count) problem\(problems.count == 1 ? "" : "s"):\n"
            + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}
