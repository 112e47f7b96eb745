import Foundation
import Node

let statusCommand = Command(
    name: "status",
    summary: "print each node's view of the cluster",
    help: """
        Usage: lifeline status TARGET [--json]

        Asks every node (with --cluster) or one node (with --url) for its view:
        role, term, leader, commit and applied index, members and whether they
        are reachable. A node that does not answer is shown as DOWN.

        TARGET:
        \(AdminTarget.optionsHelp)
          --json          print the raw /v1/cluster objects, one per line

        Example:
          lifeline status --cluster /tmp/ll
          lifeline status --url https://10.0.1.10:8443 --ca ca.pem --cert ops.pem --key ops.key

        Exit codes: 0 every node answered, 1 some did not, 2 usage.
        """,
    run: { arguments in
        let options = try OptionParser(arguments, valued: AdminTarget.valuedOptions, flags: ["json"])
        guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
        let target = try AdminTarget(options)
        var allAnswered = true
        print(options.has("json") ? "" : "NODE  SITE        ROLE        TERM  LEADER  COMMIT   APPLIED  HASH              MEMBERS")
        for address in target.addresses {
            let answer = try? target.client(address).send("GET", "/v1/cluster", timeoutMs: 5_000)
            if let answer, answer.status != 200 {
                allAnswered = false
                let error = answer.jsonObject?["error"] as? [String: Any]
                print("\(address): HTTP \(answer.status) \(error?["code"] as? String ?? ""): \(error?["message"] as? String ?? "")")
                continue
            }
            guard let response = answer, let view = response.jsonObject
            else {
                allAnswered = false
                print(options.has("json") ? "{\"address\":\"\(address)\",\"down\":true}" : "\(address): DOWN")
                continue
            }
            if options.has("json") {
                print(String(decoding: response.body, as: UTF8.self))
                continue
            }
            let members = (view["members"] as? [[String: Any]] ?? []).map { member -> String in
                let name = member["node"] as? String ?? "?"
                let role = member["role"] as? String == "learner" ? "(learner)" : ""
                let reach = member["reachable"] as? Bool == true ? "" : "!"
                return "\(name)\(role)\(reach)"
            }
            func column(_ value: Any?, _ width: Int) -> String {
                let text = value.map { "\($0)" } ?? "-"
                return text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
            }
            print(column(view["node"], 6) + column(view["site"], 12) + column(view["role"], 12) + column(view["term"], 6)
                + column(view["leader"] as? String ?? "none", 8) + column(view["commitIndex"], 9) + column(view["appliedIndex"], 9)
                + column(view["stateHash"], 18) + members.joined(separator: ","))
        }
        return allAnswered ? ExitCode.ok : ExitCode.failed
    }
)
