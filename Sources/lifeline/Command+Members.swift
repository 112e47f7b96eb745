import Raft
import Node

let membersCommand = Command(
    name: "members",
    summary: "add a learner, promote it to voter, or remove a member",
    help: """
        Usage: lifeline members add NODE --site SITE --peer-address HOST:PORT --api-address HOST:PORT TARGET
               lifeline members promote NODE TARGET
               lifeline members remove NODE TARGET

        Membership changes go through the leader, one at a time, and apply when
        committed. A new node joins as a non-voting learner: start it with
        "join": true in its configuration, wait until it has caught up
        (lifeline status), then promote it.

        TARGET:
        \(AdminTarget.optionsHelp)
          --json          print the API's JSON answer

        Example:
          lifeline members add d --site site-d --peer-address 10.0.4.10:7100 \\
              --api-address 10.0.4.10:8443 --cluster /tmp/ll
          lifeline members promote d --cluster /tmp/ll
          lifeline members remove c --cluster /tmp/ll

        Exit codes: 0 applied, 1 refused or failed, 2 usage.
        """,
    run: { arguments in
        let options = try OptionParser(arguments, valued: AdminTarget.valuedOptions.union(["site", "peer-address", "api-address"]), flags: ["json"])
        guard options.positional.count == 2 else { throw UsageError("want: members add|promote|remove NODE") }
        let (action, node) = (options.positional[0], options.positional[1])
        guard NodeID(node).isValid else { throw UsageError("'\(node)' is not a node id") }
        let target = try AdminTarget(options)
        switch action {
        case "add":
            guard let site = options.value("site"), let peer = options.value("peer-address"), let api = options.value("api-address") else {
                throw UsageError("members add needs --site, --peer-address and --api-address")
            }
            let body: [String: Any] = ["node": node, "site": site, "peerAddress": peer, "apiAddress": api]
            return report(try target.sendToLeader("POST", "/v1/cluster/members", json: body), success: "added \(node) as a learner", json: options.has("json"))
        case "promote":
            return report(try target.sendToLeader("POST", "/v1/cluster/members/\(node)/promote", json: nil), success: "promoted \(node) to voter", json: options.has("json"))
        case "remove":
            return report(try target.sendToLeader("DELETE", "/v1/cluster/members/\(node)", json: nil), success: "removed \(node)", json: options.has("json"))
        default:
            throw UsageError("unknown action '\(action)': want add, promote or remove")
        }
    }
)

let transferLeaderCommand = Command(
    name: "transfer-leader",
    summary: "hand leadership to another voter",
    help: """
        Usage: lifeline transfer-leader --to NODE TARGET

        Asks the leader to hand leadership to NODE (a voter) and waits until NODE
        leads. Use before maintenance on the leader's site.

        TARGET:
        \(AdminTarget.optionsHelp)
          --json          print the API's JSON answer

        Example:
          lifeline transfer-leader --to b --cluster /tmp/ll

        Exit codes: 0 NODE leads, 1 refused or timed out, 2 usage.
        """,
    run: { arguments in
        let options = try OptionParser(arguments, valued: AdminTarget.valuedOptions.union(["to"]), flags: ["json"])
        guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
        guard let to = options.value("to"), NodeID(to).isValid else { throw UsageError("--to NODE is required") }
        let target = try AdminTarget(options)
        return report(try target.sendToLeader("POST", "/v1/cluster/transfer-leader", json: ["to": to]), success: "\(to) is the leader", json: options.has("json"))
    }
)
