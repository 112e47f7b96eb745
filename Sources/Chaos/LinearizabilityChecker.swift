/// Linearizability of the task operations, in the style of Porcupine: the history is
/// partitioned per task (operations on different tasks commute), and each part is
/// searched with the Wing & Gong algorithm as improved by Lowe (WGL): try to linearize a
/// pending call, memoize (linearized set, model state) pairs already explored, backtrack
/// when a return is reached whose call is not yet linearized.
///
/// Outcomes: failed operations took no effect and are dropped; unknown operations may take
/// effect at any time after their invocation or never (their return is placed at +inf,
/// and an unknown write that the model rejects is a no-op); unknown reads and offer polls
/// returned nothing and are dropped. The search is bounded: a task over `operationsPerTaskMax`
/// operations or `searchStepsMax` steps is reported "too complex", never guessed.
///
/// The bugs it exists for: stale reads (a node answering from its own state while a newer
/// leader has moved on), a lost fencing check, an acknowledged write that did not happen.
public enum LinearizabilityChecker {
    public static let name = "LinearizabilityChecker"
    public static let operationsPerTaskMax = 1_000
    public static let searchStepsMax = 1_000_000

    /// The result for one task.
    public enum TaskResult: Equatable, Sendable {
        case linearizable
        /// `operation` could not be placed; `state` is the model state at the deepest point.
        case violation(operation: UInt64, state: TaskModel)
        case tooComplex(reason: String)
    }

    public static func check(history: [ClientOperation]) -> CheckerVerdict {
        var byTask = Dictionary(grouping: history, by: \.task)
        // An enqueue that got no answer has no task id the client could learn ("unknown-17"),
        // yet it may have created a task that others then see. A task with no enqueue of its
        // own is attributed to the earliest such enqueue: it may have taken effect at any
        // time after its invocation. (One anonymous enqueue can then explain several tasks:
        // permissive, never a false alarm.) A task with no enqueue and no anonymous one
        // before it stays a violation.
        let anonymous = byTask.values.filter { $0.count == 1 && $0[0].kind == .enqueue && $0[0].outcome == .unknown }
            .map { $0[0] }.min { $0.invokeUs < $1.invokeUs }
        if let anonymous {
            for (task, operations) in byTask where !operations.contains(where: { $0.kind == .enqueue }) {
                guard let first = operations.map(\.invokeUs).min(), anonymous.invokeUs <= first else { continue }
                var attributed = anonymous
                attributed.task = task
                byTask[task]!.append(attributed)
            }
        }
        var offending: [String] = []
        var details: [String] = []
        var tooComplex: [String] = []
        for task in byTask.keys.sorted() {
            switch check(task: byTask[task]!) {
            case .linearizable:
                break
            case .violation(let operation, let state):
                offending += [task.rawValue, "op \(operation)"]
                let agent = state.agent.map { " by \($0)" } ?? ""
                details.append("\(task): op \(operation) cannot be linearized (task is \(state.phase.rawValue)\(agent), token \(state.token))")
            case .tooComplex(let reason):
                tooComplex.append("\(task): \(reason)")
            }
        }
        if !details.isEmpty {
            return CheckerVerdict(
                checker: name, result: .fail, summary: "\(details.count) of \(byTask.count) tasks are not linearizable",
                offending: offending, details: details + tooComplex
            )
        }
        if !tooComplex.isEmpty {
            return CheckerVerdict(
                checker: name, result: .inconclusive, summary: "\(tooComplex.count) tasks too complex to check",
                offending: tooComplex.map { String($0.prefix { $0 != ":" }) }, details: tooComplex
            )
        }
        return CheckerVerdict(checker: name, result: .pass, summary: "all \(byTask.count) tasks linearizable (\(history.count) operations)")
    }

    // MARK: - One task

    /// Checks the operations of one task (all MUST name the same task).
    public static func check(task operations: [ClientOperation]) -> TaskResult {
        let relevant = operations.filter { $0.outcome == .ok || ($0.outcome == .unknown && $0.isWrite) }
        guard relevant.count <= operationsPerTaskMax else {
            return .tooComplex(reason: "\(relevant.count) operations, more than \(operationsPerTaskMax)")
        }
        if relevant.isEmpty { return .linearizable }
        var search = Search(relevant)
        return search.run()
    }

    /// The WGL search over a doubly linked list of call and return entries.
    struct Search {
        struct Entry {
            var operation: Int
            var isCall: Bool
            /// For a call, the index of its return entry.
            var match: Int
            var previous: Int
            var next: Int
        }

        struct CacheKey: Hashable {
            var linearized: [UInt64]
            var state: TaskModel
        }

        let operations: [ClientOperation]
        /// Entry 0 is the list head (a sentinel); -1 ends the list.
        var entries: [Entry]

        init(_ operations: [ClientOperation]) {
            self.operations = operations
            struct Event { var time: UInt64; var isCall: Bool; var operation: Int }
            var events: [Event] = []
            for (index, operation) in operations.enumerated() {
                events.append(Event(time: operation.invokeUs, isCall: true, operation: index))
                let returnTime = operation.outcome == .unknown ? UInt64.max : operation.completeUs
                events.append(Event(time: returnTime, isCall: false, operation: index))
            }
            // Calls before returns at equal times: touching operations count as concurrent.
            events.sort { ($0.time, $0.isCall ? 0 : 1, $0.operation) < ($1.time, $1.isCall ? 0 : 1, $1.operation) }
            var entries = [Entry(operation: -1, isCall: false, match: -1, previous: -1, next: 1)]
            var returnEntry = [Int](repeating: -1, count: operations.count)
            for (offset, event) in events.enumerated() {
                let index = offset + 1
                entries.append(Entry(
                    operation: event.operation, isCall: event.isCall, match: -1, previous: index - 1,
                    next: index + 1 <= events.count ? index + 1 : -1
                ))
                if !event.isCall { returnEntry[event.operation] = index }
            }
            for index in 1..<entries.count where entries[index].isCall {
                entries[index].match = returnEntry[entries[index].operation]
            }
            self.entries = entries
        }

        /// Removes a call and its return from the list.
        mutating func lift(_ call: Int) {
            for index in [call, entries[call].match] {
                let entry = entries[index]
                entries[entry.previous].next = entry.next
                if entry.next != -1 { entries[entry.next].previous = entry.previous }
            }
        }

        /// Puts back what `lift` removed, in reverse order.
        mutating func unlift(_ call: Int) {
            for index in [entries[call].match, call] {
                let entry = entries[index]
                entries[entry.previous].next = index
                if entry.next != -1 { entries[entry.next].previous = index }
            }
        }

        mutating func run() -> TaskResult {
            var linearized = [UInt64](repeating: 0, count: (operations.count + 63) / 64)
            var linearizedCount = 0
            var state = TaskModel.initial
            var cache = Set<CacheKey>()
            var stack: [(call: Int, state: TaskModel)] = []
            var deepest = (count: -1, operation: operations[0].id, state: state)
            var steps = 0
            var cursor = entries[0].next
            while entries[0].next != -1 {
                steps += 1
                if steps > LinearizabilityChecker.searchStepsMax {
                    return .tooComplex(reason: "search exceeded \(LinearizabilityChecker.searchStepsMax) steps")
                }
                precondition(cursor != -1, "WGL cursor fell off the list: every call has a later return")
                let entry = entries[cursor]
                if entry.isCall {
                    if let next = state.step(operations[entry.operation]) {
                        var candidate = linearized
                        candidate[entry.operation / 64] |= 1 << UInt64(entry.operation % 64)
                        if cache.insert(CacheKey(linearized: candidate, state: next)).inserted {
                            stack.append((cursor, state))
                            state = next
                            linearized = candidate
                            linearizedCount += 1
                            lift(cursor)
                            cursor = entries[0].next
                            continue
                        }
                    }
                    cursor = entry.next
                } else {
                    // A return whose call is still pending: this ordering is dead, backtrack.
                    if linearizedCount > deepest.count {
                        deepest = (linearizedCount, operations[entry.operation].id, state)
                    }
                    guard let (call, previous) = stack.popLast() else {
                        return .violation(operation: deepest.operation, state: deepest.state)
                    }
                    state = previous
                    let operation = entries[call].operation
                    linearized[operation / 64] &= ~(1 << UInt64(operation % 64))
                    linearizedCount -= 1
                    unlift(call)
                    cursor = entries[call].next
                }
            }
            return .linearizable
        }
    }
}
