import Foundation
import Node

/// Thin clients of the contact-center API for ops and supervisors at a terminal.
/// Each sends one request to the first node that answers (a follower forwards
/// writes to the leader) and prints a table, or the raw JSON with --json.
enum APIClientCommand {
    /// Sends `method path` with `body` to the first node that answers.
    static func send(_ target: AdminTarget, _ method: String, _ path: String, body: [String: Any]? = nil) throws -> HTTPResponse {
        var failures: [String] = []
        for address in target.addresses {
            do {
                let client = target.client(address)
                return try body.map { try client.sendJSON(method, path, json: $0, timeoutMs: 15_000) }
                    ?? client.send(method, path, timeoutMs: 15_000)
            } catch {
                failures.append("\(address): \(error)")
            }
        }
        throw CommandFailure("no node answered: " + failures.joined(separator: "; "))
    }

    /// Prints the response: the raw JSON with --json, else `render` of it; an
    /// error response becomes the command's failure (exit 1).
    static func show(_ response: HTTPResponse, json: Bool, _ render: ([String: Any]) -> String) throws -> Int32 {
        let text = String(decoding: response.body, as: UTF8.self)
        guard (200..<300).contains(response.status) else {
            let error = response.jsonObject?["error"] as? [String: Any]
            throw CommandFailure("HTTP \(response.status) \(error?["code"] as? String ?? ""): \(error?["message"] as? String ?? text)")
        }
        if json {
            print(text)
        } else {
            print(render(response.jsonObject ?? [:]))
        }
        return ExitCode.ok
    }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { column in ([header[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0 }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    static func text(_ value: Any?) -> String {
        switch value {
        case nil, is NSNull: return "-"
        case let number as NSNumber: return number.stringValue
        case let string as String: return string
        default: return "\(value!)"
        }
    }

    static func percent(_ value: Any?) -> String {
        guard let number = value as? NSNumber else { return "-" }
        return String(format: "%.1f%%", number.doubleValue * 100)
    }

    static func seconds(_ value: Any?) -> String {
        guard let number = value as? NSNumber else { return "-" }
        return String(format: "%.1fs", number.doubleValue / 1000)
    }

    static func parseJSONObject(_ text: String?, option: String) throws -> [String: Any] {
        guard let text else { return [:] }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw UsageError("--\(option) wants a JSON object, e.g. '{\"serviceLevelSeconds\":30}'")
        }
        return object
    }
}

let queuesCommand = Command(
    name: "queues",
    summary: "list, show or configure queues",
    help: """
        Usage: lifeline queues list TARGET [--json]
               lifeline queues show NAME TARGET [--json]
               lifeline queues set NAME TARGET [--config JSON]

        list: every queue with waiting tasks, longest wait and the KPIs of the
        current window. set: create or change a queue (Docs/openapi.json, PUT
        /v1/queues/{id}, lists the fields); its tasks keep their places.

        TARGET:
        \(AdminTarget.optionsHelp)
          --json          print the API's JSON

        Example:
          lifeline queues set nurse-triage --cluster /tmp/ll --config '{"channels":["voice","chat"],"audience":"nurses"}'
          lifeline queues list --cluster /tmp/ll

        Exit codes: 0 ok, 1 failed (no node answered, refused), 2 usage.
        """,
    run: { arguments in
        let options = try OptionParser(arguments, valued: AdminTarget.valuedOptions.union(["config"]), flags: ["json"])
        let target = try AdminTarget(options, role: "supervisor")
        switch (options.positional.first, options.positional.count) {
        case ("list", 1):
            return try APIClientCommand.show(try APIClientCommand.send(target, "GET", "/v1/queues"), json: options.has("json")) { object in
                let rows = (object["queues"] as? [[String: Any]] ?? []).map { queue -> [String] in
                    let window = (queue["kpis"] as? [String: Any])?["window"] as? [String: Any] ?? [:]
                    return [APIClientCommand.text(queue["queue"]), APIClientCommand.text(queue["depth"]), APIClientCommand.seconds(queue["longestWaitMs"]),
                            APIClientCommand.seconds(window["averageSpeedOfAnswerMs"]), APIClientCommand.percent(window["abandonmentRate"]),
                            APIClientCommand.percent(window["serviceLevel"])]
                }
                return APIClientCommand.table(["QUEUE", "WAITING", "LONGEST", "ASA", "ABANDONED", "SERVICE LEVEL"], rows)
            }
        case ("show", 2):
            return try APIClientCommand.show(try APIClientCommand.send(target, "GET", "/v1/queues/\(options.positional[1])"), json: options.has("json")) {
                APIClientCommand.describe($0)
            }
        case ("set", 2):
            let body = try APIClientCommand.parseJSONObject(options.value("config"), option: "config")
            return try APIClientCommand.show(try APIClientCommand.send(target, "PUT", "/v1/queues/\(options.positional[1])", body: body),
                                             json: options.has("json")) { _ in "queue \(options.positional[1]) set" }
        default:
            throw UsageError("want 'queues list', 'queues show NAME' or 'queues set NAME'")
        }
    }
)

let agentsCommand = Command(
    name: "agents",
    summary: "list, show, register, log in or out agents",
    help: """
        Usage: lifeline agents list TARGET [--json]
               lifeline agents show NAME TARGET [--json]
               lifeline agents register NAME --site SITE [--roles agent,nurse,supervisor] [--skills NAME=LEVEL,...] TARGET
               lifeline agents login|logout NAME TARGET

        A supervisor registers and logs in or out only the agents of their own
        site; with --cluster the CLI sends the supervisor token of the agent's
        site from cluster.json ("supervisor@SITE").

        TARGET:
        \(AdminTarget.optionsHelp)
          --json          print the API's JSON

        Example:
          lifeline agents register nina --site boston --roles nurse --skills spanish=7 --cluster /tmp/ll
          lifeline agents login nina --cluster /tmp/ll
          lifeline agents list --cluster /tmp/ll

        Exit codes: 0 ok, 1 failed (no node answered, refused), 2 usage.
        """,
    run: { arguments in
        let options = try OptionParser(arguments, valued: AdminTarget.valuedOptions.union(["site", "roles", "skills"]), flags: ["json"])
        let target = try AdminTarget(options, role: "supervisor")
        let json = options.has("json")
        switch (options.positional.first, options.positional.count) {
        case ("list", 1):
            return try APIClientCommand.show(try APIClientCommand.send(target, "GET", "/v1/agents"), json: json) { object in
                let rows = (object["agents"] as? [[String: Any]] ?? []).map { agent -> [String] in
                    [APIClientCommand.text(agent["agent"]), APIClientCommand.text(agent["site"]),
                     (agent["roles"] as? [String] ?? []).joined(separator: ","), APIClientCommand.text(agent["status"]),
                     (agent["tasks"] as? [Int] ?? []).map(String.init).joined(separator: ",")]
                }
                return APIClientCommand.table(["AGENT", "SITE", "ROLES", "STATUS", "TASKS"], rows)
            }
        case ("show", 2):
            return try APIClientCommand.show(try APIClientCommand.send(target, "GET", "/v1/agents/\(options.positional[1])"), json: json) {
                APIClientCommand.describe($0)
            }
        case ("register", 2):
            guard let site = options.value("site") else { throw UsageError("register needs --site SITE") }
            var body: [String: Any] = ["site": site]
            if let roles = options.value("roles") { body["roles"] = roles.split(separator: ",").map(String.init) }
            if let skills = options.value("skills") {
                var levels: [String: Int] = [:]
                for pair in skills.split(separator: ",") {
                    let parts = pair.split(separator: "=")
                    guard parts.count == 2, let level = Int(parts[1]) else { throw UsageError("--skills wants NAME=LEVEL,... (levels 1-10)") }
                    levels[String(parts[0])] = level
                }
                body["skills"] = levels
            }
            return try APIClientCommand.show(try APIClientCommand.send(target.forSite(site), "PUT", "/v1/agents/\(options.positional[1])", body: body), json: json) { _ in
                "agent \(options.positional[1]) registered at \(site)"
            }
        case ("login", 2), ("logout", 2):
            let action = options.positional[0]
            let own = target.forSiteOf("/v1/agents/\(options.positional[1])")
            return try APIClientCommand.show(try APIClientCommand.send(own, "POST", "/v1/agents/\(options.positional[1])/\(action)"), json: json) { _ in
                "agent \(options.positional[1]) \(action == "login" ? "logged in" : "logged out")"
            }
        default:
            throw UsageError("want 'agents list|show|register|login|logout'")
        }
    }
)

let tasksCommand = Command(
    name: "tasks",
    summary: "show a task, abandon it or turn it into a callback",
    help: """
        Usage: lifeline tasks show ID TARGET [--json]
               lifeline tasks abandon ID TARGET
               lifeline tasks callback ID TARGET [--due-at MS]

        Tasks are created by telephony, chat and web front ends through POST
        /v1/tasks (Docs/api.md); this command is for looking after them. A
        supervisor abandons or calls back only tasks of their own site (the
        task's ingress site); with --cluster the CLI sends that site's token.

        TARGET:
        \(AdminTarget.optionsHelp)
          --json          print the API's JSON

        Example:
          lifeline tasks show 42 --cluster /tmp/ll

        Exit codes: 0 ok, 1 failed (no node answered, refused), 2 usage.
        """,
    run: { arguments in
        let options = try OptionParser(arguments, valued: AdminTarget.valuedOptions.union(["due-at"]), flags: ["json"])
        let target = try AdminTarget(options, role: "supervisor")
        guard options.positional.count == 2, let id = UInt64(options.positional[1]), id > 0 else {
            throw UsageError("want 'tasks show|abandon|callback ID' with a task number")
        }
        switch options.positional[0] {
        case "show":
            return try APIClientCommand.show(try APIClientCommand.send(target, "GET", "/v1/tasks/\(id)"), json: options.has("json")) {
                APIClientCommand.describe($0)
            }
        case "abandon":
            return try APIClientCommand.show(try APIClientCommand.send(target.forSiteOf("/v1/tasks/\(id)"), "POST", "/v1/tasks/\(id)/abandon"), json: options.has("json")) { _ in
                "task \(id) abandoned"
            }
        case "callback":
            var body: [String: Any] = [:]
            if let due = options.value("due-at") {
                guard let ms = UInt64(due) else { throw UsageError("--due-at wants ms since the epoch") }
                body["dueAt"] = ms
            }
            return try APIClientCommand.show(try APIClientCommand.send(target.forSiteOf("/v1/tasks/\(id)"), "POST", "/v1/tasks/\(id)/callback", body: body),
                                             json: options.has("json")) { _ in "task \(id) will be called back" }
        default:
            throw UsageError("want 'tasks show|abandon|callback ID'")
        }
    }
)

let drainCommand = Command(
    name: "drain",
    summary: "take a site down for maintenance (its calls go elsewhere), or --resume it",
    help: """
        Usage: lifeline drain SITE TARGET [--resume]

        Marks SITE down on purpose: its agents go offline, its waiting voice
        callers become callbacks that keep their place, its other tasks are
        rerouted to the other sites. The failure detector leaves a drained site
        down until 'lifeline drain SITE --resume'. A supervisor drains and
        resumes only their own site (with --cluster the CLI sends SITE's
        supervisor token); ops may drain any site.

        TARGET:
        \(AdminTarget.optionsHelp)
          --json          print the API's JSON answer

        Example:
          lifeline drain denver --cluster /tmp/ll
          lifeline drain denver --resume --cluster /tmp/ll

        Exit codes: 0 ok, 1 failed (no node answered, unknown site), 2 usage.
        """,
    run: { arguments in
        let options = try OptionParser(arguments, valued: AdminTarget.valuedOptions, flags: ["resume", "json"])
        guard options.positional.count == 1 else { throw UsageError("want 'drain SITE'") }
        let site = options.positional[0]
        let action = options.has("resume") ? "resume" : "drain"
        return try APIClientCommand.show(try APIClientCommand.send(try AdminTarget(options, role: "supervisor").forSite(site), "POST", "/v1/sites/\(site)/\(action)"),
                                         json: options.has("json")) { _ in
            action == "drain" ? "\(site) drained: its calls go to the other sites" : "\(site) resumed"
        }
    }
)

extension APIClientCommand {
    /// A JSON object as indented `key: value` lines.
    static func describe(_ object: [String: Any], indent: String = "") -> String {
        object.keys.sorted().map { key in
            if let nested = object[key] as? [String: Any] {
                return "\(indent)\(key):\n" + describe(nested, indent: indent + "  ")
            }
            if let list = object[key] as? [Any] {
                return "\(indent)\(key): " + list.map { text($0) }.joined(separator: ", ")
            }
            return "\(indent)\(key): \(text(object[key]))"
        }.joined(separator: "\n")
    }
}
