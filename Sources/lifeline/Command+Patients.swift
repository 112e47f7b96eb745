import Foundation
import Node

/// `lifeline patients retention|shred`: records retention and crypto-shredding
/// for supervisors (the privacy officer's runbook). Patient ids are the
/// references front ends send; no record content is ever printed.
let patientsCommand = Command(
    name: "patients",
    summary: "list patients past the records retention period and crypto-shred them",
    help: """
        Usage: lifeline patients retention TARGET [--older-than-days N] [--json]
               lifeline patients retention TARGET --shred --reason TEXT [--older-than-days N] [--json]
               lifeline patients shred ID --reason TEXT TARGET [--json]

        retention: the patients whose last record is older than the retention
        period: the nodes' 'retentionDays' (default 2192, six years) or
        --older-than-days N. With --shred it crypto-shreds all of them through
        replicated commands (POST /v1/patients/retention, up to 1,000 patients a
        command, repeated until none remain): each patient's data key is
        destroyed on every node, their records can never be decrypted again,
        and each shred is an audit event (phi.shred) with the reason. Backups
        taken before stay readable until the KEK is rotated, re-wrapped and the
        old version retired ('lifeline keys', Docs/operations.md 6a).

        shred: crypto-shreds one patient (POST /v1/patients/{id}/shred).

        Both need a supervisor token (with --cluster, the first site's).
        TARGET:
        \(AdminTarget.optionsHelp)
          --json          print the API's JSON

        Example:
          lifeline patients retention --cluster /tmp/ll
          lifeline patients retention --cluster /tmp/ll --shred --reason "retention policy 2026-Q4"

        Exit codes: 0 ok, 1 failed (no node answered, refused), 2 usage.
        """,
    run: { arguments in
        let options = try OptionParser(arguments, valued: AdminTarget.valuedOptions.union(["older-than-days", "reason"]), flags: ["json", "shred"])
        let target = try AdminTarget(options, role: "supervisor")
        var days: UInt64?
        if let text = options.value("older-than-days") {
            guard let value = UInt64(text), value <= NodeConfig.retentionDaysRange.upperBound else {
                throw UsageError("--older-than-days wants a whole number of days, 0...\(NodeConfig.retentionDaysRange.upperBound)")
            }
            days = value
        }
        let reason = options.value("reason")
        if let reason, reason.isEmpty || reason.utf8.count > 256 { throw UsageError("--reason wants 1...256 bytes of text") }
        switch (options.positional.first, options.positional.count) {
        case ("retention", 1) where !options.has("shred"):
            let path = "/v1/patients/retention" + (days.map { "?olderThanDays=\($0)" } ?? "")
            return try APIClientCommand.show(try APIClientCommand.send(target, "GET", path), json: options.has("json")) { answer in
                let patients = answer["patients"] as? [String] ?? []
                let period = "\(APIClientCommand.text(answer["olderThanDays"])) days"
                return (["\(patients.count) patient(s) past the retention period (\(period))"] + patients.map { "  " + $0 }).joined(separator: "\n")
            }
        case ("retention", 1):
            guard let reason else { throw UsageError("--shred needs --reason TEXT (it is audited with every shred)") }
            return try shredPastRetention(target, days: days, reason: reason, json: options.has("json"))
        case ("shred", 2):
            guard let reason else { throw UsageError("shred needs --reason TEXT (it is audited)") }
            let patient = options.positional[1]
            guard !patient.isEmpty, patient.utf8.count <= 64, !patient.contains("/") else { throw UsageError("want a patient reference (1...64 bytes, no '/')") }
            let path = "/v1/patients/\(patient.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? patient)/shred"
            return try APIClientCommand.show(try APIClientCommand.send(target, "POST", path, body: ["reason": reason]), json: options.has("json")) { _ in
                "patient \(patient) crypto-shredded on every node (audited)"
            }
        default:
            throw UsageError("want 'patients retention' or 'patients shred ID'")
        }
    }
)

/// Repeats the retention command until no patient past the period remains.
private func shredPastRetention(_ target: AdminTarget, days: UInt64?, reason: String, json: Bool) throws -> Int32 {
    var body: [String: Any] = ["reason": reason]
    if let days { body["olderThanDays"] = days }
    var shredded = 0
    var period: Any?
    // Each round shreds up to 1,000; the bound only guards against a loop.
    for _ in 0..<100_000 {
        let response = try target.sendToLeader("POST", "/v1/patients/retention", json: body, timeoutMs: 30_000)
        let answer = response.jsonObject ?? [:]
        guard response.status == 200 else {
            let error = answer["error"] as? [String: Any]
            throw CommandFailure("HTTP \(response.status) \(error?["code"] as? String ?? ""): \(error?["message"] as? String ?? "") (\(shredded) patient(s) shredded before)")
        }
        let done = answer["shredded"] as? Int ?? 0
        shredded += done
        period = answer["retentionDays"]
        if (answer["remaining"] as? Int ?? 0) == 0 || done == 0 {
            if json {
                printJSON(["shredded": shredded, "remaining": answer["remaining"] ?? 0, "retentionDays": period ?? NSNull()])
            } else {
                print("crypto-shredded \(shredded) patient(s) past the retention period (\(APIClientCommand.text(period)) days) on every node; each is audited as phi.shred")
            }
            return ExitCode.ok
        }
    }
    throw CommandFailure("retention shredding did not finish (\(shredded) patient(s) shredded)")
}
