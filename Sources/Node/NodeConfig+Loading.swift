import Foundation
import Raft

// MARK: - Loading

extension NodeConfig {
    /// Reads and validates a configuration file. Every problem (unknown key, wrong
    /// type, bad address, missing TLS file, ...) is collected and thrown together
    /// as one `ConfigError`, BEFORE anything starts.
    public static func load(path: String) throws(ConfigError) -> NodeConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, problems: [ConfigProblem("", "cannot read the file")])
        }
        let base = (path as NSString).deletingLastPathComponent
        return try parse(Array(data), file: path, baseDirectory: base.isEmpty ? "." : base, checkFiles: true)
    }

    /// Parses configuration JSON. Relative paths resolve against `baseDirectory`;
    /// `checkFiles` also requires the TLS files to exist.
    public static func parse(_ bytes: [UInt8], file: String, baseDirectory: String, checkFiles: Bool) throws(ConfigError) -> NodeConfig {
        guard bytes.count <= configBytesMax else {
            throw ConfigError(file: file, problems: [ConfigProblem("", "larger than \(configBytesMax) bytes")])
        }
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            throw ConfigError(file: file, problems: [ConfigProblem("", "not valid JSON")])
        }
        var walker = ConfigWalker(baseDirectory: baseDirectory, checkFiles: checkFiles)
        let config = walker.node(root)
        guard walker.problems.isEmpty, let config else {
            throw ConfigError(file: file, problems: walker.problems)
        }
        return config
    }
}

/// A strict walker over `JSONSerialization` output: it knows every key, reports
/// unknown ones, and keeps going after a problem so that all are reported at once.
struct ConfigWalker {
    var baseDirectory: String
    var checkFiles: Bool
    var problems: [ConfigProblem] = []

    mutating func problem(_ path: String, _ message: String) {
        problems.append(ConfigProblem(path, message))
    }

    // MARK: - The document

    mutating func node(_ value: Any) -> NodeConfig? {
        guard let object = self.object(value, at: "") else { return nil }
        let known: Set<String> = [
            "node", "site", "clusterID", "dataDir", "peerListen", "apiListen", "peers", "tls", "raft",
            "snapshotEveryEntries", "apiPlainHTTP", "join", "advertisePeer", "advertiseAPI", "siteDownAfterMs", "dashboardListen", "keyRing", "retentionDays", "drill",
        ]
        unknownKeys(object, known: known, at: "")
        let node = nodeID(object["node"], at: "node")
        let site = siteID(object["site"], at: "site")
        let clusterID = string(object["clusterID"], at: "clusterID").flatMap { id -> String? in
            guard NodeID(id).isValid else {
                problem("clusterID", "\(Log.quoted(id)) must be 1...63 of a-z, 0-9 and -")
                return nil
            }
            return id
        }
        let dataDir = string(object["dataDir"], at: "dataDir").map(resolve)
        let peerListen = address(object["peerListen"], at: "peerListen")
        let apiListen = address(object["apiListen"], at: "apiListen")
        let advertisePeer = object["advertisePeer"] == nil ? peerListen : address(object["advertisePeer"], at: "advertisePeer")
        let advertiseAPI = object["advertiseAPI"] == nil ? apiListen : address(object["advertiseAPI"], at: "advertiseAPI")
        let peers = self.peers(object["peers"], at: "peers", selfID: node)
        let tls = self.tls(object["tls"], at: "tls")
        let raft = object["raft"] == nil ? RaftTiming() : self.raft(object["raft"]!, at: "raft")
        let snapshotEvery = object["snapshotEveryEntries"] == nil
            ? 10_000 : uint(object["snapshotEveryEntries"], at: "snapshotEveryEntries", range: NodeConfig.snapshotEveryEntriesRange)
        let plain = object["apiPlainHTTP"] == nil ? false : bool(object["apiPlainHTTP"], at: "apiPlainHTTP")
        let join = object["join"] == nil ? false : bool(object["join"], at: "join")
        let siteDownAfter = object["siteDownAfterMs"] == nil
            ? nil : uint(object["siteDownAfterMs"], at: "siteDownAfterMs", range: NodeConfig.siteDownAfterMsRange)
        let siteDownAfterValid = object["siteDownAfterMs"] == nil || siteDownAfter != nil
        let dashboard = object["dashboardListen"] == nil ? nil : address(object["dashboardListen"], at: "dashboardListen")
        if let dashboard, !dashboard.isLoopback {
            problem("dashboardListen", "the plain-HTTP dashboard listener must be a loopback address, not \(dashboard)")
        }
        if let dashboard, dashboard == apiListen || dashboard == peerListen {
            problem("dashboardListen", "\(dashboard) is already apiListen or peerListen")
        }
        let dashboardValid = object["dashboardListen"] == nil || (dashboard != nil && dashboard!.isLoopback)
        let keyRing = object["keyRing"] == nil ? nil : string(object["keyRing"], at: "keyRing").map(resolve)
        if let keyRing, checkFiles, !FileManager.default.isReadableFile(atPath: keyRing) {
            problem("keyRing", "\(Log.quoted(keyRing)) is not a readable file ('lifeline keys init --file FILE' makes one)")
        }
        let keyRingValid = object["keyRing"] == nil || keyRing != nil
        let retention = object["retentionDays"] == nil
            ? nil : uint(object["retentionDays"], at: "retentionDays", range: NodeConfig.retentionDaysRange)
        let retentionValid = object["retentionDays"] == nil || retention != nil
        let drill = object["drill"] == nil ? DrillSettings.off : self.drill(object["drill"]!, at: "drill")
        if plain == true, let apiListen, !apiListen.isLoopback {
            problem("apiPlainHTTP", "plain HTTP is allowed only when apiListen is a loopback address, not \(apiListen)")
        }
        if let peerListen, let apiListen, peerListen == apiListen {
            problem("apiListen", "\(apiListen) is also peerListen")
        }
        guard let node, let site, let clusterID, let dataDir, let peerListen, let apiListen, let peers, let tls,
              let raft, let snapshotEvery, let plain, let join, let advertisePeer, let advertiseAPI, siteDownAfterValid, dashboardValid, keyRingValid, retentionValid, let drill
        else { return nil }
        var config = NodeConfig(
            node: node, site: site, clusterID: clusterID, dataDir: dataDir, peerListen: peerListen,
            apiListen: apiListen, peers: peers, tls: tls, raft: raft, snapshotEveryEntries: snapshotEvery,
            apiPlainHTTP: plain, join: join, advertisePeer: advertisePeer, advertiseAPI: advertiseAPI
        )
        config.siteDownAfterMs = siteDownAfter
        config.dashboardListen = dashboard
        config.keyRing = keyRing
        config.retentionDays = retention
        config.drill = drill
        return config
    }

    mutating func peers(_ value: Any?, at path: String, selfID: NodeID?) -> [PeerConfig]? {
        guard let value else {
            problem(path, "is required (a list of the other members; [] for a single node)")
            return nil
        }
        guard let list = value as? [Any] else {
            problem(path, "must be a list")
            return nil
        }
        guard list.count <= NodeConfig.peersMax else {
            problem(path, "has \(list.count) entries; at most \(NodeConfig.peersMax)")
            return nil
        }
        var result: [PeerConfig] = []
        var seen: Set<NodeID> = []
        var failed = false
        for (index, element) in list.enumerated() {
            let here = "\(path)[\(index)]"
            guard let object = object(element, at: here) else {
                failed = true
                continue
            }
            unknownKeys(object, known: ["node", "site", "peerAddress", "apiAddress"], at: here)
            let node = nodeID(object["node"], at: "\(here).node")
            let site = siteID(object["site"], at: "\(here).site")
            let peerAddress = address(object["peerAddress"], at: "\(here).peerAddress")
            let apiAddress = address(object["apiAddress"], at: "\(here).apiAddress")
            if let node {
                if node == selfID { problem("\(here).node", "\(Log.quoted(node.rawValue)) is this node itself; list only the others") }
                if !seen.insert(node).inserted { problem("\(here).node", "\(Log.quoted(node.rawValue)) is listed twice") }
            }
            guard let node, let site, let peerAddress, let apiAddress else {
                failed = true
                continue
            }
            result.append(PeerConfig(node: node, site: site, peerAddress: peerAddress, apiAddress: apiAddress))
        }
        return failed ? nil : result
    }

    mutating func tls(_ value: Any?, at path: String) -> TLSFiles? {
        guard let value else {
            problem(path, "is required ({\"ca\", \"cert\", \"key\"})")
            return nil
        }
        guard let object = object(value, at: path) else { return nil }
        unknownKeys(object, known: ["ca", "cert", "key"], at: path)
        let ca = file(object["ca"], at: "\(path).ca")
        let cert = file(object["cert"], at: "\(path).cert")
        let key = file(object["key"], at: "\(path).key")
        guard let ca, let cert, let key else { return nil }
        return TLSFiles(ca: ca, cert: cert, key: key)
    }

    mutating func raft(_ value: Any, at path: String) -> RaftTiming? {
        guard let object = object(value, at: path) else { return nil }
        unknownKeys(object, known: ["tickMs", "heartbeatMs", "electionMs"], at: path)
        let defaults = RaftTiming()
        let tick = object["tickMs"] == nil ? defaults.tickMs : uint(object["tickMs"], at: "\(path).tickMs", range: RaftTiming.tickMsRange)
        let heartbeat = object["heartbeatMs"] == nil
            ? defaults.heartbeatMs : uint(object["heartbeatMs"], at: "\(path).heartbeatMs", range: 1...RaftTiming.heartbeatMsMax)
        let election = object["electionMs"] == nil
            ? defaults.electionMs : uint(object["electionMs"], at: "\(path).electionMs", range: 1...RaftTiming.electionMsMax)
        guard let tick, let heartbeat, let election else { return nil }
        var ok = true
        if heartbeat < tick {
            problem("\(path).heartbeatMs", "\(heartbeat) is shorter than tickMs \(tick)")
            ok = false
        }
        if election < 3 * heartbeat {
            problem("\(path).electionMs", "\(election) must be at least 3 × heartbeatMs (\(3 * heartbeat)); about 10 × is advised")
            ok = false
        }
        return ok ? RaftTiming(tickMs: tick, heartbeatMs: heartbeat, electionMs: election) : nil
    }

    /// The test-only `drill` block: `evidence`, `diskDelay` (booleans) and `bugs`
    /// (a list of known bug names, each at most once).
    mutating func drill(_ value: Any, at path: String) -> DrillSettings? {
        guard let object = object(value, at: path) else { return nil }
        unknownKeys(object, known: ["evidence", "diskDelay", "bugs"], at: path)
        let evidence = object["evidence"] == nil ? false : bool(object["evidence"], at: "\(path).evidence")
        let diskDelay = object["diskDelay"] == nil ? false : bool(object["diskDelay"], at: "\(path).diskDelay")
        var bugs: Set<DrillSettings.Bug>? = []
        if let listed = object["bugs"] {
            if let list = listed as? [Any] {
                let known = DrillSettings.Bug.allCases.map(\.rawValue).joined(separator: ", ")
                for (index, element) in list.enumerated() {
                    let here = "\(path).bugs[\(index)]"
                    guard let name = element as? String, !(element is NSNumber) else {
                        problem(here, "must be a string (one of \(known))")
                        bugs = nil
                        continue
                    }
                    guard let bug = DrillSettings.Bug(rawValue: name) else {
                        problem(here, "\(Log.quoted(name)) is not a known bug (one of \(known))")
                        bugs = nil
                        continue
                    }
                    if bugs?.insert(bug).inserted == false {
                        problem(here, "\(Log.quoted(name)) is listed twice")
                        bugs = nil
                    }
                }
            } else {
                problem("\(path).bugs", "must be a list of bug names")
                bugs = nil
            }
        }
        guard let evidence, let diskDelay, let bugs else { return nil }
        return DrillSettings(evidence: evidence, diskDelay: diskDelay, bugs: bugs)
    }

    // MARK: - Leaves

    mutating func object(_ value: Any, at path: String) -> [String: Any]? {
        guard let object = value as? [String: Any] else {
            problem(path, "must be an object")
            return nil
        }
        return object
    }

    mutating func unknownKeys(_ object: [String: Any], known: Set<String>, at path: String) {
        for key in object.keys.sorted() where !known.contains(key) {
            problem(path.isEmpty ? key : "\(path).\(key)", "unknown key")
        }
    }

    mutating func string(_ value: Any?, at path: String) -> String? {
        guard let value else {
            problem(path, "is required")
            return nil
        }
        guard let text = value as? String, !(value is NSNumber) else {
            problem(path, "must be a string")
            return nil
        }
        guard !text.isEmpty else {
            problem(path, "must not be empty")
            return nil
        }
        return text
    }

    mutating func nodeID(_ value: Any?, at path: String) -> NodeID? {
        guard let text = string(value, at: path) else { return nil }
        let id = NodeID(text)
        guard id.isValid else {
            problem(path, "\(Log.quoted(text)) is not a node id (1...63 of a-z, 0-9 and -)")
            return nil
        }
        return id
    }

    mutating func siteID(_ value: Any?, at path: String) -> SiteID? {
        guard let text = string(value, at: path) else { return nil }
        guard NodeID(text).isValid else {
            problem(path, "\(Log.quoted(text)) is not a site id (1...63 of a-z, 0-9 and -)")
            return nil
        }
        return SiteID(text)
    }

    mutating func address(_ value: Any?, at path: String) -> HostPort? {
        guard let text = string(value, at: path) else { return nil }
        guard let address = HostPort(parsing: text) else {
            problem(path, "\(Log.quoted(text)) is not host:port")
            return nil
        }
        return address
    }

    mutating func file(_ value: Any?, at path: String) -> String? {
        guard let text = string(value, at: path) else { return nil }
        let resolved = resolve(text)
        if checkFiles && !FileManager.default.isReadableFile(atPath: resolved) {
            problem(path, "\(Log.quoted(resolved)) does not exist or is not readable")
            return nil
        }
        return resolved
    }

    mutating func bool(_ value: Any?, at path: String) -> Bool? {
        guard let number = value as? NSNumber, ConfigWalker.isBoolean(number) else {
            problem(path, "must be true or false")
            return nil
        }
        return number.boolValue
    }

    mutating func uint(_ value: Any?, at path: String, range: ClosedRange<UInt64>) -> UInt64? {
        guard let value else {
            problem(path, "is required")
            return nil
        }
        guard let number = value as? NSNumber, !ConfigWalker.isBoolean(number),
              let whole = UInt64(exactly: number.doubleValue), range.contains(whole)
        else {
            problem(path, "must be a whole number in \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return whole
    }

    /// JSONSerialization gives booleans as NSNumber with objCType "c"; numbers
    /// never come back as a char, so this tells `true` from `1`.
    static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : (baseDirectory as NSString).appendingPathComponent(path)
    }
}
