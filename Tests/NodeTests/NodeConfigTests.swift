import Foundation
import Testing
@testable import Node

@Suite struct NodeConfigTests {
    static let valid = """
        {
          "node": "a", "site": "site-a", "clusterID": "demo", "dataDir": "data/a",
          "peerListen": "127.0.0.1:7101", "apiListen": "127.0.0.1:8101",
          "peers": [
            {"node": "b", "site": "site-b", "peerAddress": "127.0.0.1:7102", "apiAddress": "127.0.0.1:8102"},
            {"node": "c", "site": "site-c", "peerAddress": "127.0.0.1:7103", "apiAddress": "127.0.0.1:8103"}
          ],
          "tls": {"ca": "certs/ca.pem", "cert": "certs/a.pem", "key": "certs/a.key"},
          "raft": {"tickMs": 20, "heartbeatMs": 100, "electionMs": 1000},
          "snapshotEveryEntries": 500,
          "apiPlainHTTP": true
        }
        """

    @Test func validConfigParsesAndResolvesRelativePaths() throws {
        let config = try NodeConfig.parse(Array(Self.valid.utf8), file: "a.json", baseDirectory: "/etc/lifeline", checkFiles: false)
        #expect(config.node.rawValue == "a")
        #expect(config.dataDir == "/etc/lifeline/data/a")
        #expect(config.tls.ca == "/etc/lifeline/certs/ca.pem")
        #expect(config.peers.map(\.node.rawValue) == ["b", "c"])
        #expect(config.raft.heartbeatTicks == 5)
        #expect(config.raft.electionTicks == 50)
        #expect(config.apiPlainHTTP)
        #expect(config.advertisePeer == HostPort(host: "127.0.0.1", port: 7101))
    }

    @Test func everyProblemIsReportedAtOnceWithItsKeyPath() throws {
        let bad = """
            {
              "node": "A!", "site": "site-a", "clusterID": "demo", "dataDir": "d",
              "peerListen": "127.0.0.1", "apiListen": "0.0.0.0:8101", "colour": "blue",
              "peers": [
                {"node": "b", "site": "site-b", "peerAddress": "127.0.0.1:7102", "apiAddress": "127.0.0.1:8102"},
                {"node": "c", "site": "site-c", "peerAddress": "x", "apiAddress": "127.0.0.1:8103", "weight": 2}
              ],
              "tls": {"ca": "/nonexistent/ca.pem", "cert": "/nonexistent/a.pem"},
              "raft": {"tickMs": 50, "heartbeatMs": 100, "electionMs": 200},
              "snapshotEveryEntries": "often",
              "apiPlainHTTP": true
            }
            """
        let error = #expect(throws: ConfigError.self) {
            try NodeConfig.parse(Array(bad.utf8), file: "bad.json", baseDirectory: "/", checkFiles: true)
        }
        let paths = Set(error?.problems.map(\.path) ?? [])
        #expect(paths == [
            "node", "peerListen", "colour", "peers[1].peerAddress", "peers[1].weight", "tls.ca", "tls.cert", "tls.key",
            "raft.electionMs", "snapshotEveryEntries", "apiPlainHTTP",
        ])
        #expect(error?.problems.contains(ConfigProblem("peers[1].peerAddress", "\"x\" is not host:port")) == true)
        #expect(error?.description.contains("11 problems") == true)
    }

    @Test func selfAndDuplicatePeersAreRejected() {
        let text = Self.valid.replacingOccurrences(of: "\"node\": \"c\"", with: "\"node\": \"a\"")
            .replacingOccurrences(of: "\"node\": \"b\"", with: "\"node\": \"a\"")
        let error = #expect(throws: ConfigError.self) {
            try NodeConfig.parse(Array(text.utf8), file: "x", baseDirectory: "/", checkFiles: false)
        }
        #expect(error?.problems.map(\.path) == ["peers[0].node", "peers[1].node", "peers[1].node"])
    }

    @Test func booleansAndNumbersAreNotConfused() {
        let text = Self.valid.replacingOccurrences(of: "\"apiPlainHTTP\": true", with: "\"apiPlainHTTP\": 1")
            .replacingOccurrences(of: "\"snapshotEveryEntries\": 500", with: "\"snapshotEveryEntries\": true")
        let error = #expect(throws: ConfigError.self) {
            try NodeConfig.parse(Array(text.utf8), file: "x", baseDirectory: "/", checkFiles: false)
        }
        #expect(Set(error?.problems.map(\.path) ?? []) == ["apiPlainHTTP", "snapshotEveryEntries"])
    }

    @Test func retentionDaysDefaultsToSixYearsAndIsRangeChecked() throws {
        let plain = try NodeConfig.parse(Array(Self.valid.utf8), file: "x", baseDirectory: "/", checkFiles: false)
        #expect(plain.retentionDays == nil && plain.retention == 2_192)
        let set = Self.valid.replacingOccurrences(of: "\"apiPlainHTTP\": true", with: "\"apiPlainHTTP\": true, \"retentionDays\": 3650")
        #expect(try NodeConfig.parse(Array(set.utf8), file: "x", baseDirectory: "/", checkFiles: false).retention == 3_650)
        for bad in ["0", "36501", "\"6y\"", "-1"] {
            let text = Self.valid.replacingOccurrences(of: "\"apiPlainHTTP\": true", with: "\"apiPlainHTTP\": true, \"retentionDays\": \(bad)")
            let error = #expect(throws: ConfigError.self, "retentionDays \(bad) was accepted") {
                try NodeConfig.parse(Array(text.utf8), file: "x", baseDirectory: "/", checkFiles: false)
            }
            #expect(error?.problems.map(\.path) == ["retentionDays"], "\(bad): \(String(describing: error?.problems))")
        }
    }

    @Test func notJSONIsOneClearProblem() {
        let error = #expect(throws: ConfigError.self) {
            try NodeConfig.parse(Array("{nope".utf8), file: "x", baseDirectory: "/", checkFiles: false)
        }
        #expect(error?.problems == [ConfigProblem("", "not valid JSON")])
    }

    @Test func hostPortParsing() {
        #expect(HostPort(parsing: "127.0.0.1:80") == HostPort(host: "127.0.0.1", port: 80))
        #expect(HostPort(parsing: "[::1]:443") == HostPort(host: "::1", port: 443))
        #expect(HostPort(parsing: "host:0") == nil)
        #expect(HostPort(parsing: "host:99999") == nil)
        #expect(HostPort(parsing: ":80") == nil)
        #expect(HostPort(parsing: "a b:80") == nil)
    }

    // MARK: - The drill block (test-only hooks)

    static func withDrill(_ block: String) -> String {
        valid.replacingOccurrences(of: "\"apiPlainHTTP\": true", with: "\"apiPlainHTTP\": true, \"drill\": \(block)")
    }

    @Test func drillHooksAreOffWithoutTheBlock() throws {
        let config = try NodeConfig.parse(Array(Self.valid.utf8), file: "a.json", baseDirectory: "/", checkFiles: false)
        #expect(config.drill == .off)
        #expect(config.drill.warning == nil)
    }

    @Test func drillBlockParsesEveryKeyAndWarns() throws {
        let text = Self.withDrill(#"{"evidence": true, "diskDelay": true, "bugs": ["stale-reads", "ack-before-commit", "local-clock"]}"#)
        let config = try NodeConfig.parse(Array(text.utf8), file: "a.json", baseDirectory: "/", checkFiles: false)
        #expect(config.drill == DrillSettings(evidence: true, diskDelay: true, bugs: [.ackBeforeCommit, .staleReads, .localClock]))
        #expect(config.drill.warning == "WARNING: drill test hooks are enabled (evidence; diskDelay; bugs: ack-before-commit, local-clock, stale-reads); never run this configuration in production")
        let partial = try NodeConfig.parse(Array(Self.withDrill(#"{"bugs": ["ack-before-commit"]}"#).utf8), file: "a.json", baseDirectory: "/", checkFiles: false)
        #expect(partial.drill == DrillSettings(bugs: [.ackBeforeCommit]))
        #expect(partial.drill.warning?.contains("(bugs: ack-before-commit)") == true)
        let empty = try NodeConfig.parse(Array(Self.withDrill("{}").utf8), file: "a.json", baseDirectory: "/", checkFiles: false)
        #expect(empty.drill == .off)
    }

    @Test(arguments: [
        (#"{"evidence": 1}"#, "drill.evidence", "must be true or false"),
        (#"{"diskDelay": "yes"}"#, "drill.diskDelay", "must be true or false"),
        (#"{"bugs": ["ack-before-commit", "lost-writes"]}"#, "drill.bugs[1]", "\"lost-writes\" is not a known bug (one of ack-before-commit, stale-reads, local-clock)"),
        (#"{"bugs": [7]}"#, "drill.bugs[0]", "must be a string (one of ack-before-commit, stale-reads, local-clock)"),
        (#"{"bugs": "stale-reads"}"#, "drill.bugs", "must be a list of bug names"),
        (#"{"bugs": ["stale-reads", "stale-reads"]}"#, "drill.bugs[1]", "\"stale-reads\" is listed twice"),
        (#"{"evidence": true, "chaos": true}"#, "drill.chaos", "unknown key"),
        (#"true"#, "drill", "must be an object"),
    ])
    func badDrillBlocksNameTheField(block: String, path: String, message: String) {
        let error = #expect(throws: ConfigError.self) {
            try NodeConfig.parse(Array(Self.withDrill(block).utf8), file: "x", baseDirectory: "/", checkFiles: false)
        }
        #expect(error?.problems == [ConfigProblem(path, message)])
    }
}
