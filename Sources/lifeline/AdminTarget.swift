import Foundation
import Node

/// Which nodes an admin command talks to, and with which client certificate:
/// `--cluster DIR` (a `lifeline cluster up` directory) or `--url URL` with
/// `--ca`, `--cert`, `--key` (the ops client's TLS files).
struct AdminTarget {
    var addresses: [HostPort]
    var connector: HTTPClient.Connector
    /// The bearer token sent with every request, as a header.
    var headers: [(String, String)] = []
    /// With --cluster and no --token: cluster.json's tokens, for `forSite`.
    private var tokens: [String: String] = [:]

    static let valuedOptions: Set<String> = ["cluster", "url", "ca", "cert", "key", "token"]

    static let optionsHelp = """
          --cluster DIR   a directory written by 'lifeline cluster up'
          --url URL       a node's API, https://host:port (http:// only for a loopback plain API)
          --ca FILE       the cluster CA (with --url https://)
          --cert FILE     the ops client certificate (with --url https://)
          --key FILE      the ops client key (with --url https://)
          --token TOKEN   the bearer token to send (with --cluster: the one for this
                          command's role in cluster.json, for an agent, task or site
                          the supervisor token of its site; 'lifeline token issue'
                          makes one)
        """

    /// - Parameter role: whose token from cluster.json the command uses (ops for
    ///   cluster administration, supervisor for the contact center, auditor for audit).
    init(_ options: OptionParser, role: String = "ops") throws {
        if let token = options.value("token") { headers = [("authorization", "Bearer \(token)")] }
        if let directory = options.value("cluster") {
            guard options.value("url") == nil else { throw UsageError("use --cluster or --url, not both") }
            let file = try ClusterFile.read(from: directory)
            addresses = file.nodes.filter { $0.pid != 0 }.compactMap(\.apiAddress)
            connector = try NodeClient.tlsConnector(caFile: file.caFile, certFile: file.certFile, keyFile: file.keyFile)
            if headers.isEmpty {
                headers = file.authorization(role)
                tokens = file.tokens
            }
            return
        }
        guard let url = options.value("url") else { throw UsageError("--cluster DIR or --url URL is required") }
        let plain = url.hasPrefix("http://")
        guard plain || url.hasPrefix("https://"),
              let hostPort = url.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first,
              let address = HostPort(parsing: String(hostPort))
        else { throw UsageError("--url wants https://host:port, got '\(url)'") }
        addresses = [address]
        if plain {
            guard address.isLoopback else { throw UsageError("plain http:// is allowed only for a loopback address") }
            connector = NodeClient.plainConnector()
        } else {
            guard let ca = options.value("ca"), let cert = options.value("cert"), let key = options.value("key") else {
                throw UsageError("--url https:// needs --ca, --cert and --key")
            }
            connector = try NodeClient.tlsConnector(caFile: ca, certFile: cert, keyFile: key)
        }
    }

    /// This target with the supervisor token of `site` from cluster.json, when
    /// there is one and no --token was given: a supervisor acts only for the
    /// agents, tasks and drains of their own site.
    func forSite(_ site: String) -> AdminTarget {
        guard let token = tokens["supervisor@\(site)"] else { return self }
        var copy = self
        copy.headers = [("authorization", "Bearer \(token)")]
        return copy
    }

    /// `forSite` of the site named by `field` in the JSON at `path` (an agent or
    /// a task), or this target when there is no such object or token.
    func forSiteOf(_ path: String, field: String = "site") -> AdminTarget {
        guard !tokens.isEmpty, let response = try? APIClientCommand.send(self, "GET", path), response.status == 200,
              let site = response.jsonObject?[field] as? String else { return self }
        return forSite(site)
    }

    func client(_ address: HostPort) -> HTTPClient {
        HTTPClient(address: address, headers: headers, connector: connector)
    }

    /// `GET /v1/cluster` from the first node that answers.
    func firstView() throws -> (HostPort, [String: Any]) {
        var failures: [String] = []
        for address in addresses {
            do {
                let response = try client(address).send("GET", "/v1/cluster", timeoutMs: 5_000)
                if response.status == 200, let object = response.jsonObject { return (address, object) }
                failures.append("\(address): HTTP \(response.status)")
            } catch {
                failures.append("\(address): \(error)")
            }
        }
        throw CommandFailure("no node answered: " + failures.joined(separator: "; "))
    }

    /// Sends an admin request to the leader (found through any node's view) and
    /// returns its response. Retries through a fresh view while leadership moves.
    func sendToLeader(_ method: String, _ path: String, json: [String: Any]?, timeoutMs: UInt64 = 20_000) throws -> HTTPResponse {
        let deadline = MonotonicClock.deadline(afterMs: timeoutMs)
        var last = "no leader known"
        while MonotonicClock.now() < deadline {
            let (address, view) = try firstView()
            let leaderAPI = (view["leaderAPI"] as? String).flatMap(HostPort.init(parsing:))
            let target = leaderAPI.map { api in addresses.first { $0.port == api.port && $0.host == api.host } ?? api } ?? address
            if view["leader"] is String {
                let client = client(target)
                let response = json == nil
                    ? try client.send(method, path, timeoutMs: 15_000)
                    : try client.sendJSON(method, path, json: json!, timeoutMs: 15_000)
                let code = ((response.jsonObject?["error"] as? [String: Any])?["code"] as? String) ?? ""
                if code != "not_leader" && code != "no_leader" { return response }
                last = code
            }
            ProcessControl.pause(ms: 200)
        }
        throw CommandFailure("could not reach the leader in time (\(last))")
    }
}

/// Prints an admin response (the API's JSON with `json`); 0 for 2xx, 1 otherwise.
func report(_ response: HTTPResponse, success: String, json: Bool = false) -> Int32 {
    if (200..<300).contains(response.status) {
        print(json ? String(decoding: response.body, as: UTF8.self) : success)
        return ExitCode.ok
    }
    let error = response.jsonObject?["error"] as? [String: Any]
    printError("HTTP \(response.status) \(error?["code"] as? String ?? ""): \(error?["message"] as? String ?? "")")
    return ExitCode.failed
}
