#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Node
import Synchronization
import Vault

let demoCommand = Command(
    name: "demo",
    summary: "a live three-site contact center on this machine, with callers and agents",
    help: """
        Usage: lifeline demo [--kill-site SITE --after SECONDS] [--duration SECONDS] [--dir DIR] [--keep] [--base-port P]

        Starts a three-site cluster (boston, denver, atlanta) on 127.0.0.1 in a new
        directory (certificates, keys, configurations, one 'lifeline serve' per
        site), loads queues (scheduling, billing, nurse-triage, emergency, refills)
        and agents, nurses and a supervisor at every site, then runs simulated
        callers (voice, chat, SMS, email; some hang up, some ask for a callback)
        and agents (accept, talk, wrap up, complete with a disposition and CSAT),
        all through the public API. It prints the status-page URLs and a curl line,
        then a summary every five seconds.

        Ctrl-C (or SIGTERM) stops the callers and agents, stops every process it
        started, by PID, and removes the directory (unless --keep).

        Options:
          --kill-site SITE     kill -9 that site's node after --after seconds: watch the
                               leader mark it down and its callers reach other sites
          --after SECONDS      when to kill the site (default 20)
          --duration SECONDS   stop by itself after this long (default: run until Ctrl-C)
          --dir DIR            where to put the cluster (default: a new temporary directory)
          --keep               keep the directory (logs, data) after stopping
          --base-port P        ports P+1.. (peers), P+31.. (status pages), P+51.. (API); default 7700
          --rate N             new contacts per second across the sites (default 2)

        Example:
          lifeline demo
          lifeline demo --kill-site denver --after 30

        Exit codes: 0 ran and stopped cleanly, 1 failed (ports in use, no leader), 2 usage.
        """,
    run: { arguments in
        let options = try OptionParser(arguments, valued: ["kill-site", "after", "duration", "dir", "base-port", "rate"], flags: ["keep"])
        guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
        let settings = DemoSettings(
            killSite: options.value("kill-site"), killAfter: try options.int("after", default: 20, range: 1...86_400),
            duration: try options.int("duration", default: 0, range: 0...604_800),
            basePort: try options.int("base-port", default: 7700, range: 1024...65_000),
            rate: try options.int("rate", default: 2, range: 1...200), keep: options.has("keep"),
            directory: options.value("dir").map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
                ?? NSTemporaryDirectory() + "lifeline-demo-\(getpid())"
        )
        if let site = settings.killSite, !Demo.sites.contains(site) {
            throw UsageError("--kill-site wants one of \(Demo.sites.joined(separator: ", "))")
        }
        return try Demo(settings).run()
    }
)

struct DemoSettings {
    var killSite: String?
    var killAfter: Int
    var duration: Int
    var basePort: Int
    var rate: Int
    var keep: Bool
    var directory: String
}

/// `lifeline demo`: a cluster, sample configuration, and a workload through the API.
final class Demo: @unchecked Sendable {
    static let sites = ["boston", "denver", "atlanta"]
    let settings: DemoSettings
    let stopping = Atomic<Bool>(false)
    let stats = DemoStats()
    var file = ClusterFile(nodes: [], caFile: "", certFile: "", keyFile: "")
    var connector: HTTPClient.Connector?
    var ring: KeyRing?

    init(_ settings: DemoSettings) { self.settings = settings }

    func run() throws -> Int32 {
        // The stop signals go to the main thread's sigtimedwait, never to a worker.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        print("lifeline demo: starting boston, denver and atlanta in \(settings.directory) ...")
        let started: Int32
        do {
            started = try LocalCluster.up(nodes: 3, spares: 0, directory: settings.directory, basePort: settings.basePort,
                                          snapshotEvery: 10_000, names: Demo.sites, quiet: true)
        } catch {
            cleanUp()
            throw error
        }
        guard started == ExitCode.ok else {
            cleanUp()
            return ExitCode.failed
        }
        file = try ClusterFile.read(from: settings.directory)
        connector = try NodeClient.tlsConnector(caFile: file.caFile, certFile: file.certFile, keyFile: file.keyFile)
        ring = try KeyRing.load(path: settings.directory + "/keyring.json")
        do {
            try loadSampleCenter()
        } catch {
            printError("lifeline demo: \(error)")
            cleanUp()
            return ExitCode.failed
        }
        printBanner()
        var threads: [Thread] = []
        for site in Demo.sites {
            for agent in DemoWorkload.agents(at: site) {
                threads.append(startThread { [self] in DemoWorkload(demo: self, site: site).agentLoop(agent) })
            }
            threads.append(startThread { [self] in DemoWorkload(demo: self, site: site).callerLoop() })
        }
        let begin = MonotonicClock.nowNs()
        var nextSummary = MonotonicClock.deadline(afterMs: 5_000)
        var killed = false
        while true {
            var timeout = timespec(tv_sec: 0, tv_nsec: 250_000_000)
            let signal = sigtimedwait(&signals, nil, &timeout)
            if signal == SIGINT || signal == SIGTERM {
                print("\nlifeline demo: stopping ...")
                break
            }
            let elapsedMs = (MonotonicClock.nowNs() - begin) / 1_000_000
            if let site = settings.killSite, !killed, elapsedMs >= UInt64(settings.killAfter) * 1000 {
                killed = true
                print("lifeline demo: killing \(site) (kill -9) at \(elapsedMs / 1000) s: its callers should reach the other sites")
                _ = try? LocalCluster.signal(node: site, signal: SIGKILL, directory: settings.directory)
            }
            if MonotonicClock.now() >= nextSummary {
                nextSummary = MonotonicClock.deadline(afterMs: 5_000)
                print(summaryLine(elapsedMs: elapsedMs))
            }
            if settings.duration > 0 && elapsedMs >= UInt64(settings.duration) * 1000 {
                print("lifeline demo: \(settings.duration) s are up, stopping ...")
                break
            }
        }
        stopping.store(true, ordering: .releasing)
        let deadline = MonotonicClock.deadline(afterMs: 10_000)
        while threads.contains(where: { !$0.isFinished }) && MonotonicClock.now() < deadline { ProcessControl.pause(ms: 20) }
        print(stats.line())
        cleanUp()
        return ExitCode.ok
    }

    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    func startThread(_ body: @escaping @Sendable () -> Void) -> Thread {
        let thread = Thread(block: body)
        thread.start()
        return thread
    }

    /// A client of `site`'s node acting as `subject` with `role` (a token signed
    /// with the cluster's key ring, as a sign-on service would issue it).
    /// `tokenSite` is the site the token names (default: `site`): a supervisor
    /// manages only their own site's agents, wherever the request lands.
    func client(for site: String, subject: String = "demo-supervisor", role: Role = .supervisor, tokenSite: String? = nil) -> HTTPClient? {
        guard let connector, let ring, let address = file.nodes.first(where: { $0.node == site })?.apiAddress,
              let token = try? ring.tokenSigner.issue(subject: subject, role: role, site: tokenSite ?? site, now: Date(), ttlSeconds: 86_400).token
        else { return nil }
        return HTTPClient(address: address, headers: [("authorization", "Bearer \(token)")], connector: connector)
    }

    /// Queues and agents, written through whichever node answers.
    func loadSampleCenter() throws {
        let deadline = MonotonicClock.deadline(afterMs: 20_000)
        // The leader registers the sites a moment after it is elected.
        while MonotonicClock.now() < deadline {
            if let sites = try? get("/v1/sites")["sites"] as? [Any], sites.count == Demo.sites.count { break }
            ProcessControl.pause(ms: 100)
        }
        for (queue, body) in DemoWorkload.queues { try put("/v1/queues/\(queue)", body) }
        for site in Demo.sites {
            for agent in DemoWorkload.agents(at: site) {
                try put("/v1/agents/\(agent.name)", ["site": site, "roles": [agent.role], "capacity": ["voice": 1, "chat": 2, "sms": 3, "email": 2]],
                        asSupervisorOf: site)
            }
        }
    }

    func get(_ path: String) throws -> [String: Any] {
        for site in Demo.sites {
            if let response = try? client(for: site)?.send("GET", path, timeoutMs: 5_000), response.status == 200 {
                return response.jsonObject ?? [:]
            }
        }
        throw CommandFailure("no node answered GET \(path)")
    }

    /// PUT through whichever node answers, as the supervisor of `asSupervisorOf`
    /// (default: the node's own site).
    func put(_ path: String, _ body: [String: Any], asSupervisorOf owner: String? = nil) throws {
        var last = "no node answered"
        for site in Demo.sites {
            guard let client = client(for: site, tokenSite: owner) else { continue }
            do {
                let response = try client.sendJSON("PUT", path, json: body, timeoutMs: 10_000)
                if response.status == 200 { return }
                last = "HTTP \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))"
            } catch {
                last = "\(error)"
            }
        }
        throw CommandFailure("PUT \(path): \(last)")
    }

    func printBanner() {
        let first = file.nodes.first
        print("""

            Lifeline is running: three sites, one Raft cluster, mutual TLS between the nodes.

              status pages   \(file.nodes.compactMap { node in node.dashboardURL.map { "\($0)  (\(node.node))" } }.joined(separator: "\n                 "))
              metrics        \(first?.dashboardURL.map { $0 + "metrics" } ?? "-")
              cluster.json   \(ClusterFile.path(in: settings.directory))  (pids, API addresses, the ops client certificate)
              try the API    curl --cacert \(file.caFile) --cert \(file.certFile) --key \(file.keyFile) \\
                               -H "Authorization: Bearer \(file.tokens["supervisor"] ?? "")" \(first?.apiURL ?? "")/v1/queues
              tokens         ops, supervisor, auditor and dashboard tokens are in cluster.json; dashboard:
                               \(file.tokens["dashboard"] ?? "-")
              status         lifeline status --cluster \(settings.directory)
              lose a site    lifeline cluster kill denver --dir \(settings.directory)    (or start with --kill-site denver)

            Callers and agents are working at every site. Ctrl-C stops everything.

            """)
    }

    func summaryLine(elapsedMs: UInt64) -> String {
        guard let view = try? get("/v1/cluster") else { return "[\(elapsedMs / 1000) s] no node answers" }
        let center = view["contactCenter"] as? [String: Any] ?? [:]
        let sites = (center["sites"] as? [[String: Any]] ?? []).map { site -> String in
            "\(site["site"] as? String ?? "?") \(site["up"] as? Bool == true ? "up" : "DOWN")"
        }
        let waiting = (center["queues"] as? [[String: Any]] ?? []).reduce(0) { $0 + ($1["depth"] as? Int ?? 0) }
        return "[\(elapsedMs / 1000) s] leader \(view["leader"] as? String ?? "none") | \(sites.joined(separator: ", ")) | waiting \(waiting) | " + stats.line()
    }

    /// Stops the processes this demo started (by PID) and removes its directory.
    func cleanUp() {
        if FileManager.default.fileExists(atPath: ClusterFile.path(in: settings.directory)) {
            _ = try? LocalCluster.down(directory: settings.directory)
        }
        if settings.keep {
            print("lifeline demo: kept \(settings.directory)")
        } else {
            try? FileManager.default.removeItem(atPath: settings.directory)
        }
    }
}

/// What the simulated people did, counted.
final class DemoStats: Sendable {
    enum Counter: Int, CaseIterable {
        case calls, answered, completed, abandoned, callbacks, errors
    }

    private let counts = Mutex([Int](repeating: 0, count: Counter.allCases.count))

    func add(_ counter: Counter) { counts.withLock { $0[counter.rawValue] += 1 } }

    func line() -> String {
        let values = counts.withLock { $0 }
        return "contacts \(values[0]), answered \(values[1]), completed \(values[2]), abandoned \(values[3]), "
            + "callbacks \(values[4]), errors \(values[5])"
    }
}
