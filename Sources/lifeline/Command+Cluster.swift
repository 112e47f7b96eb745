#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Node
import Transport
import Vault

let clusterCommand = Command(
    name: "cluster",
    summary: "start or stop a local multi-node cluster on 127.0.0.1",
    help: """
        Usage: lifeline cluster up --nodes N --dir DIR [--base-port P] [--snapshot-every N] [--spares N] [--restore BACKUP] [--keys F]
               lifeline cluster down --dir DIR
               lifeline cluster kill NODE --dir DIR [--signal KILL|TERM|STOP|CONT|HUP]
               lifeline cluster start NODE --dir DIR

        up: creates DIR with a CA and certificates (DIR/tls), a key ring
        (DIR/keyring.json, 0600: patient fields are sealed with it), one configuration
        per node (DIR/<node>.json, sites site-a, site-b, ...), starts one detached
        'lifeline serve' per node with its log in DIR/<node>.log, writes
        DIR/cluster.json (each node's pid, apiURL, peerAddress, config; the ops
        client's caFile, certFile, keyFile) and waits until the nodes agree on a leader.
        Node i (1-based) listens for peers on P+i, serves HTTPS on P+50+i and
        its plain-HTTP status page (loopback only) on P+30+i.
        --spares N also prepares N more nodes (certificates and "join": true
        configurations, pid 0) for 'lifeline members add'.

        down: stops the nodes listed in DIR/cluster.json (SIGTERM, then SIGKILL
        after 10 s). Only processes running 'lifeline serve' with DIR's
        configurations are signalled.

        kill: sends one node of DIR a signal (default KILL, i.e. kill -9: the
        site's process dies without a goodbye). TERM stops it gracefully (a
        leader hands over leadership first); STOP/CONT pause and resume it;
        HUP makes it reload its key ring file (as 'lifeline keys reload').

        start: starts a stopped node of DIR again ('lifeline serve --config
        DIR/<node>.json', log appended to DIR/<node>.log) and records its new
        pid in cluster.json, so 'cluster down' stops it too. It catches up from
        the leader (by snapshot when it missed compacted entries).

        Options:
          --nodes N            1...9 (default 3)
          --dir DIR            the cluster's directory
          --base-port P        default 7100
          --snapshot-every N   snapshotEveryEntries for every node (default 10000)
          --spares N           0...5 extra prepared nodes (default 0)
          --restore BACKUP     seed every founding node from a 'lifeline backup' file first
          --keys F             use a copy of the key ring F (0600) instead of a new one:
                               the ring of the cluster a backup came from, so its
                               records open (a new ring cannot open them)
          --signal NAME        for kill: KILL (default), TERM, STOP, CONT or HUP

        Example:
          lifeline cluster up --nodes 3 --dir /tmp/ll
          lifeline status --cluster /tmp/ll
          lifeline cluster kill c --dir /tmp/ll
          lifeline cluster start c --dir /tmp/ll
          lifeline cluster down --dir /tmp/ll

        Scripts read DIR/cluster.json: every node's pid, addresses, config and
        status page, the CA and ops client files, and a token per role (the
        supervisor's at the first site) plus "supervisor@SITE" for every site: a
        supervisor acts only for the agents, tasks and drains of their own site.

        Exit codes: 0 ok, 1 failed (e.g. no leader within 30 s), 2 usage.
        """,
    run: { arguments in
        let options = try OptionParser(arguments, valued: ["nodes", "dir", "base-port", "snapshot-every", "spares", "signal", "restore", "keys"])
        guard let action = options.positional.first else {
            throw UsageError("want 'cluster up', 'down', 'kill NODE' or 'start NODE'")
        }
        let takesNode = action == "kill" || action == "start"
        guard options.positional.count == (takesNode ? 2 : 1) else {
            throw UsageError(takesNode ? "'cluster \(action)' takes one NODE" : "'cluster \(action)' takes no further arguments")
        }
        guard let directory = options.value("dir") else { throw UsageError("--dir DIR is required") }
        let absolute = directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory
        switch action {
        case "up":
            let nodes = try options.int("nodes", default: 3, range: 1...9)
            let base = try options.int("base-port", default: 7100, range: 1024...65_000)
            let snapshotEvery = try options.int("snapshot-every", default: 10_000, range: 2...100_000_000)
            let spares = try options.int("spares", default: 0, range: 0...5)
            return try LocalCluster.up(nodes: nodes, spares: spares, directory: absolute, basePort: base, snapshotEvery: snapshotEvery,
                                       restore: options.value("restore"), keyRing: options.value("keys"))
        case "down":
            return try LocalCluster.down(directory: absolute)
        case "kill":
            let signal = try LocalCluster.signal(named: options.value("signal") ?? "KILL")
            return try LocalCluster.signal(node: options.positional[1], signal: signal, directory: absolute)
        case "start":
            return try LocalCluster.start(node: options.positional[1], directory: absolute)
        default:
            throw UsageError("unknown action '\(action)': want up, down, kill or start")
        }
    }
)

/// `lifeline cluster up/down`: a loopback cluster for demos, drills and tests.
enum LocalCluster {
    static let leaderWaitMs: UInt64 = 30_000
    static let stopGraceMs: UInt64 = 10_000

    /// Writes certificates and configurations, starts the nodes and waits for a
    /// leader. Node ids are `a`, `b`, ... at sites `site-a`, ... unless `names`
    /// gives the sites (then each node is named after its site).
    /// - Parameters:
    ///   - dialAddress: the address node `from` dials to reach node `to` (default: `to`'s
    ///     own peer port); the drill harness puts a fault proxy there.
    ///   - extraConfig: more top-level configuration keys per node id (e.g. `drill`).
    static func up(nodes: Int, spares: Int, directory: String, basePort: Int, snapshotEvery: Int, restore: String? = nil,
                   keyRing: String? = nil, names: [String]? = nil, quiet: Bool = false,
                   dialAddress: ((_ from: String, _ to: String) -> String)? = nil,
                   extraConfig: [String: [String: Any]] = [:]) throws -> Int32 {
        let fileManager = FileManager.default
        if let restore, !fileManager.fileExists(atPath: restore) { throw CommandFailure("cannot read the backup \(restore)") }
        if fileManager.fileExists(atPath: ClusterFile.path(in: directory)) {
            throw CommandFailure("\(directory) already holds a cluster; run 'lifeline cluster down --dir \(directory)' or pick another --dir")
        }
        try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let ids = names ?? (0..<(nodes + spares)).map { String(UnicodeScalar(UInt8(ascii: "a") + UInt8($0))) }
        func site(_ id: String) -> String { names == nil ? "site-\(id)" : id }
        let tlsDirectory = directory + "/tls"
        do {
            try CertificateAuthority.generateCluster(directory: tlsDirectory, nodes: ids, clients: ["ops"])
        } catch {
            throw CommandFailure(error.description)
        }
        let bundle = CertificateBundle(directory: tlsDirectory)
        // One key ring for the local cluster (on real hosts each node gets a copy).
        let keyRingPath = directory + "/keyring.json"
        let ring: KeyRing
        do {
            // A given ring is loaded (permission and format checks) and copied, 0600.
            ring = try keyRing.map { path throws(VaultError) in try KeyRing.load(path: path) } ?? KeyRing.generate(clusterID: "local", now: Date())
            try ring.create(path: keyRingPath)
        } catch {
            throw CommandFailure("cannot create the key ring \(keyRingPath): \(error)")
        }
        func peerAddress(_ index: Int) -> String { "127.0.0.1:\(basePort + index + 1)" }
        func apiAddress(_ index: Int) -> String { "127.0.0.1:\(basePort + 51 + index)" }
        func dashboardAddress(_ index: Int) -> String { "127.0.0.1:\(basePort + 31 + index)" }

        var entries: [ClusterFile.NodeEntry] = []
        for (index, id) in ids.enumerated() {
            let isSpare = index >= nodes
            let peers = ids.enumerated().filter { $0.offset != index && $0.offset < nodes }.map { other in
                ["node": other.element, "site": site(other.element), "apiAddress": apiAddress(other.offset),
                 "peerAddress": dialAddress?(id, other.element) ?? peerAddress(other.offset)]
            }
            var config: [String: Any] = [
                "node": id, "site": site(id), "clusterID": "local", "dataDir": "data/\(id)", "dashboardListen": dashboardAddress(index), "keyRing": keyRingPath,
                "peerListen": peerAddress(index), "apiListen": apiAddress(index), "peers": peers,
                "tls": ["ca": bundle.caFile, "cert": bundle.certFile(id), "key": bundle.keyFile(id)],
                "raft": ["tickMs": 20, "heartbeatMs": 60, "electionMs": 600],
                "snapshotEveryEntries": snapshotEvery, "apiPlainHTTP": false, "join": isSpare,
            ]
            config.merge(extraConfig[id] ?? [:]) { _, extra in extra }
            let configPath = directory + "/\(id).json"
            let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: configPath))
            entries.append(ClusterFile.NodeEntry(
                node: id, site: site(id), pid: 0, apiURL: "https://\(apiAddress(index))",
                peerAddress: peerAddress(index), config: configPath, dashboardURL: "http://\(dashboardAddress(index))/"
            ))
        }
        var file = ClusterFile(nodes: entries, caFile: bundle.caFile, certFile: bundle.certFile("ops"), keyFile: bundle.keyFile("ops"))
        // A token per role for the operator of this local cluster (7 days), at the
        // first site; and a supervisor token per site ("supervisor@SITE"), since a
        // supervisor manages only the agents, tasks and drains of their own site.
        var issues: [(key: String, role: Role, site: String)] = [Role.ops, .supervisor, .auditor, .dashboard].map { ($0.rawValue, $0, site(ids[0])) }
        issues += ids.map { ("supervisor@\(site($0))", .supervisor, site($0)) }
        for issue in issues {
            do {
                let subject = issue.key == issue.role.rawValue ? "local-\(issue.role.rawValue)" : "local-supervisor-\(issue.site)"
                file.tokens[issue.key] = try ring.tokenSigner.issue(subject: subject, role: issue.role, site: issue.site,
                                                                    now: Date(), ttlSeconds: TokenVerifier.ttlSecondsMax).token
            } catch {
                throw CommandFailure("cannot issue the \(issue.key) token: \(error)")
            }
        }
        try file.write(to: directory)
        if let restore {
            for entry in file.nodes.prefix(nodes) {
                let config: NodeConfig
                do {
                    config = try NodeConfig.load(path: entry.config)
                } catch {
                    throw CommandFailure("\(error)")
                }
                let (image, _) = try restoreBackup(file: restore, into: config)
                print("\(entry.node): restored from \(restore) (index \(image.index), state \(image.stateHash))")
            }
        }
        let executable = ProcessControl.currentExecutable()
        for index in 0..<nodes {
            let entry = file.nodes[index]
            file.nodes[index].pid = try ProcessControl.spawnDetached(
                executable: executable, arguments: ["serve", "--config", entry.config], logFile: directory + "/\(entry.node).log"
            )
            try file.write(to: directory)
        }
        if !quiet { print("started \(nodes) node\(nodes == 1 ? "" : "s") in \(directory); waiting for a leader ...") }
        let connector = try NodeClient.tlsConnector(caFile: file.caFile, certFile: file.certFile, keyFile: file.keyFile)
        let clients = file.nodes.prefix(nodes).compactMap { $0.apiAddress }.map {
            HTTPClient(address: $0, headers: file.authorization("ops"), connector: connector)
        }
        let deadline = MonotonicClock.deadline(afterMs: leaderWaitMs)
        while MonotonicClock.now() < deadline {
            let leaders = clients.map { client -> String? in
                guard let response = try? client.send("GET", "/v1/cluster", timeoutMs: 1_000), response.status == 200 else { return nil }
                return response.jsonObject?["leader"] as? String
            }
            if let first = leaders.first ?? nil, leaders.allSatisfy({ $0 == first }) {
                guard !quiet else { return ExitCode.ok }
                for entry in file.nodes.prefix(nodes) {
                    print("  \(entry.node)  \(entry.site)  pid \(entry.pid)  \(entry.apiURL)  page \(entry.dashboardURL ?? "-")  log \(directory)/\(entry.node).log")
                }
                print("leader: \(first)")
                print("status: lifeline status --cluster \(directory)")
                return ExitCode.ok
            }
            for entry in file.nodes.prefix(nodes) where !ProcessControl.isRunning(entry.pid, commandContains: ["serve"]) {
                ProcessControl.reap(entry.pid)
            }
            ProcessControl.pause(ms: 100)
        }
        printError("no leader agreed within \(leaderWaitMs) ms; see \(directory)/<node>.log. The nodes are still running: 'lifeline cluster down --dir \(directory)'.")
        return ExitCode.failed
    }

    static func down(directory: String) throws -> Int32 {
        let file = try ClusterFile.read(from: directory)
        var clean = true
        for entry in file.nodes where entry.pid > 0 {
            let marks = ["serve", entry.config]
            guard ProcessControl.isRunning(entry.pid, commandContains: marks) else {
                print("\(entry.node): not running")
                continue
            }
            let graceful = ProcessControl.stop(entry.pid, commandContains: marks, graceMs: stopGraceMs)
            print("\(entry.node): stopped (pid \(entry.pid))\(graceful ? "" : " with SIGKILL")")
            clean = clean && graceful
        }
        return clean ? ExitCode.ok : ExitCode.failed
    }
}

/// Where `CertificateAuthority.generateCluster` put each file.
struct CertificateBundle {
    var directory: String
    var caFile: String { directory + "/ca.pem" }
    func certFile(_ name: String) -> String { "\(directory)/\(name).pem" }
    func keyFile(_ name: String) -> String { "\(directory)/\(name)-key.pem" }
}
