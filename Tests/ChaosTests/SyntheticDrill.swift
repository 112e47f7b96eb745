@testable import Chaos

/// A correct drill by construction, for the checker and report tests: a sequential ground
/// truth applies every operation at a linearization point inside its [invoke, complete]
/// interval, and the survivors' final states are that ground truth. Site c is killed at
/// 20 s; writes fail until 22.5 s (the election); afterwards only sites a and b serve.
struct SyntheticDrill {
    static let faultUs: UInt64 = 20_000_000
    static let electionEndUs: UInt64 = 22_500_000
    static let epochMs: UInt64 = 1_790_000_000_000

    var history: [ClientOperation] = []
    var survivors: [NodeFinalState] = []
    var events: [DrillEvent] = []
    var targets = RecoveryTargets(rtoSeconds: 10, rpoEntries: 0)

    private var nextID: UInt64 = 1
    private var log: [OfferEvent] = []
    private var tasks: [TaskID: TaskSnapshot] = [:]
    private var order: [TaskID] = []

    @discardableResult
    mutating func add(
        _ kind: OperationKind, _ task: TaskID, client: String, invokeUs: UInt64, completeUs: UInt64,
        outcome: Outcome = .ok, value: OperationValue = OperationValue()
    ) -> UInt64 {
        let id = nextID
        nextID += 1
        history.append(ClientOperation(
            id: id, client: client, kind: kind, task: task, invokeUs: invokeUs, completeUs: completeUs, outcome: outcome, value: value
        ))
        return id
    }

    mutating func logEvent(_ kind: OfferEvent.Kind, _ task: TaskID, agent: AgentID? = nil, token: UInt64? = nil) {
        log.append(OfferEvent(index: UInt64(log.count + 1), kind: kind, task: task, agent: agent, token: token))
    }

    mutating func setState(_ task: TaskID, _ state: TaskState, agent: AgentID? = nil) {
        tasks[task]?.state = state
        tasks[task]?.agent = agent
    }

    static func make(taskCount: Int = 80) -> SyntheticDrill {
        var drill = SyntheticDrill()
        let sites = ["a", "b", "c"].map(SiteName.init)
        let agentsBefore = ["a-1", "b-1", "c-1", "a-2", "b-2", "c-2"].map(AgentID.init)
        let agentsAfter = ["a-1", "b-1", "a-2", "b-2"].map(AgentID.init)
        var token: UInt64 = 0
        for index in 0..<taskCount {
            let p0 = 1_000_000 + UInt64(index) * 500_000
            let task = TaskID(String(format: "t-%03d", index))
            let ingress = sites[index % (p0 >= faultUs ? 2 : 3)]
            let emergency = index % 7 == 0
            let enqueueValue = OperationValue(queue: "triage", priority: 1, emergency: emergency, site: ingress)
            if p0 >= faultUs && p0 < electionEndUs {
                drill.add(.enqueue, task, client: "ivr-\(ingress)", invokeUs: p0 - 5_000, completeUs: p0 + 900_000,
                          outcome: .failed, value: OperationValue(queue: "triage", priority: 1, emergency: emergency, error: "no-leader"))
                continue
            }
            drill.add(.enqueue, task, client: "ivr-\(ingress)", invokeUs: p0 - 5_000, completeUs: p0 + 5_000, value: enqueueValue)
            drill.tasks[task] = TaskSnapshot(
                id: task, state: .queued, queue: "triage", priority: 1, emergency: emergency, enqueueTimeMs: epochMs + p0 / 1_000
            )
            drill.order.append(task)
            drill.logEvent(.enqueued, task)
            drill.add(.read, task, client: "reader", invokeUs: p0 + 6_000, completeUs: p0 + 35_000, value: OperationValue(state: .queued))
            if index % 10 == 9 {
                drill.add(.abandon, task, client: "ivr-\(ingress)", invokeUs: p0 + 15_000, completeUs: p0 + 25_000)
                drill.setState(task, .abandoned)
                drill.logEvent(.abandoned, task)
                drill.add(.read, task, client: "reader", invokeUs: p0 + 40_000, completeUs: p0 + 50_000, value: OperationValue(state: .abandoned))
                continue
            }
            let pool = p0 >= faultUs ? agentsAfter : agentsBefore
            let agent = pool[index % pool.count]
            let agentSite = SiteName(String(agent.rawValue.prefix(1)))
            token += 1
            // The router offers at p0 + 30 ms; the agent's poll straddles it.
            drill.setState(task, .offered, agent: agent)
            drill.logEvent(.offered, task, agent: agent, token: token)
            drill.add(.offer, task, client: "agent-\(agent)", invokeUs: p0 + 10_000, completeUs: p0 + 40_000,
                      value: OperationValue(agent: agent, token: token, site: agentSite))
            drill.add(.accept, task, client: "agent-\(agent)", invokeUs: p0 + 50_000, completeUs: p0 + 60_000,
                      value: OperationValue(agent: agent, token: token))
            drill.setState(task, .accepted, agent: agent)
            drill.logEvent(.accepted, task, agent: agent, token: token)
            drill.add(.read, task, client: "reader", invokeUs: p0 + 200_000, completeUs: p0 + 210_000,
                      value: OperationValue(agent: agent, token: token, state: .accepted))
            if agentSite == SiteName("c") && p0 + 400_000 >= faultUs {
                continue
            }
            drill.add(.complete, task, client: "agent-\(agent)", invokeUs: p0 + 300_000, completeUs: p0 + 310_000,
                      value: OperationValue(agent: agent))
            drill.setState(task, .completed, agent: agent)
            drill.logEvent(.completed, task, agent: agent)
        }
        drill.events = [
            DrillEvent(atUs: 0, kind: .note, action: "start", label: "workload starts"),
            DrillEvent(atUs: faultUs, kind: .fault, action: "kill", sites: [SiteName("c")], label: "kill c"),
            DrillEvent(atUs: 35_000_000, kind: .recovery, action: "restart", sites: [SiteName("c")], label: "restart c"),
        ]
        drill.history.sort { $0.id < $1.id }
        drill.survivors = ["a", "b"].map { name in
            NodeFinalState(
                node: NodeName("n-\(name)"), site: SiteName(name), appliedIndex: UInt64(drill.log.count),
                stateHash: "5f1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100aa",
                auditHead: "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
                tasks: drill.order.map { drill.tasks[$0]! },
                agents: agentsBefore.map { AgentSnapshot(id: $0, site: SiteName(String($0.rawValue.prefix(1))), capacity: 1) },
                offersLog: drill.log
            )
        }
        return drill
    }

    /// The id of the first operation matching.
    func operation(_ kind: OperationKind, _ task: String) -> ClientOperation {
        history.first { $0.kind == kind && $0.task == TaskID(task) }!
    }
}
