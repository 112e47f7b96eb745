#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Node
import Transport
import Vault

/// A 3-member etcd cluster on 127.0.0.1 for `bench compare`: mutual TLS for
/// clients and peers with certificates from our CertificateAuthority, etcd's
/// default durability (fsync of its WAL on every Ready). Stops only the PIDs it
/// started.
final class EtcdBenchCluster: @unchecked Sendable {
    struct Member {
        var name: String
        var clientPort: Int
        var peerPort: Int
        var pid: pid_t = 0
    }

    let directory: String
    let executable: String
    let heartbeatMs: Int
    let electionMs: Int
    private(set) var members: [Member]
    let connector: HTTPClient.Connector
    let bundle: CertificateBundle

    static let stopGraceMs: UInt64 = 10_000

    /// The etcd binary, or nil when it is not installed.
    static func findExecutable() -> String? {
        for path in ["/usr/bin/etcd", "/usr/local/bin/etcd", "/usr/sbin/etcd"] where access(path, X_OK) == 0 { return path }
        return nil
    }

    /// `etcd --version` first line, e.g. "etcd Version: 3.4.23".
    static func version(_ executable: String) -> String {
        let (status, output) = ProcessControl.run(executable: executable, arguments: ["--version"], timeoutMs: 10_000)
        guard status == 0 else { return "unknown" }
        return output.split(separator: "\n").first.map(String.init) ?? "unknown"
    }

    /// Installs etcd-server and etcd-client with apt-get when possible. Returns the
    /// binary, or nil with the reason printed.
    static func ensureInstalled(allowInstall: Bool) -> String? {
        if let found = findExecutable() { return found }
        guard allowInstall else {
            say("etcd is not installed and --no-install was given: etcd's half is skipped")
            return nil
        }
        guard access("/usr/bin/apt-get", X_OK) == 0 else {
            say("etcd is not installed and apt-get is not available: etcd's half is skipped")
            return nil
        }
        say("installing etcd: apt-get install -y etcd-server etcd-client ...")
        var (status, output) = ProcessControl.run(
            executable: "/usr/bin/apt-get", arguments: ["install", "-y", "etcd-server", "etcd-client"], timeoutMs: 600_000)
        if status != 0 || findExecutable() == nil {
            // A fresh machine may have no package lists yet.
            say("apt-get install failed (exit \(status)); running apt-get update and trying once more ...")
            _ = ProcessControl.run(executable: "/usr/bin/apt-get", arguments: ["update"], timeoutMs: 600_000)
            (status, output) = ProcessControl.run(
                executable: "/usr/bin/apt-get", arguments: ["install", "-y", "etcd-server", "etcd-client"], timeoutMs: 600_000)
        }
        if status != 0 || findExecutable() == nil {
            say("cannot install etcd (apt-get exit \(status)): \(output.split(separator: "\n").suffix(3).joined(separator: " / "))")
            say("etcd's half is skipped; run as root with network access, or install etcd-server yourself")
            return nil
        }
        return findExecutable()
    }

    init(executable: String, directory: String, basePort: Int, heartbeatMs: Int, electionMs: Int) throws {
        self.executable = executable
        self.directory = directory
        self.heartbeatMs = heartbeatMs
        self.electionMs = electionMs
        members = (1...3).map { Member(name: "e\($0)", clientPort: basePort + 50 + $0, peerPort: basePort + $0) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        bundle = CertificateBundle(directory: directory + "/tls")
        do {
            try CertificateAuthority.generateCluster(directory: bundle.directory, nodes: members.map(\.name), clients: ["ops"])
        } catch {
            throw CommandFailure("etcd certificates: \(error)")
        }
        connector = try NodeClient.tlsConnector(caFile: bundle.caFile, certFile: bundle.certFile("ops"), keyFile: bundle.keyFile("ops"))
    }

    var clientAddresses: [HostPort] { members.map { HostPort(host: "127.0.0.1", port: UInt16($0.clientPort)) } }
    var pids: [pid_t] { members.map(\.pid) }

    private func arguments(_ member: Member) -> [String] {
        let cluster = members.map { "\($0.name)=https://127.0.0.1:\($0.peerPort)" }.joined(separator: ",")
        return [
            "--name", member.name, "--data-dir", dataDirectory(member),
            "--listen-client-urls", "https://127.0.0.1:\(member.clientPort)", "--advertise-client-urls", "https://127.0.0.1:\(member.clientPort)",
            "--listen-peer-urls", "https://127.0.0.1:\(member.peerPort)", "--initial-advertise-peer-urls", "https://127.0.0.1:\(member.peerPort)",
            "--initial-cluster", cluster, "--initial-cluster-state", "new", "--initial-cluster-token", "lifeline-bench",
            "--client-cert-auth", "--trusted-ca-file", bundle.caFile,
            "--cert-file", bundle.certFile(member.name), "--key-file", bundle.keyFile(member.name),
            "--peer-client-cert-auth", "--peer-trusted-ca-file", bundle.caFile,
            "--peer-cert-file", bundle.certFile(member.name), "--peer-key-file", bundle.keyFile(member.name),
            "--heartbeat-interval", "\(heartbeatMs)", "--election-timeout", "\(electionMs)",
            // etcd logs a warning per gateway request with client certificates;
            // errors only, so that logging does not slow etcd down.
            "--logger", "zap", "--log-level", "error",
        ]
    }

    private func dataDirectory(_ member: Member) -> String { directory + "/" + member.name }
    private var marks: [String] { ["etcd", directory] }

    func start() throws {
        for index in members.indices { try startMember(index) }
    }

    private func startMember(_ index: Int) throws {
        members[index].pid = try ProcessControl.spawnDetached(
            executable: executable, arguments: arguments(members[index]), logFile: directory + "/\(members[index].name).log")
    }

    func stop() {
        for member in members where member.pid > 0 {
            ProcessControl.stop(member.pid, commandContains: marks, graceMs: Self.stopGraceMs)
            reapFully(member.pid)
        }
    }

    /// POST /v3/maintenance/status on one member.
    func status(_ index: Int) -> [String: Any]? {
        let client = HTTPClient(address: clientAddresses[index], connector: connector)
        defer { client.close() }
        guard let response = try? client.send("POST", "/v3/maintenance/status", body: Array("{}".utf8), timeoutMs: 2_000),
              response.status == 200 else { return nil }
        return response.jsonObject
    }

    /// Waits until every running member names the same leader; returns its index.
    func waitForLeader(timeoutMs: UInt64 = 30_000) throws -> Int {
        let deadline = MonotonicClock.deadline(afterMs: timeoutMs)
        while MonotonicClock.now() < deadline {
            var leaders: Set<String> = []
            var ids: [String: Int] = [:]
            var answered = true
            for index in members.indices where ProcessControl.isRunning(members[index].pid, commandContains: marks) {
                guard let status = status(index), let leader = status["leader"] as? String, leader != "0",
                      let own = (status["header"] as? [String: Any])?["member_id"] as? String else {
                    answered = false
                    break
                }
                leaders.insert(leader)
                ids[own] = index
            }
            if answered, leaders.count == 1, let index = ids[leaders.first!] { return index }
            ProcessControl.pause(ms: 20)
        }
        throw CommandFailure("the etcd members did not agree on a leader within \(timeoutMs) ms; see \(directory)/e*.log")
    }

    func kill9(_ index: Int) {
        let pid = members[index].pid
        if ProcessControl.isRunning(pid, commandContains: marks) { kill(pid, SIGKILL) }
        let deadline = MonotonicClock.deadline(afterMs: 5_000)
        while ProcessControl.isRunning(pid, commandContains: marks) && MonotonicClock.now() < deadline {
            ProcessControl.reap(pid)
            ProcessControl.pause(ms: 5)
        }
        reapFully(pid)
    }

    func stopMember(_ index: Int) {
        ProcessControl.stop(members[index].pid, commandContains: marks, graceMs: Self.stopGraceMs)
        reapFully(members[index].pid)
    }

    /// Starts a stopped member again from its data directory.
    func restart(_ index: Int) throws { try startMember(index) }

    /// Waits until member `index` answers and has applied at least `raftIndex`.
    func waitUntilApplied(_ index: Int, raftIndex target: Int, timeoutMs: UInt64) -> Bool {
        let deadline = MonotonicClock.deadline(afterMs: timeoutMs)
        while MonotonicClock.now() < deadline {
            if let status = status(index), let applied = Int(status["raftAppliedIndex"] as? String ?? ""), applied >= target { return true }
            ProcessControl.pause(ms: 10)
        }
        return false
    }

    /// POST /v3/kv/put {"key": base64, "value": base64}: the JSON gateway.
    func putTarget(addresses: [HostPort], valueBytes: Int, distinctKeys: Bool = false) -> LoadTarget {
        let value = Base64.encode([UInt8](repeating: UInt8(ascii: "v"), count: valueBytes), urlSafe: false)
        let host = addresses[0].description
        return LoadTarget(addresses: addresses, connector: connector, request: { worker, sequence in
            let key = Base64.encode(Array("b\(worker)-\(sequence)".utf8), urlSafe: false)
            return httpRequest("POST", "/v3/kv/put", host: host, body: Array("{\"key\":\"\(key)\",\"value\":\"\(value)\"}".utf8))
        }, preparedPerWorker: distinctKeys ? 0 : 64)
    }

    /// Total size of a member's snapshot files (member/snap/*.snap and *.db).
    func snapshotBytes(_ index: Int) -> (snap: Int, db: Int) {
        let snapDirectory = dataDirectory(members[index]) + "/member/snap"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: snapDirectory)) ?? []
        var snap = 0
        var db = 0
        for file in files {
            let size = ((try? FileManager.default.attributesOfItem(atPath: snapDirectory + "/" + file))?[.size] as? NSNumber)?.intValue ?? 0
            if file.hasSuffix(".snap") { snap += size } else if file == "db" { db += size }
        }
        return (snap, db)
    }
}
