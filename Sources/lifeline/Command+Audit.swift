import Foundation
import Node
import Vault

let auditCommand = Command(
    name: "audit",
    summary: "verify the replicated audit trail, export it as JSON lines, report break-glass accesses, or archive its oldest events",
    help: """
        Usage: lifeline audit verify TARGET [--archive FILE[,FILE...]]
               lifeline audit export TARGET [--from MS] [--to MS] [--out FILE]
               lifeline audit break-glass TARGET [--from MS] [--to MS] [--json]
               lifeline audit archive --through N --out FILE TARGET

        verify: asks a node to check the audit hash chain (each event carries the
        hash of the one before) and prints the result; names the first broken link.
        It also re-checks the exported events here. After an archive the trail
        starts at an anchor (the last archived event's sequence and hash), which
        it names. --archive FILE also checks an archive file: its events link to
        each other and its last event is the trail's anchor. After several
        archives give them all, oldest first: --archive F1,F2,F3; each must start
        where the one before ends. Exit 1 when broken.

        export: every audit event (no patient data: actors, roles, actions,
        resource ids, outcomes, reasons) between --from and --to (ms since the
        epoch), one JSON object per line, to FILE or standard output.

        break-glass: the report of every record opened outside the normal rules
        (breakGlass=true on GET /v1/patients/{id}/record) between --from and
        --to: when, who (subject and role), which patient and task, the stated
        reason, and whether it was allowed; newest last. For the privacy
        officer's review. --json prints the events as a JSON array.

        TARGET is --cluster DIR (its auditor token) or --url with --ca, --cert,
        --key and --token (an auditor token).
        \(AdminTarget.optionsHelp)
          --json          verify: print the node's JSON answer (export is JSON lines already)

        archive: exports the events with sequence 1...N still in the trail to FILE
        (JSON lines, as export; never overwritten), checks them here, then asks
        the cluster to drop them, proving with event N's hash that FILE holds
        exactly what is dropped (the trail keeps that hash as its anchor, and
        records an audit.archive event). Keep FILE where the audit retention
        policy says (six years); 'audit verify --archive FILE' ties it to the trail.

        Example:
          lifeline audit verify --cluster /tmp/ll
          lifeline audit archive --through 50000 --out audit-2026.jsonl --cluster /tmp/ll
          lifeline audit export --cluster /tmp/ll --from 1795000000000 --out audit.jsonl
          lifeline audit break-glass --cluster /tmp/ll

        Exit codes: 0 ok (chain intact), 1 failed or broken, 2 usage.
        """,
    run: { arguments in
        let options = try OptionParser(arguments, valued: AdminTarget.valuedOptions.union(["from", "to", "out", "through", "archive"]), flags: ["json"])
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
            let anchor = try auditAnchor(export)
            let local = AuditChain.verify(events, anchor: anchor)
            let count = object["events"] as? Int ?? events.count
            if let list = options.value("archive") {
                let archives = list.split(separator: ",").map(String.init)
                if let problem = checkArchives(archives, anchor: anchor) {
                    printError("archive \(list) does not tie to the trail: \(problem)")
                    return ExitCode.failed
                }
                if !options.has("json") {
                    print(archives.count == 1 ? "archive \(list) links to the trail's anchor"
                                              : "archives \(archives.joined(separator: " → ")) form one chain that links to the trail's anchor")
                }
            }
            if options.has("json") { print(String(decoding: response.body, as: UTF8.self)) }
            if object["ok"] as? Bool == true, case .success = local {
                if !options.has("json") {
                    let from = anchor == .genesis ? "from the first event" : "after the anchor at sequence \(anchor.nextSequence - 1) (hash \(Hex.encode(anchor.lastHash)))"
                    print("audit trail intact: \(count) events \(from), last hash \(object["lastHash"] as? String ?? "-")")
                }
                return ExitCode.ok
            }
            if case .failure(let broken) = local { printError("audit trail broken (checked here): \(broken.description)") }
            if object["ok"] as? Bool != true { printError("audit trail broken (the node says): \(object["reason"] as? String ?? "")") }
            return ExitCode.failed
        case ("export", 1):
            var path = "/v1/audit"
            let query = try timeQuery(options)
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
        case ("break-glass", 1):
            let events = try decodeEvents(try APIClientCommand.send(target, "GET", "/v1/audit?" + (try timeQuery(options) + ["breakGlass=true"]).joined(separator: "&")))
            if options.has("json") {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(events), as: UTF8.self))
                return ExitCode.ok
            }
            print("break-glass accesses: \(events.count)")
            for event in events {
                let when = Date(timeIntervalSince1970: Double(event.timeMs) / 1000).formatted(Date.ISO8601FormatStyle())
                print("  \(when)  #\(event.sequence)  \(event.actor) (\(event.role.rawValue))  \(event.action) \(event.outcome.rawValue)  \(event.resources.joined(separator: " "))  reason: \(event.reason)")
            }
            return ExitCode.ok
        case ("archive", 1):
            guard let text = options.value("through"), let through = UInt64(text), through > 0 else {
                throw UsageError("--through N (the sequence number of the last event to archive) is required")
            }
            guard let out = options.value("out"), !out.isEmpty else { throw UsageError("--out FILE is required") }
            guard !FileManager.default.fileExists(atPath: out) else { throw CommandFailure("\(out) already exists") }
            return try archiveAudit(target, through: through, out: out)
        default:
            throw UsageError("want 'audit verify', 'audit export', 'audit break-glass' or 'audit archive'")
        }
    }
)

/// `from=` and `to=` query items from --from and --to (ms since the epoch).
private func timeQuery(_ options: OptionParser) throws -> [String] {
    var query: [String] = []
    if let from = options.value("from") { guard UInt64(from) != nil else { throw UsageError("--from wants ms since the epoch") }; query.append("from=\(from)") }
    if let to = options.value("to") { guard UInt64(to) != nil else { throw UsageError("--to wants ms since the epoch") }; query.append("to=\(to)") }
    return query
}

/// The events of a `GET /v1/audit` answer.
func decodeEvents(_ response: HTTPResponse) throws -> [AuditEvent] {
    guard response.status == 200, let list = response.jsonObject?["events"] as? [Any] else {
        throw CommandFailure("HTTP \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
    }
    return try list.map { item in
        try JSONDecoder().decode(AuditEvent.self, from: try JSONSerialization.data(withJSONObject: item))
    }
}

/// The anchor of a `GET /v1/audit` answer (genesis when there is none).
func auditAnchor(_ response: HTTPResponse) throws -> AuditChain.Head {
    guard let object = response.jsonObject?["anchor"] as? [String: Any] else { return .genesis }
    guard let next = (object["nextSequence"] as? NSNumber)?.uint64Value, next > 0,
          let hash = (object["lastHash"] as? String).flatMap(Hex.decode), hash.count == Digest.sha256Bytes else {
        throw CommandFailure("the node's audit anchor does not decode")
    }
    return AuditChain.Head(nextSequence: next, lastHash: hash)
}

/// Why the archive files at `paths` (oldest first) do not form one chain that
/// ends at `anchor`, or nil when each file's events link to each other, each
/// file starts where the one before ended, and the last event is the anchor.
func checkArchives(_ paths: [String], anchor: AuditChain.Head) -> String? {
    var previous: (path: String, last: AuditEvent)?
    for path in paths {
        guard let data = FileManager.default.contents(atPath: path) else { return "\(path): cannot read it" }
        var events: [AuditEvent] = []
        for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
            guard let event = try? JSONDecoder().decode(AuditEvent.self, from: Data(line.utf8)) else { return "\(path): line \(number + 1) is not an audit event" }
            events.append(event)
        }
        guard let first = events.first, let last = events.last else { return "\(path): it holds no events" }
        if case .failure(let broken) = AuditChain.verify(events, anchor: AuditChain.Head(nextSequence: first.sequence, lastHash: first.prevHash)) {
            return "\(path): \(broken.description)"
        }
        if let previous, first.sequence != previous.last.sequence + 1 || first.prevHash != previous.last.hash {
            return "\(path) does not start where \(previous.path) ends (that ends at sequence \(previous.last.sequence), this starts at \(first.sequence)\(first.sequence == previous.last.sequence + 1 ? " with another previous hash" : ""))"
        }
        previous = (path, last)
    }
    guard let previous else { return "no archive file given" }
    guard previous.last.sequence + 1 == anchor.nextSequence, previous.last.hash == anchor.lastHash else {
        return "\(previous.path): its last event is sequence \(previous.last.sequence); the trail's anchor is sequence \(anchor.nextSequence - 1)"
    }
    return nil
}

/// `audit archive`: export, check, write, then truncate through the cluster.
func archiveAudit(_ target: AdminTarget, through: UInt64, out: String) throws -> Int32 {
    let export = try APIClientCommand.send(target, "GET", "/v1/audit")
    let anchor = try auditAnchor(export)
    let events = try decodeEvents(export)
    guard through >= anchor.nextSequence else {
        throw CommandFailure("events through sequence \(through) are already archived; the trail starts at \(anchor.nextSequence)")
    }
    let archived = events.filter { $0.sequence <= through }
    guard let last = archived.last, last.sequence == through else {
        throw CommandFailure("the trail holds no event with sequence \(through) (it ends at \(events.last?.sequence ?? anchor.nextSequence - 1))")
    }
    if case .failure(let broken) = AuditChain.verify(archived, anchor: anchor) {
        throw CommandFailure("refusing to archive a broken trail: \(broken.description)")
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let lines = try archived.map { String(decoding: try encoder.encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n"
    try writeAtomically(Array(lines.utf8), to: out)
    let response = try target.sendToLeader("POST", "/v1/audit/archive", json: ["through": through, "hash": Hex.encode(last.hash)])
    guard response.status == 200 else {
        let error = response.jsonObject?["error"] as? [String: Any]
        throw CommandFailure("wrote \(out), but the cluster did not drop the events: HTTP \(response.status) \(error?["message"] as? String ?? "")")
    }
    print("archived audit events \(anchor.nextSequence)...\(through) to \(out); the trail now starts after sequence \(through) (anchor hash \(Hex.encode(last.hash)))")
    return ExitCode.ok
}
