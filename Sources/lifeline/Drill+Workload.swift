import Chaos
import Foundation
import Node
import Synchronization
import Vault

/// What the drill records while it runs: every client operation, the timeline events,
/// and running counts for the progress line. Times are microseconds since the drill
/// started, on the monotonic clock.
final class DrillRecorder: Sendable {
    struct Counts: Sendable {
        var ok = 0, failed = 0, unknown = 0
        var enqueued = 0, offered = 0, completed = 0, abandoned = 0
    }

    /// A task a caller created, with the site whose node took it (its token reads it).
    struct KnownTask: Sendable {
        var id: TaskID
        var site: SiteName
    }

    static let knownTasksMax = 1_000_000

    /// The drill's time zero: when the workload starts (`start()`), not when the cluster did.
    private let originNs = Atomic<UInt64>(Node.MonotonicClock.nowNs())
    private let nextID = Atomic<UInt64>(0)
    private let operations = Mutex<[ClientOperation]>([])
    private let timeline = Mutex<[DrillEvent]>([])
    private let counts = Mutex(Counts())
    private let tasks = Mutex<[KnownTask]>([])

    /// Sets time zero to now: the scenario's step times count from here.
    func start() {
        originNs.store(Node.MonotonicClock.nowNs(), ordering: .releasing)
    }

    func nowUs() -> UInt64 { (Node.MonotonicClock.nowNs() &- originNs.load(ordering: .acquiring)) / 1_000 }

    var elapsedSeconds: Double { Double(nowUs()) / 1_000_000 }

    /// Takes an operation id at invocation, so ids increase in invocation order.
    func invoke() -> (id: UInt64, atUs: UInt64) {
        (nextID.add(1, ordering: .relaxed).newValue, nowUs())
    }

    func record(_ invocation: (id: UInt64, atUs: UInt64), client: String, kind: OperationKind, task: TaskID, outcome: Outcome,
                value: OperationValue) {
        let operation = ClientOperation(
            id: invocation.id, client: client, kind: kind, task: task, invokeUs: invocation.atUs,
            completeUs: max(invocation.atUs, nowUs()), outcome: outcome, value: value
        )
        operations.withLock { $0.append(operation) }
        counts.withLock { counts in
            switch outcome {
            case .ok: counts.ok += 1
            case .failed: counts.failed += 1
            case .unknown: counts.unknown += 1
            }
            guard outcome == .ok else { return }
            switch kind {
            case .enqueue: counts.enqueued += 1
            case .offer: counts.offered += 1
            case .complete: counts.completed += 1
            case .abandon: counts.abandoned += 1
            case .accept, .read: break
            }
        }
    }

    func event(_ kind: DrillEvent.Kind, _ action: String, sites: [SiteName] = [], label: String) {
        let event = DrillEvent(atUs: nowUs(), kind: kind, action: action, sites: sites, label: label)
        timeline.withLock { $0.append(event) }
    }

    func remember(_ task: KnownTask) {
        tasks.withLock { tasks in
            if tasks.count < Self.knownTasksMax { tasks.append(task) }
        }
    }

    func randomTask<G: RandomNumberGenerator>(using generator: inout G) -> KnownTask? {
        tasks.withLock { tasks in tasks.isEmpty ? nil : tasks[Int.random(in: 0..<tasks.count, using: &generator)] }
    }

    var snapshotCounts: Counts { counts.withLock { $0 } }

    /// The history in invocation order.
    var history: [ClientOperation] { operations.withLock { $0 }.sorted { $0.id < $1.id } }

    var events: [DrillEvent] { timeline.withLock { $0 }.sorted { $0.atUs < $1.atUs } }
}

/// The drill's simulated people, all through the public API: a telephony front end (IVR)
/// per site creating voice tasks, agents at every site who poll for offers, accept,
/// handle, wrap up and complete, callers who hang up or ask for a callback, and a
/// supervisor's screen reading tasks. Every state-changing call and every read goes into
/// the history with its invoke and completion times and its outcome.
final class DrillWorkload: Sendable {
    static let writeTimeoutMs: UInt64 = 5_000
    static let readTimeoutMs: UInt64 = 3_000
    static let pollWaitMs = 1_000
    /// A desk whose node did not answer tries again after this pause.
    static let retryPauseMs: UInt64 = 500

    let plan: WorkloadPlan
    let cluster: DrillCluster
    let recorder: DrillRecorder
    let seed: UInt64
    private let stopping = Atomic<Bool>(false)
    private let active = Atomic<Int>(0)

    init(plan: WorkloadPlan, cluster: DrillCluster, recorder: DrillRecorder, seed: UInt64) {
        self.plan = plan
        self.cluster = cluster
        self.recorder = recorder
        self.seed = seed
    }

    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    func stop() { stopping.store(true, ordering: .releasing) }

    static func agentName(site: SiteName, index: Int) -> String { "\(site)-agent-\(index)" }

    // MARK: - Set-up

    /// Queues (voice and callbacks, no overflow, no skills) and agents (nurses, so every
    /// agent is eligible for every task, emergencies included: routing order is then
    /// decided by rank alone, which the order checker relies on).
    func configure(timeoutMs: UInt64) throws {
        let deadline = Node.MonotonicClock.deadline(afterMs: timeoutMs)
        func put(_ path: String, _ body: [String: Any], token: String) throws {
            var last = "no node answered"
            repeat {
                for node in cluster.live {
                    guard let client = cluster.client(node),
                          let reply = DrillHTTP.call(client, "PUT", path, token: token, json: body, timeoutMs: Self.writeTimeoutMs)
                    else { continue }
                    if reply.status == 200 { return }
                    last = "HTTP \(reply.status) \(reply.errorCode)"
                    if reply.writeOutcome == .failed { throw CommandFailure("PUT \(path): \(last)") }
                }
                ProcessControl.pause(ms: 200)
            } while Node.MonotonicClock.now() < deadline
            throw CommandFailure("PUT \(path): \(last)")
        }
        let anySupervisor = cluster.supervisorTokens[cluster.sites[0]]!
        for queue in plan.queues {
            let channel = channel(of: queue)
            let channels = channel == "voice" ? ["voice", "callback"] : [channel]
            try put("/v1/queues/\(queue)", ["channels": channels, "serviceLevelSeconds": 30], token: anySupervisor)
        }
        for site in cluster.sites {
            for index in 1...plan.agentsPerSite {
                var capacity: [String: Any] = ["voice": 0, "chat": 0, "sms": 0, "email": 0]
                for queue in plan.queues { capacity[channel(of: queue)] = plan.agentCapacity }
                try put("/v1/agents/\(Self.agentName(site: site, index: index))", ["site": site.rawValue, "roles": ["nurse"], "capacity": capacity],
                        token: cluster.supervisorTokens[site]!)
            }
        }
    }

    /// Each queue takes one channel: the scenario's first queue voice (and callbacks),
    /// then chat, SMS, email, voice, ... Within a queue every task then competes in one
    /// capacity class, so rank alone orders it (what the order checker assumes), while
    /// the drill still covers every channel; an agent may hold one task per channel.
    func channel(of queue: String) -> String {
        let channels = ["voice", "chat", "sms", "email"]
        return channels[(plan.queues.firstIndex(of: queue) ?? 0) % channels.count]
    }

    // MARK: - Threads

    func start() -> [Thread] {
        var threads: [Thread] = []
        for (siteIndex, site) in cluster.sites.enumerated() {
            let salt = UInt64(siteIndex) << 16
            threads.append(spawn { self.callerLoop(site: site, seed: SeededGenerator.derive(self.seed, salt | 1)) })
            for index in 1...plan.agentsPerSite {
                threads.append(spawn { self.agentLoop(site: site, index: index, seed: SeededGenerator.derive(self.seed, salt | UInt64(100 + index))) })
            }
        }
        if plan.readsPerSecond > 0 {
            threads.append(spawn { self.readerLoop(seed: SeededGenerator.derive(self.seed, 0xFEED)) })
        }
        return threads
    }

    /// Worker threads still running (they end within a poll's timeout of `stop`).
    var activeThreads: Int { active.load(ordering: .acquiring) }

    private func spawn(_ body: @escaping @Sendable () -> Void) -> Thread {
        active.add(1, ordering: .relaxed)
        let thread = Thread {
            body()
            self.active.subtract(1, ordering: .releasing)
        }
        thread.start()
        return thread
    }

    /// Sleeps in short steps so a stop is seen quickly.
    func pause(ms: UInt64) {
        var left = ms
        while left > 0 && !isStopping {
            let step = min(left, 50)
            ProcessControl.pause(ms: step)
            left -= step
        }
    }

    /// Exponential gap with mean `meanMs`, capped at five means.
    private func gap<G: RandomNumberGenerator>(meanMs: Double, using generator: inout G) -> UInt64 {
        UInt64(min(-log(Double.random(in: 0.0001...1, using: &generator)) * meanMs, meanMs * 5))
    }

    // MARK: Callers

    /// The site's telephony front end. Calls land on the site's own node; when it does not
    /// answer, the next call goes to the next site's (as a carrier reroutes a dead trunk).
    private func callerLoop(site: SiteName, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        let ownIndex = cluster.sites.firstIndex(of: site) ?? 0
        var clients: [NodeName: HTTPClient] = [:]
        var attempt = 0
        var serial = 0
        var patience: [(task: TaskID, atUs: UInt64, node: NodeName, callback: Bool)] = []
        let meanGapMs = 1_000 * Double(cluster.sites.count) / max(plan.enqueuePerSecond, 0.001)
        let client = "ivr-\(site)"
        while !isStopping {
            pause(ms: gap(meanMs: meanGapMs, using: &generator))
            guard !isStopping else { break }
            serial += 1
            let target = cluster.sites[(ownIndex + attempt) % cluster.sites.count]
            let node = NodeName(target.rawValue)
            guard let http = clients[node] ?? cluster.client(node) else { continue }
            clients[node] = http
            let emergency = Double.random(in: 0..<1, using: &generator) < plan.emergencyFraction
            let queue = plan.queues[Int.random(in: 0..<plan.queues.count, using: &generator)]
            let priority = Int.random(in: 0...3, using: &generator)
            // A synthetic caller: no real person's data ever enters a drill.
            let body: [String: Any] = [
                "queue": queue, "channel": channel(of: queue), "callType": emergency ? "emergency" : "general", "priority": priority,
                "patient": ["id": "drill-\(site)-\(serial)", "name": "Drill Caller \(serial)", "phone": "+1 555 0100",
                            "dateOfBirth": "1970-01-01"],
            ]
            let invocation = recorder.invoke()
            let reply = DrillHTTP.call(http, "POST", "/v1/tasks", token: cluster.supervisorTokens[target]!, json: body,
                                       timeoutMs: Self.writeTimeoutMs)
            var value = OperationValue(queue: queue, priority: priority, emergency: emergency, site: target)
            guard let reply else {
                // No answer: the task may exist; its id is unknown, so nothing can refer to it.
                attempt += 1
                value.error = "no_answer"
                recorder.record(invocation, client: client, kind: .enqueue, task: TaskID("unknown-\(invocation.id)"), outcome: .unknown, value: value)
                continue
            }
            let id = (reply.object?["id"] as? Int).map { TaskID(String($0)) }
            if let index = reply.object?["index"] as? Int, index > 0 { value.index = UInt64(index) }
            let outcome = reply.writeOutcome
            if outcome != .ok {
                value.error = reply.errorCode
                if outcome == .unknown { attempt += 1 }
            } else {
                attempt = 0
            }
            recorder.record(invocation, client: client, kind: .enqueue, task: id ?? TaskID("unknown-\(invocation.id)"),
                            outcome: id == nil && outcome == .ok ? .unknown : outcome, value: value)
            guard outcome == .ok, let id else { continue }
            recorder.remember(.init(id: id, site: target))
            let roll = Double.random(in: 0..<1, using: &generator)
            if roll < plan.abandonFraction * 2 {
                // Half of these callers hang up, half ask to be called back instead of waiting.
                let wait = UInt64.random(in: 2_000_000...10_000_000, using: &generator)
                // Only a call can become a callback (it takes the voice slot).
                patience.append((id, invocation.atUs + wait, node, roll < plan.abandonFraction && channel(of: queue) == "voice"))
            }
            patience = patience.filter { caller in
                guard recorder.nowUs() >= caller.atUs else { return true }
                if let http = clients[caller.node] { giveUp(caller.task, callback: caller.callback, site: SiteName(caller.node.rawValue), http: http, client: client) }
                return false
            }
        }
    }

    /// A caller who stops waiting: abandons (recorded), or asks for a callback. A callback
    /// keeps the caller's place and is invisible to the task model (a requeue), so it is
    /// not an operation of the history.
    private func giveUp(_ task: TaskID, callback: Bool, site: SiteName, http: HTTPClient, client: String) {
        let token = cluster.supervisorTokens[site]!
        if callback {
            _ = DrillHTTP.call(http, "POST", "/v1/tasks/\(task)/callback", token: token, timeoutMs: Self.writeTimeoutMs)
            return
        }
        let invocation = recorder.invoke()
        let reply = DrillHTTP.call(http, "POST", "/v1/tasks/\(task)/abandon", token: token, timeoutMs: Self.writeTimeoutMs)
        var value = OperationValue()
        if reply?.writeOutcome != .ok { value.error = reply?.errorCode ?? "no_answer" }
        recorder.record(invocation, client: client, kind: .abandon, task: task, outcome: reply?.writeOutcome ?? .unknown, value: value)
    }

    // MARK: Agents

    /// An agent at `site`'s desks, working through the site's own node: when it is gone,
    /// so is the desk, until it comes back (then the agent signs in again).
    private func agentLoop(site: SiteName, index: Int, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        let name = Self.agentName(site: site, index: index)
        let node = NodeName(site.rawValue)
        guard let token = cluster.token(subject: name, role: .nurse, site: site), let http = cluster.client(node) else { return }
        let agent = AgentID(name)
        var signedIn = false
        while !isStopping {
            if !signedIn {
                signedIn = DrillHTTP.call(http, "POST", "/v1/agents/\(name)/login", token: token, timeoutMs: Self.writeTimeoutMs)?.status == 200
                if !signedIn { pause(ms: 1_000) }
                continue
            }
            let invocation = recorder.invoke()
            guard let poll = DrillHTTP.call(http, "GET", "/v1/agents/\(name)/offer?waitMs=\(Self.pollWaitMs)", token: token,
                                            timeoutMs: UInt64(Self.pollWaitMs) + Self.writeTimeoutMs)
            else {
                signedIn = false
                pause(ms: Self.retryPauseMs)
                continue
            }
            if poll.status == 401 || poll.status == 403 || poll.status == 409 { signedIn = false }
            guard poll.status == 200, let taskNumber = poll.object?["task"] as? Int, let tokenNumber = poll.object?["token"] as? Int,
                  tokenNumber >= 0
            else {
                if poll.status != 204 && poll.status != 200 { pause(ms: Self.retryPauseMs) }
                continue
            }
            let task = TaskID(String(taskNumber))
            let fence = UInt64(tokenNumber)
            recorder.record(invocation, client: name, kind: .offer, task: task, outcome: .ok,
                            value: OperationValue(agent: agent, token: fence, site: site))
            let ids: [String: Any] = ["task": taskNumber, "token": tokenNumber]
            guard write(http, "/v1/agents/\(name)/accept", ids, token: token, client: name, kind: .accept, task: task,
                        value: OperationValue(agent: agent, token: fence)) == .ok
            else { continue }
            pause(ms: UInt64(Double(plan.handleMs) * Double.random(in: 0.5...1.5, using: &generator)))
            if isStopping { break }
            // Wrap-up, then complete: one "complete" operation of the model (wrap-up keeps the
            // task with its agent, which the model reads as still accepted).
            var disposition = ids
            disposition["resolvedFirstContact"] = Int.random(in: 0..<10, using: &generator) < 8
            disposition["followUpNeeded"] = false
            disposition["csat"] = Int.random(in: 3...5, using: &generator)
            _ = write(http, "/v1/agents/\(name)/complete", disposition, token: token, client: name, kind: .complete, task: task,
                      value: OperationValue(agent: agent), before: ("/v1/agents/\(name)/wrap-up", ids))
        }
        _ = DrillHTTP.call(http, "POST", "/v1/agents/\(name)/logout", token: token, timeoutMs: 1_000)
    }

    /// A state-changing call (with an optional call just before it, inside the same
    /// operation), retried while its outcome is unknown: the API answers a repeated
    /// applied accept or complete with ok. Each attempt is one operation of the history.
    private func write(_ http: HTTPClient, _ path: String, _ body: [String: Any], token: String, client: String, kind: OperationKind,
                       task: TaskID, value: OperationValue, before: (path: String, body: [String: Any])? = nil) -> Outcome {
        for _ in 0..<3 {
            let invocation = recorder.invoke()
            var outcome = Outcome.ok
            var error: String?
            if let before {
                let first = DrillHTTP.call(http, "POST", before.path, token: token, json: before.body, timeoutMs: Self.writeTimeoutMs)
                // Already in wrap-up (a retry after an unknown outcome) is fine.
                if let first, first.writeOutcome == .failed, first.errorCode != "illegal_transition" {
                    outcome = .failed
                    error = first.errorCode
                } else if first == nil || first?.writeOutcome == .unknown {
                    outcome = .unknown
                    error = first.map(\.errorCode) ?? "no_answer"
                }
            }
            if outcome == .ok {
                let reply = DrillHTTP.call(http, "POST", path, token: token, json: body, timeoutMs: Self.writeTimeoutMs)
                outcome = reply?.writeOutcome ?? .unknown
                if outcome != .ok { error = reply?.errorCode ?? "no_answer" }
            }
            var recorded = value
            recorded.error = error
            recorder.record(invocation, client: client, kind: kind, task: task, outcome: outcome, value: recorded)
            if outcome != .unknown || isStopping { return outcome }
            pause(ms: Self.retryPauseMs)
        }
        return .unknown
    }

    // MARK: Reads

    /// A supervisor's screen: reads a random known task from a random live node. The read
    /// is linearizable in the API, so the checker holds it to the task's history.
    private func readerLoop(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        var clients: [NodeName: HTTPClient] = [:]
        let meanGapMs = 1_000 / max(plan.readsPerSecond, 0.001)
        while !isStopping {
            pause(ms: gap(meanMs: meanGapMs, using: &generator))
            let live = cluster.live
            guard !isStopping, !live.isEmpty, let known = recorder.randomTask(using: &generator) else { continue }
            let node = live[Int.random(in: 0..<live.count, using: &generator)]
            guard let http = clients[node] ?? cluster.client(node) else { continue }
            clients[node] = http
            let invocation = recorder.invoke()
            let reply = DrillHTTP.call(http, "GET", "/v1/tasks/\(known.id)", token: cluster.supervisorTokens[known.site]!,
                                       timeoutMs: Self.readTimeoutMs)
            let client = "reader-\(node)"
            guard let reply else {
                recorder.record(invocation, client: client, kind: .read, task: known.id, outcome: .unknown, value: OperationValue(error: "no_answer"))
                continue
            }
            switch reply.status {
            case 200:
                let object = reply.object ?? [:]
                let state = Self.modelState(object["state"] as? String)
                var value = OperationValue(state: state, site: SiteName(node.rawValue))
                if let agent = object["agent"] as? String { value.agent = AgentID(agent) }
                if let token = object["token"] as? Int, token >= 0 { value.token = UInt64(token) }
                recorder.record(invocation, client: client, kind: .read, task: known.id, outcome: state == nil ? .failed : .ok, value: value)
            case 404 where reply.errorCode == "not_found" || reply.errorCode == "unknown_task":
                recorder.record(invocation, client: client, kind: .read, task: known.id, outcome: .ok,
                                value: OperationValue(state: .absent, site: SiteName(node.rawValue)))
            default:
                recorder.record(invocation, client: client, kind: .read, task: known.id, outcome: reply.writeOutcome == .failed ? .failed : .unknown,
                                value: OperationValue(error: reply.errorCode))
            }
        }
    }

    /// The API's task states in the checker's model: wrap-up is still held by its agent
    /// (accepted); a callback waiting its turn is queued.
    static func modelState(_ state: String?) -> TaskState? {
        switch state {
        case "queued", "callbackScheduled": .queued
        case "offered": .offered
        case "accepted", "wrapUp": .accepted
        case "completed": .completed
        case "abandoned": .abandoned
        default: nil
        }
    }
}
