#if canImport(Glibc)
import Glibc
#endif
import ContactCenter
import Raft

/// `lifeline bench routing --help`.
let benchRoutingHelp = """
    lifeline bench routing: measure the contact-center state machine on one core.

    Usage: lifeline bench routing [--tasks N] [--agents N] [--sites N] [--commands N] [--seed N]

    Builds a floor of AGENTS agents over SITES sites (8 skills, 12 queues, a fifth
    of agents nurses), fills the queues until TASKS tasks are waiting, then applies
    a mixed stream of COMMANDS commands: new contacts, accepts, wrap-ups,
    completions, abandons, callbacks, presence changes and a Tick every 1,000
    commands, keeping the queues near TASKS deep. The state machine never reads
    a clock: this shell stamps every command and times each apply.

    Prints: commands applied per second (apply time only, and end to end),
    p50/p99 apply latency for all commands and for routing decisions (commands
    that searched for an agent or a task: new contacts and completions), bytes
    of state per queued task (resident memory growth and snapshot bytes), and
    snapshot/restore time.

    Options:
      --tasks N      queued tasks to hold (default 100000)
      --agents N     agents (default 10000)
      --sites N      sites (default 5)
      --commands N   commands in the measured stream (default 1000000)
      --seed N       workload seed (default 1)

    Build with -c release: swift run -c release lifeline bench routing
    """

/// Runs the routing benchmark; prints figures, returns the exit code.
func benchRouting(_ arguments: [String]) throws -> Int32 {
    if arguments.contains("--help") || arguments.contains("-h") {
        print(benchRoutingHelp)
        return ExitCode.ok
    }
    let options = try OptionParser(arguments, valued: ["tasks", "agents", "sites", "commands", "seed"])
    guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
    let config = RoutingBench.Config(
        tasks: try options.int("tasks", default: 100_000, range: 1...2_000_000),
        agents: try options.int("agents", default: 10_000, range: 1...200_000),
        sites: try options.int("sites", default: 5, range: 1...64),
        commands: try options.int("commands", default: 1_000_000, range: 1...100_000_000),
        seed: try options.uint64("seed", default: 1))
    var bench = RoutingBench(config)
    bench.run()
    return ExitCode.ok
}

/// The benchmark's workload and measurements. Lives in the shell: it reads the
/// monotonic clock and /proc, which the core never does.
struct RoutingBench {
    struct Config {
        var tasks: Int
        var agents: Int
        var sites: Int
        var commands: Int
        var seed: UInt64
    }

    static let queueCount = 12
    static let skillCount = 8
    static let tickEveryCommands = 1_000
    /// The stamped clock advances 1 ms every this many commands (10,000 commands
    /// per simulated second), so offers are answered well within their timeout.
    static let commandsPerMs: UInt64 = 10

    let config: Config
    var state = ContactCenterState()
    var random: SeededRandom
    var clock: UInt64 = 1_700_000_000_000
    var sequence: UInt64 = 0
    /// Offers and accepted tasks waiting for their agent's next step.
    var work: [(task: TaskID, agent: AgentID, token: UInt64, step: UInt8)] = []
    var workHead = 0
    var recentTasks: [TaskID] = []
    var applyNs: [UInt32] = []
    var routingNs: [UInt32] = []
    var rejected = 0
    var rejectedByCode: [String: Int] = [:]

    init(_ config: Config) {
        self.config = config
        random = SeededRandom(seed: config.seed)
    }

    // MARK: Clock and memory (shell only)

    static func monotonicNs() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Resident set size in bytes, from /proc/self/statm (0 if unreadable).
    static func residentBytes() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return 0 }
        let fields = String(decoding: buffer[0..<count], as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// `value` with `digits` decimals (no Foundation in this target).
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "n/a" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (value * scale).rounded()
        let whole = Int(scaled / scale)
        guard digits > 0 else { return "\(whole)" }
        let fraction = Int(abs(scaled) - abs(Double(whole)) * scale)
        let text = String(fraction)
        return "\(whole).\(String(repeating: "0", count: max(0, digits - text.count)))\(text)"
    }

    // MARK: Applying

    @discardableResult
    mutating func apply(_ command: ContactCommand, measure: Bool = true, routing: Bool = false) -> CommandResult {
        sequence += 1
        if sequence % Self.commandsPerMs == 0 { clock += 1 }
        let start = Self.monotonicNs()
        let result = state.apply(CommandEnvelope(at: clock, command))
        let elapsed = UInt32(clamping: Self.monotonicNs() - start)
        if measure {
            applyNs.append(elapsed)
            if routing { routingNs.append(elapsed) }
        }
        if let rejection = result.rejection {
            rejected += 1
            rejectedByCode["\(rejection.code)", default: 0] += 1
        }
        for event in result.events {
            if case .taskOffered(let task, let agent, let token, _) = event { work.append((task, agent, token, 0)) }
        }
        return result
    }

    mutating func below(_ bound: Int) -> Int { Int(random.next() % UInt64(bound)) }

    // MARK: Workload

    mutating func setUp() {
        apply(.configure(Settings(closedTasksRetainedMax: 10_000)), measure: false)
        for site in 1...config.sites { apply(.addSite(SiteID(UInt32(site))), measure: false) }
        for index in 0..<Self.queueCount {
            let skills: UInt64 = index < Self.skillCount ? 1 << UInt64(index) : 0
            let overflow = skills == 0 ? [] : [OverflowRule(afterSeconds: 60, action: .widenSkills(0, minimumProficiency: 0))]
            let audience: QueueAudience = index == Self.queueCount - 1 ? .nurses : .anyAgent
            apply(.defineQueue(QueueConfig(id: QueueID(UInt32(index + 1)), name: "queue \(index + 1)",
                                           priority: UInt8(index % 3), requiredSkills: skills, minimumProficiency: 2,
                                           audience: audience, overflow: overflow)), measure: false)
        }
        for raw in 1...config.agents {
            var skills: [SkillID: UInt8] = [:]
            for _ in 0..<(2 + below(2)) { skills[SkillID(UInt8(below(Self.skillCount)))] = UInt8(1 + below(5)) }
            let roles: RoleSet = below(5) == 0 ? [.agent, .nurse] : .agent
            let id = AgentID(UInt64(raw))
            apply(.registerAgent(AgentConfig(id: id, site: SiteID(UInt32(1 + raw % config.sites)), roles: roles,
                                             skills: skills, voice: 1, chat: 2, sms: 0, email: 1)), measure: false)
            apply(.setPresence(id, .available), measure: false)
        }
    }

    mutating func newTask() -> ContactCommand {
        let queue = 1 + below(Self.queueCount)
        let channel: Channel = [.voice, .voice, .voice, .chat, .chat, .email, .callback][below(7)]
        let roll = below(100)
        let type: CallType = queue == Self.queueCount ? (roll < 10 ? .emergency : .clinical) : (roll < 50 ? .scheduling : .billing)
        return .enqueue(NewTask(queue: QueueID(UInt32(queue)), channel: channel, callType: type, priority: UInt8(below(4)),
                                patient: PatientID(UInt64(below(1_000_000))), site: SiteID(UInt32(1 + below(config.sites)))))
    }

    var queuedCount: Int { (1...Self.queueCount).reduce(0) { $0 + state.queueDepth(QueueID(UInt32($1))) } }

    mutating func enqueue(measure: Bool) {
        let result = apply(newTask(), measure: measure, routing: true)
        if let task = result.task {
            if recentTasks.count < 4096 { recentTasks.append(task) } else { recentTasks[below(4096)] = task }
        }
    }

    /// One step of the oldest outstanding work item: accept, wrap up or complete.
    mutating func advanceWork() -> Bool {
        guard workHead < work.count else { return false }
        var item = work[workHead]
        workHead += 1
        switch item.step {
        case 0: apply(.accept(item.task, item.agent, token: item.token))
        case 1: apply(.wrapUp(item.task, item.agent, token: item.token))
        default:
            apply(.complete(item.task, item.agent, token: item.token,
                            Disposition(resolvedFirstContact: below(10) < 7, csat: UInt8(1 + below(5)))), routing: true)
        }
        if item.step < 2 {
            item.step += 1
            work.append(item)
        }
        if workHead > 100_000, workHead * 2 > work.count {
            work.removeFirst(workHead)
            workHead = 0
        }
        return true
    }

    mutating func mixedCommand(_ index: Int) {
        if index % Self.tickEveryCommands == 0 {
            apply(.tick)
            return
        }
        let roll = below(100)
        if roll < 2, let task = recentTasks.randomElementSeeded(&random) {
            apply(.abandon(task))
        } else if roll < 3, let task = recentTasks.randomElementSeeded(&random) {
            apply(.requestCallback(task, dueAt: 0))
        } else if roll < 4 {
            let agent = AgentID(UInt64(1 + below(config.agents)))
            apply(.setPresence(agent, below(4) == 0 ? .onBreak : .available), routing: true)
        } else if (roll < 28 && queuedCount <= config.tasks) || !advanceWork() {
            enqueue(measure: true)
        }
    }

    // MARK: Run

    mutating func run() {
        print("bench routing: \(config.agents) agents over \(config.sites) sites, \(Self.queueCount) queues; "
              + "filling to \(config.tasks) queued tasks, then \(config.commands) mixed commands (seed \(config.seed))")
        setUp()
        let residentBefore = Self.residentBytes()
        while queuedCount < config.tasks { enqueue(measure: false) }
        let residentAfter = Self.residentBytes()
        let queuedAtFill = queuedCount
        applyNs.reserveCapacity(config.commands)
        routingNs.reserveCapacity(config.commands)
        let wallStart = Self.monotonicNs()
        for index in 0..<config.commands { mixedCommand(index) }
        let wallNs = Self.monotonicNs() - wallStart
        report(wallNs: wallNs, queuedAtFill: queuedAtFill, residentGrowth: residentAfter - residentBefore)
    }

    mutating func report(wallNs: UInt64, queuedAtFill: Int, residentGrowth: Int) {
        let applyTotalNs = applyNs.reduce(UInt64(0)) { $0 + UInt64($1) }
        applyNs.sort()
        routingNs.sort()
        func percentile(_ values: [UInt32], _ p: Double) -> String {
            guard !values.isEmpty else { return "n/a" }
            let index = min(values.count - 1, Int(Double(values.count) * p))
            return Self.fixed(Double(values[index]) / 1000, 2) + " µs"
        }
        let snapshotStart = Self.monotonicNs()
        let bytes = state.snapshot()
        let snapshotNs = Self.monotonicNs() - snapshotStart
        let restoreStart = Self.monotonicNs()
        let restored = try? ContactCenterState(snapshot: bytes)
        let restoreNs = Self.monotonicNs() - restoreStart
        let commands = Double(applyNs.count)
        let perTaskMemory = Double(residentGrowth) / Double(max(queuedAtFill, 1))
        let perTaskSnapshot = Double(bytes.count) / Double(max(state.taskCount, 1))
        let reasons = rejectedByCode.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("commands applied:        \(applyNs.count) (\(rejected) rejected: \(reasons)); queued now \(queuedCount), open \(state.openTaskCount)")
        print("throughput (apply only): \(Self.fixed(commands / (Double(applyTotalNs) / 1e9), 0)) commands/s")
        print("throughput (end to end): \(Self.fixed(commands / (Double(wallNs) / 1e9), 0)) commands/s (incl. workload generation and timing)")
        print("apply latency, all:      p50 \(percentile(applyNs, 0.50))  p99 \(percentile(applyNs, 0.99))  max \(percentile(applyNs, 1.0))")
        print("routing decisions:       p50 \(percentile(routingNs, 0.50))  p99 \(percentile(routingNs, 0.99))  (\(routingNs.count) commands)")
        print("memory per queued task:  \(Self.fixed(perTaskMemory, 0)) bytes (resident growth \(residentGrowth) bytes filling \(queuedAtFill) queued)")
        print("snapshot:                \(bytes.count) bytes for \(state.taskCount) tasks (\(Self.fixed(perTaskSnapshot, 0)) bytes/task), "
              + "\(Self.fixed(Double(snapshotNs) / 1e6, 1)) ms; restore \(Self.fixed(Double(restoreNs) / 1e6, 1)) ms; "
              + "hashes \(restored?.stateHash == state.stateHash ? "equal" : "DIFFER")")
    }
}

extension Array {
    /// A deterministic pick from a seeded generator.
    func randomElementSeeded(_ random: inout SeededRandom) -> Element? {
        isEmpty ? nil : self[Int(random.next() % UInt64(count))]
    }
}
