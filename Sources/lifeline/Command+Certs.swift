import Raft
import Transport

let certsCommand = Command(
    name: "certs",
    summary: "make the cluster CA, node and client certificates",
    help: """
        Usage: lifeline certs init --dir DIR --nodes a,b,c [--clients NAME,...]
                                   [--hosts a=10.0.0.1,b=db2.example.org]

        Creates a cluster certificate authority and, signed by it, one certificate
        and key per node and per client, with OpenSSL (EC P-256, SHA-256):

          DIR/ca.pem, DIR/ca-key.pem           the cluster CA (10 years)
          DIR/NODE.pem, DIR/NODE-key.pem       per node: SAN DNS:NODE, DNS:localhost,
                                               IP:127.0.0.1 and its --hosts entry;
                                               server and client auth (2 years)
          DIR/CLIENT.pem, DIR/CLIENT-key.pem   per client: SAN DNS:CLIENT; client auth

        Private keys are created with mode 0600. DIR must not exist or be empty:
        existing certificates are never overwritten. Keep ca-key.pem offline
        once the cluster's certificates are issued.

        Node and client names: 1-63 characters of a-z, 0-9 and '-', starting with
        a letter or digit.

        Example:
          lifeline certs init --dir /etc/lifeline/tls --nodes boston,denver,atlanta --clients ops

        Exit codes: 0 ok, 1 failed (directory exists, cannot write), 2 usage.
        """,
    run: runCerts
)

@Sendable func runCerts(_ arguments: [String]) throws -> Int32 {
    guard arguments.first == "init" else { throw UsageError("the only certs action is 'init'") }
    let options = try OptionParser(Array(arguments.dropFirst()), valued: ["dir", "nodes", "clients", "hosts"])
    guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
    guard let directory = options.value("dir"), !directory.isEmpty else { throw UsageError("--dir is required") }
    guard let nodeList = options.value("nodes") else { throw UsageError("--nodes is required") }
    let nodes = try names(nodeList, option: "nodes")
    let clients = try options.value("clients").map { try names($0, option: "clients") } ?? []
    guard Set(nodes + clients).count == nodes.count + clients.count else { throw UsageError("node and client names must all differ") }
    var hosts: [String: String] = [:]
    for pair in (options.value("hosts") ?? "").split(separator: ",") {
        let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, nodes.contains(parts[0]), !parts[1].isEmpty else {
            throw UsageError("--hosts wants NODE=HOST pairs for listed nodes, got '\(pair)'")
        }
        hosts[parts[0]] = parts[1]
    }
    do {
        try CertificateAuthority.generateCluster(directory: directory, nodes: nodes, clients: clients, hosts: hosts)
    } catch {
        throw CommandFailure(error.description)
    }
    print("wrote the cluster CA to \(directory)/ca.pem (key: \(directory)/ca-key.pem, mode 0600)")
    for name in nodes { print("  node \(name): \(directory)/\(name).pem, \(directory)/\(name)-key.pem") }
    for name in clients { print("  client \(name): \(directory)/\(name).pem, \(directory)/\(name)-key.pem") }
    return ExitCode.ok
}

private func names(_ list: String, option: String) throws -> [String] {
    let names = list.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    for name in names where !NodeID(name).isValid {
        throw UsageError("--\(option): '\(name)' is not a valid name (1-63 of a-z, 0-9, '-')")
    }
    guard Set(names).count == names.count else { throw UsageError("--\(option) lists a name twice") }
    return names
}
