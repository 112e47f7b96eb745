import Foundation
import Node
import Vault

/// The demo's simulated people at one site: callers who reach the site's node,
/// and agents who work from its desktops. Everything goes through the public API.
struct DemoWorkload {
    struct Agent {
        var name: String
        var role: String
    }

    let demo: Demo
    let site: String

    static var queues: [(String, [String: Any])] { [
        ("scheduling", ["channels": ["voice", "chat", "sms", "email", "callback"], "serviceLevelSeconds": 30]),
        ("billing", ["channels": ["voice", "chat", "email", "callback"], "serviceLevelSeconds": 60]),
        ("nurse-triage", ["channels": ["voice", "chat", "callback"], "audience": "nurses", "priority": 20, "serviceLevelSeconds": 30]),
        ("emergency", ["channels": ["voice", "callback"], "audience": "nurses", "priority": 200, "serviceLevelSeconds": 10, "offerTimeoutSeconds": 10]),
        ("refills", ["channels": ["voice", "sms", "email", "callback"], "serviceLevelSeconds": 120]),
    ] }

    /// Three agents, two nurses and a supervisor per site.
    static func agents(at site: String) -> [Agent] {
        (1...3).map { Agent(name: "\(site)-agent-\($0)", role: "agent") }
            + (1...2).map { Agent(name: "\(site)-nurse-\($0)", role: "nurse") }
            + [Agent(name: "\(site)-supervisor", role: "supervisor")]
    }

    /// What comes in: queue, channels, call type, weight.
    static let mix: [(queue: String, channels: [String], callType: String, weight: Int)] = [
        ("scheduling", ["voice", "voice", "chat", "sms", "email"], "scheduling", 35),
        ("billing", ["voice", "chat", "email"], "billing", 20),
        ("nurse-triage", ["voice", "voice", "chat"], "clinical", 20),
        ("emergency", ["voice"], "emergency", 4),
        ("refills", ["sms", "email", "voice"], "prescriptionRefill", 21),
    ]

    func pause(ms: UInt64) {
        var left = ms
        while left > 0 && !demo.isStopping {
            let step = min(left, 100)
            ProcessControl.pause(ms: step)
            left -= step
        }
    }

    // MARK: - Agents

    func agentLoop(_ agent: Agent) {
        guard let client = demo.client(for: site, subject: agent.name, role: Role(rawValue: agent.role) ?? .agent) else { return }
        var generator = SystemRandomNumberGenerator()
        var loggedIn = false
        while !demo.isStopping {
            if !loggedIn {
                loggedIn = (try? client.send("POST", "/v1/agents/\(agent.name)/login", timeoutMs: 5_000))?.status == 200
                if !loggedIn { pause(ms: 1_000) }
                continue
            }
            guard let offer = try? client.send("GET", "/v1/agents/\(agent.name)/offer?waitMs=2000", timeoutMs: 5_000) else {
                // This site's node is gone: so is this desktop, until it comes back.
                loggedIn = false
                pause(ms: 1_000)
                continue
            }
            guard offer.status == 200, let object = offer.jsonObject, let task = object["task"] as? Int, let token = object["token"] as? Int else {
                if offer.status != 204 { pause(ms: 500) }
                continue
            }
            let ids: [String: Any] = ["task": task, "token": token]
            guard (try? client.sendJSON("POST", "/v1/agents/\(agent.name)/accept", json: ids, timeoutMs: 5_000))?.status == 200 else {
                demo.stats.add(.errors)
                continue
            }
            demo.stats.add(.answered)
            pause(ms: UInt64.random(in: 1_500...6_000, using: &generator))
            _ = try? client.sendJSON("POST", "/v1/agents/\(agent.name)/wrap-up", json: ids, timeoutMs: 5_000)
            pause(ms: UInt64.random(in: 300...1_200, using: &generator))
            var disposition = ids
            disposition["resolvedFirstContact"] = Int.random(in: 0..<10, using: &generator) < 8
            disposition["followUpNeeded"] = Int.random(in: 0..<10, using: &generator) < 2
            disposition["csat"] = Int.random(in: 3...5, using: &generator)
            if (try? client.sendJSON("POST", "/v1/agents/\(agent.name)/complete", json: disposition, timeoutMs: 5_000))?.status == 200 {
                demo.stats.add(.completed)
            }
        }
        _ = try? client.send("POST", "/v1/agents/\(agent.name)/logout", timeoutMs: 2_000)
    }

    // MARK: - Callers

    func callerLoop() {
        // The site's telephony front end: creates tasks and follows them up.
        guard let client = demo.client(for: site, subject: "ivr-\(site)", role: .supervisor) else { return }
        var generator = SystemRandomNumberGenerator()
        var impatient: [(task: Int, at: UInt64, callback: Bool)] = []
        var serial = 0
        let meanGapMs = Double(Demo.sites.count * 1_000) / Double(demo.settings.rate)
        while !demo.isStopping {
            let gap = -log(Double.random(in: 0.001...1, using: &generator)) * meanGapMs
            pause(ms: UInt64(min(gap, meanGapMs * 5)))
            guard !demo.isStopping else { break }
            serial += 1
            let total = Self.mix.reduce(0) { $0 + $1.weight }
            var pick = Int.random(in: 0..<total, using: &generator)
            let kind = Self.mix.first { entry in
                pick -= entry.weight
                return pick < 0
            } ?? Self.mix[0]
            // Synthetic people only: the node checks these fields and drops them.
            let body: [String: Any] = [
                "queue": kind.queue, "channel": kind.channels.randomElement(using: &generator)!, "callType": kind.callType,
                "priority": kind.callType == "emergency" ? 50 : Int.random(in: 0...3, using: &generator),
                "patient": ["id": "demo-\(site)-\(serial)", "name": "Demo Patient \(serial)", "phone": "+1 555 01\(serial % 100)",
                            "dateOfBirth": "19\(50 + serial % 50)-0\(1 + serial % 9)-1\(serial % 10)"],
                "reason": "demo contact",
            ]
            guard let response = try? client.sendJSON("POST", "/v1/tasks", json: body, timeoutMs: 10_000) else {
                pause(ms: 1_000)
                continue
            }
            guard response.status == 201, let task = response.jsonObject?["id"] as? Int else {
                demo.stats.add(.errors)
                continue
            }
            demo.stats.add(.calls)
            // One caller in eight gives up after a while; one in eight asks for a callback.
            let patience = MonotonicClock.nowNs() + UInt64.random(in: 4_000...15_000, using: &generator) * 1_000_000
            switch Int.random(in: 0..<8, using: &generator) {
            case 0: impatient.append((task, patience, false))
            case 1: impatient.append((task, patience, true))
            default: break
            }
            impatient = impatient.filter { caller in
                guard MonotonicClock.nowNs() >= caller.at else { return true }
                guard let state = try? client.send("GET", "/v1/tasks/\(caller.task)", timeoutMs: 5_000).jsonObject?["state"] as? String,
                      state == "queued" else { return false }
                let path = "/v1/tasks/\(caller.task)/" + (caller.callback ? "callback" : "abandon")
                if (try? client.send("POST", path, timeoutMs: 5_000))?.status == 200 {
                    demo.stats.add(caller.callback ? .callbacks : .abandoned)
                }
                return false
            }
        }
    }
}
