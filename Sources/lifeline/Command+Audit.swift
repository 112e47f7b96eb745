import Foundation
import Node
import Vault

let auditCommand = Command(
    name: "audit",
    summary: "verify the replicated audit trail, or export it as JSON lines",
    help: """
        Usage: lifeline audit verify TARGET
               lifeline audit export TARGET [--from MS] [--to MS] [--out FILE]

        verify: asks a node to check the audit hash chain (each event carries the
        hash of the one before) and prints the result; names the first broken link.
        It also re-checks the exported events here. Exit 1 when the chain is broken.

        export: every audit event (no patient data: actors, roles, actions,
        resource ids, outcomes, reasons) between --from and --to (ms since the
        epoch), one JSON object per line, to FILE or standard output.

        TARGET is --cluster DIR (its auditor token) or --url with --ca, --cert,
        --key and --token (an auditor token).
        \(AdminTarget.optionsHelp)
          --json          verify: print the node's JSON answer (export is JSON lines already)

        Example:
          lifeline audit verify --cluster /tmp/ll
          lifeline audit export --cluster /tmp/ll --from 1795000000000 --out audit.jsonl

        Exit codes: 0 ok (chain intact), 1 failed or broken, 2 usage.
        """,
    run: { arguments in
        let options = try OptionParser(arguments, valued: AdminTarget.valuedOptions.union(["from", "to", "out"]), flags: ["json"])
        let target = try AdminTarget(options, role: "auditor")
        switch (options.positional.first, options.positional.count) {
        case ("verify", 1):
            let response = try APIClientCommand.send(target, "GET", "/v1/audit/verify")
            guard response.status == 200, let object = response.jsonObject else {
                return try APIClientCommand.show(response, json: true) { _ in "" }
            }
            // Check the chain here too, from the exported events.
            let export = try APIClientCommand.send(target, "GET", "/v1/audit")
            let events = try decodeEvents(export)
            let local = AuditChain.verify(events)
            let count = object["events"] as? Int ?? events.count
            if options.has("json") { print(String(decoding: response.body, as: UTF8.self)) }
            if object["ok"] as? Bool == true, case .success = local {
                if !options.has("json") { print("audit trail intact: \(count) events, last hash \(object["lastHash"] as? String ?? "-")") }
                return ExitCode.ok
            }
            if case .failure(let broken) = local { printError("audit trail broken (checked here): \(broken.description)") }
            if object["ok"] as? Bool != true { printError("audit trail broken (the node says): \(object["reason"] as? String ?? "")") }
            return ExitCode.failed
        case ("export", 1):
            var path = "/v1/audit"
            var query: [String] = []
            if let from = options.value("from") { guard UInt64(from) != nil else { throw UsageError("--from wants ms since the epoch") }; query.append("from=\(from)") }
            if let to = options.value("to") { guard UInt64(to) != nil else { throw UsageError("--to wants ms since the epoch") }; query.append("to=\(to)") }
            if !query.isEmpty { path += "?" + query.joined(separator: "&") }
            let events = try decodeEvents(try APIClientCommand.send(target, "GET", path))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let lines = try events.map { String(decoding: try encoder.encode($0), as: UTF8.self) }.joined(separator: "\n") + (events.isEmpty ? "" : "\n")
            if let out = options.value("out") {
                guard !FileManager.default.fileExists(atPath: out) else { throw CommandFailure("\(out) already exists") }
                try writeAtomically(Array(lines.utf8), to: out)
                print("exported \(events.count) audit events to \(out)")
            } else {
                print(lines, terminator: "")
            }
            return ExitCode.ok
        default:
            throw UsageError("want 'audit verify' or 'audit export'")
        }
    }
)

/// The events of a `GET /v1/audit` answer.
func decodeEvents(_ response: HTTPResponse) throws -> [AuditEvent] {
    guard response.status == 200, let list = response.jsonObject?["events"] as? [Any] else {
        throw CommandFailure("HTTP \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
    }
    return try list.map { item in
        try JSONDecoder().decode(AuditEvent.self, from: try JSONSerialization.data(withJSONObject: item))
    }
}
