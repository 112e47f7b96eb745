#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Node
import Testing

/// A strict reader of the Prometheus text exposition format 0.0.4: every line a
/// comment (`# HELP`, `# TYPE`) or a sample of a declared family, names and
/// labels well formed, values numbers, histograms cumulative with `+Inf`,
/// `_sum` and `_count`. Returns the problems, one per line.
enum ExpositionChecker {
    static func problems(_ text: String) -> [String] {
        var problems: [String] = []
        var types: [String: String] = [:]
        var helped: Set<String> = []
        var seenSamples: Set<String> = []
        var buckets: [String: [(Double, Double)]] = [:]
        var counts: [String: Double] = [:]
        guard text.hasSuffix("\n") else { return ["the text does not end with a newline"] }
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let where_ = "line \(number + 1)"
            if line.isEmpty { problems.append("\(where_): empty line"); continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                guard parts.count >= 3, parts[0] == "#" else { problems.append("\(where_): malformed comment"); continue }
                let name = String(parts[2])
                guard isMetricName(name) else { problems.append("\(where_): bad metric name \(name)"); continue }
                if parts[1] == "TYPE" {
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(String(parts[3])) else {
                        problems.append("\(where_): bad TYPE"); continue
                    }
                    if types[name] != nil { problems.append("\(where_): second TYPE for \(name)") }
                    if seenSamples.contains(name) { problems.append("\(where_): TYPE for \(name) after its samples") }
                    types[name] = String(parts[3])
                } else if parts[1] == "HELP" {
                    if !helped.insert(name).inserted { problems.append("\(where_): second HELP for \(name)") }
                }
                continue
            }
            guard let (name, labels, value) = sample(String(line)) else { problems.append("\(where_): malformed sample: \(line)"); continue }
            var family = name
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) && types[String(name.dropLast(suffix.count))] == "histogram" {
                family = String(name.dropLast(suffix.count))
            }
            guard let type = types[family] else { problems.append("\(where_): sample of undeclared family \(family)"); continue }
            seenSamples.insert(family)
            if type == "counter" && (value < 0 || value.isNaN) { problems.append("\(where_): counter \(name) is \(value)") }
            if type == "histogram" {
                let key = family + labels.filter { $0.0 != "le" }.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
                if name.hasSuffix("_bucket") {
                    guard let le = labels.first(where: { $0.0 == "le" })?.1, let bound = le == "+Inf" ? Double.infinity : Double(le) else {
                        problems.append("\(where_): bucket without a numeric le"); continue
                    }
                    buckets[key, default: []].append((bound, value))
                } else if name.hasSuffix("_count") {
                    counts[key] = value
                }
            }
        }
        for (key, list) in buckets {
            if list.map(\.0) != list.map(\.0).sorted() { problems.append("\(key): buckets not in increasing le order") }
            if list.last?.0 != .infinity { problems.append("\(key): no +Inf bucket") }
            if zip(list, list.dropFirst()).contains(where: { $0.1 > $1.1 }) { problems.append("\(key): buckets not cumulative") }
            if counts[key] != list.last?.1 { problems.append("\(key): _count differs from the +Inf bucket") }
        }
        return problems
    }

    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCII, CharacterSet.letters.contains(first) || first == "_" || first == ":" else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == ":") }
    }

    /// name, labels, value of one sample line, or nil when malformed.
    static func sample(_ line: String) -> (String, [(String, String)], Double)? {
        var rest = Substring(line)
        let name = String(rest.prefix { $0 != "{" && $0 != " " })
        guard isMetricName(name) else { return nil }
        rest = rest.dropFirst(name.count)
        var labels: [(String, String)] = []
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let label = String(rest.prefix { $0 != "=" })
                guard !label.isEmpty, label.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_") }),
                      !label.first!.isNumber else { return nil }
                rest = rest.dropFirst(label.count)
                guard rest.hasPrefix("=\"") else { return nil }
                rest = rest.dropFirst(2)
                var value = ""
                while let character = rest.first, character != "\"" {
                    if character == "\\" {
                        rest = rest.dropFirst()
                        guard let escaped = rest.first, ["\\", "\"", "n"].contains(escaped) else { return nil }
                        value.append(escaped == "n" ? "\n" : escaped)
                    } else {
                        value.append(character)
                    }
                    rest = rest.dropFirst()
                }
                guard rest.first == "\"" else { return nil }
                rest = rest.dropFirst()
                labels.append((label, value))
                if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" { return nil }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { return nil }
        let fields = rest.dropFirst().split(separator: " ")
        guard (1...2).contains(fields.count) else { return nil }
        let text = String(fields[0])
        let value: Double
        switch text {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let number = Double(text) else { return nil }
            value = number
        }
        if fields.count == 2 && Int64(fields[1]) == nil { return nil }
        return (name, labels, value)
    }
}

/// What dashboards poll, on a real node with a little traffic: `/metrics` read
/// by the strict checker (and promtool when installed), and the status page
/// rendered by headless Chromium showing the leader and the sites.
@Suite(.serialized) struct DashboardTests {
    @Test func theCheckerCatchesMalformedExpositions() {
        let good = "# HELP x_total A counter.\n# TYPE x_total counter\nx_total{a=\"b\"} 3\n"
        #expect(ExpositionChecker.problems(good).isEmpty)
        let bad = [
            "x_total 3\n",                                                       // undeclared
            "# TYPE x_total counter\nx_total{a=b} 3\n",                          // unquoted label
            "# TYPE x_total counter\nx_total 3",                                 // no final newline
            "# TYPE x_total counter\nx_total three\n",                           // not a number
            "# TYPE 9x gauge\n9x 1\n",                                           // bad name
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n",  // no +Inf
            "# TYPE g gauge\ng 1\n# TYPE g gauge\n",                             // TYPE twice
        ]
        for text in bad { #expect(!ExpositionChecker.problems(text).isEmpty, "accepted: \(text)") }
    }

    @Test func metricsAndTheStatusPageOnARealCluster() throws {
        let cluster = try TestCluster(nodes: 3, slot: 13)
        defer { cluster.down() }
        guard let leader = cluster.awaitLeader(among: ["a", "b", "c"]) else { return }
        #expect(cluster.put(through: leader, keys: 0..<5, prefix: "m") == 5)
        let client = try #require(cluster.client(leader, role: "supervisor"))
        _ = try client.sendJSON("PUT", "/v1/queues/general", json: [:] as [String: Any])
        #expect(cluster.waitUntil(timeoutMs: 10_000) {
            ((try? client.send("GET", "/v1/sites").jsonObject?["sites"]) as? [Any])?.count == 3
        })
        let dashboard = try #require(cluster.file.nodes.first { $0.node == leader }?.dashboardURL)
        let board = try #require(HostPort(parsing: String(dashboard.dropFirst("http://".count).dropLast())))
        let plain = HTTPClient(address: board, connector: NodeClient.plainConnector())

        let metrics = try plain.send("GET", "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.header("content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let text = String(decoding: metrics.body, as: UTF8.self)
        #expect(ExpositionChecker.problems(text).isEmpty, "\(ExpositionChecker.problems(text))")
        for name in ["lifeline_raft_term", "lifeline_raft_is_leader", "lifeline_raft_peer_match_index", "lifeline_commit_latency_seconds_bucket",
                     "lifeline_storage_persist_seconds_count", "lifeline_site_up{site=\"site-a\"} 1", "lifeline_queue_depth{queue=\"general\"} 0"] {
            #expect(text.contains(name), "/metrics lacks \(name)")
        }
        if let promtool = Self.find("promtool") {
            let file = cluster.directory + "/metrics.txt"
            try Data(metrics.body).write(to: URL(fileURLWithPath: file))
            let (status, output) = ProcessControl.run(executable: "/bin/sh", arguments: ["-c", "\(promtool) check metrics < \(file)"], timeoutMs: 30_000)
            #expect(status == 0, "promtool: \(output)")
        } else {
            print("DashboardTests: promtool not installed; the strict checker above stands in for it")
        }
        // The dashboard listener is read-only: no writes, no patient routes.
        #expect([404, 413].contains(try plain.send("PUT", "/v1/kv/x", body: [1]).status))
        #expect(try plain.send("PUT", "/v1/kv/x").status == 404)
        #expect(try cluster.client(leader)?.send("GET", "/v1/kv/x").status == 404, "a write through the dashboard listener landed")
        #expect(try plain.send("GET", "/v1/tasks/1").status == 404)

        let chromium = try #require(Self.find("chromium") ?? Self.find("chromium-browser"),
                                    "headless Chromium is needed for the status-page test: apt-get install chromium (.ci/run does)")
        let (status, dom) = ProcessControl.run(executable: chromium, arguments: [
            "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000", "--dump-dom", dashboard,
        ], timeoutMs: 90_000)
        #expect(status == 0, "chromium failed: \(dom.suffix(2_000))")
        #expect(dom.contains("data-leader=\"\(leader)\""), "the page does not show the leader \(leader):\n\(dom.suffix(3_000))")
        for site in ["site-a", "site-b", "site-c"] {
            #expect(dom.contains("data-site=\"\(site)\""), "the page does not show \(site)")
        }
        #expect(dom.contains("data-queue=\"general\""))
    }

    static func find(_ program: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}
