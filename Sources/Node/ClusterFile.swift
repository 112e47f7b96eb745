import Foundation

/// `DIR/cluster.json`, written by `lifeline cluster up` and read by `cluster down`,
/// `status --cluster` and the tests: where each node runs and the ops client's TLS files.
public struct ClusterFile: Sendable, Equatable {
    public struct NodeEntry: Sendable, Equatable {
        public var node: String
        public var site: String
        public var pid: Int32
        public var apiURL: String
        public var peerAddress: String
        public var config: String
        /// The node's plain-HTTP status page on loopback, when it has one.
        public var dashboardURL: String?

        public init(node: String, site: String, pid: Int32, apiURL: String, peerAddress: String, config: String, dashboardURL: String? = nil) {
            self.node = node
            self.site = site
            self.pid = pid
            self.apiURL = apiURL
            self.peerAddress = peerAddress
            self.config = config
            self.dashboardURL = dashboardURL
        }

        /// host:port of `apiURL`.
        public var apiAddress: HostPort? {
            guard let rest = apiURL.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first else { return nil }
            return HostPort(parsing: String(rest))
        }
    }

    public var nodes: [NodeEntry]
    public var caFile: String
    public var certFile: String
    public var keyFile: String
    /// Bearer tokens by role name (ops, supervisor, auditor, dashboard), issued by
    /// `cluster up` from the cluster's key ring; empty for a cluster without one.
    public var tokens: [String: String] = [:]

    public init(nodes: [NodeEntry], caFile: String, certFile: String, keyFile: String) {
        self.nodes = nodes
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }

    /// The token for `role`, as an Authorization header (empty when none).
    public func authorization(_ role: String) -> [(String, String)] {
        tokens[role].map { [("authorization", "Bearer \($0)")] } ?? []
    }

    public static func path(in directory: String) -> String { (directory as NSString).appendingPathComponent("cluster.json") }

    public func write(to directory: String) throws {
        let object: [String: Any] = [
            "nodes": nodes.map { entry -> [String: Any] in
                var object: [String: Any] = [
                    "node": entry.node, "site": entry.site, "pid": Int(entry.pid), "apiURL": entry.apiURL,
                    "peerAddress": entry.peerAddress, "config": entry.config,
                ]
                if let dashboard = entry.dashboardURL { object["dashboardURL"] = dashboard }
                return object
            },
            "caFile": caFile, "certFile": certFile, "keyFile": keyFile, "tokens": tokens,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: ClusterFile.path(in: directory)), options: .atomic)
    }

    public static func read(from directory: String) throws -> ClusterFile {
        let path = ClusterFile.path(in: directory)
        guard let data = FileManager.default.contents(atPath: path),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let list = object["nodes"] as? [[String: Any]],
              let ca = object["caFile"] as? String, let cert = object["certFile"] as? String, let key = object["keyFile"] as? String
        else {
            throw ProcessControlError("\(path) is missing or malformed (was 'lifeline cluster up' run with this --dir?)")
        }
        var nodes: [NodeEntry] = []
        for entry in list {
            guard let node = entry["node"] as? String, let site = entry["site"] as? String, let pid = entry["pid"] as? Int,
                  let api = entry["apiURL"] as? String, let peer = entry["peerAddress"] as? String, let config = entry["config"] as? String
            else { throw ProcessControlError("\(path): a node entry is malformed") }
            nodes.append(NodeEntry(node: node, site: site, pid: Int32(pid), apiURL: api, peerAddress: peer, config: config,
                                   dashboardURL: entry["dashboardURL"] as? String))
        }
        var file = ClusterFile(nodes: nodes, caFile: ca, certFile: cert, keyFile: key)
        file.tokens = object["tokens"] as? [String: String] ?? [:]
        return file
    }
}
