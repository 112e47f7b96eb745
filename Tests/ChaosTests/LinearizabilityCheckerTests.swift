import Testing
@testable import Chaos

struct LinearizabilityCheckerTests {
    /// A history of one task: (kind, invoke ms, complete ms, outcome, value).
    static func history(_ rows: [(OperationKind, UInt64, UInt64, Outcome, OperationValue)], task: String = "t") -> [ClientOperation] {
        rows.enumerated().map { index, row in
            ClientOperation(id: UInt64(index + 1), client: "c\(index)", kind: row.0, task: TaskID(task),
                            invokeUs: row.1 * 1_000, completeUs: row.2 * 1_000, outcome: row.3, value: row.4)
        }
    }

    static let a = AgentID("a-1")
    static let b = AgentID("b-1")
    static func read(_ state: TaskState, _ agent: AgentID? = nil, _ token: UInt64? = nil) -> OperationValue {
        OperationValue(agent: agent, token: token, state: state)
    }
    static func offer(_ agent: AgentID, _ token: UInt64) -> OperationValue { OperationValue(agent: agent, token: token) }

    @Test func aTaskCreatedByAnEnqueueThatGotNoAnswerIsExplainedByIt() {
        // The caller's enqueue timed out (no id learnt); an agent was then offered task 9.
        let unanswered = ClientOperation(id: 1, client: "ivr", kind: .enqueue, task: TaskID("unknown-1"), invokeUs: 1_000,
                                         completeUs: 5_000_000, outcome: .unknown, value: OperationValue(queue: "q"))
        let offered = Self.history([(.offer, 100, 110, .ok, Self.offer(Self.a, 1))], task: "9").map { operation in
            var operation = operation
            operation.id = 2
            return operation
        }
        #expect(LinearizabilityChecker.check(history: [unanswered] + offered).result == .pass)
        // Without it, or with it invoked only after the offer was seen, the task came from nowhere.
        #expect(LinearizabilityChecker.check(history: offered).result == .fail)
        var late = unanswered
        late.invokeUs = 200_000
        late.completeUs = 300_000
        #expect(LinearizabilityChecker.check(history: [late] + offered).result == .fail)
    }

    @Test func correctSyntheticDrillIsLinearizable() {
        let verdict = LinearizabilityChecker.check(history: SyntheticDrill.make().history)
        #expect(verdict.result == .pass, "\(verdict)")
    }

    @Test func staleReadAfterCompleteFails() {
        var drill = SyntheticDrill.make()
        let complete = drill.operation(.complete, "t-001")
        // The bug: a follower answers a "linearizable" read from its own lagging state.
        drill.history.append(ClientOperation(
            id: 9_999, client: "reader", kind: .read, task: TaskID("t-001"), invokeUs: complete.completeUs + 1_000,
            completeUs: complete.completeUs + 2_000, outcome: .ok,
            value: Self.read(.accepted, drill.operation(.accept, "t-001").value.agent, drill.operation(.accept, "t-001").value.token)
        ))
        let verdict = LinearizabilityChecker.check(history: drill.history)
        #expect(verdict.result == .fail)
        #expect(verdict.checker == "LinearizabilityChecker")
        #expect(verdict.offending == ["t-001", "op 9999"])
    }

    @Test func concurrentOperationsMayLinearizeEitherWay() {
        // The read overlaps the accept: it may see either state.
        for seen in [Self.read(.offered, Self.a, 1), Self.read(.accepted, Self.a, 1)] {
            let history = Self.history([
                (.enqueue, 0, 10, .ok, OperationValue(queue: "q")),
                (.offer, 11, 20, .ok, Self.offer(Self.a, 1)),
                (.accept, 21, 40, .ok, Self.offer(Self.a, 1)),
                (.read, 25, 35, .ok, seen),
            ])
            #expect(LinearizabilityChecker.check(task: history) == .linearizable)
        }
    }

    @Test func readBeforeTheAcceptWasInvokedCannotSeeIt() {
        let history = Self.history([
            (.enqueue, 0, 10, .ok, OperationValue(queue: "q")),
            (.offer, 11, 20, .ok, Self.offer(Self.a, 1)),
            (.read, 21, 24, .ok, Self.read(.accepted, Self.a, 1)),
            (.accept, 25, 40, .ok, Self.offer(Self.a, 1)),
        ])
        #expect(LinearizabilityChecker.check(task: history) == .violation(
            operation: 3, state: TaskModel(phase: .offered, agent: Self.a, token: 1)
        ))
    }

    @Test func staleFencingTokenAcceptedFails() {
        // The bug: after the offer to a-1 (token 1) expired and went to b-1 (token 2), a-1's
        // late accept with token 1 succeeded.
        let history = Self.history([
            (.enqueue, 0, 10, .ok, OperationValue(queue: "q")),
            (.offer, 11, 20, .ok, Self.offer(Self.a, 1)),
            (.offer, 30, 40, .ok, Self.offer(Self.b, 2)),
            (.accept, 50, 60, .ok, Self.offer(Self.a, 1)),
        ])
        guard case .violation(let operation, _) = LinearizabilityChecker.check(task: history) else {
            Issue.record("a stale token must not be accepted")
            return
        }
        #expect(operation == 4)
    }

    @Test func reusedTokenForANewAgentFails() {
        let history = Self.history([
            (.enqueue, 0, 10, .ok, OperationValue(queue: "q")),
            (.offer, 11, 20, .ok, Self.offer(Self.a, 3)),
            (.offer, 30, 40, .ok, Self.offer(Self.b, 3)),
        ])
        #expect(LinearizabilityChecker.check(task: history) != .linearizable)
    }

    @Test func unknownWriteMayHaveHappenedLater() {
        // The accept timed out (unknown), yet a later read sees it applied: allowed.
        let history = Self.history([
            (.enqueue, 0, 10, .ok, OperationValue(queue: "q")),
            (.offer, 11, 20, .ok, Self.offer(Self.a, 1)),
            (.accept, 21, 30, .unknown, Self.offer(Self.a, 1)),
            (.read, 100, 110, .ok, Self.read(.accepted, Self.a, 1)),
        ])
        #expect(LinearizabilityChecker.check(task: history) == .linearizable)
    }

    @Test func unknownWriteMayNeverHaveHappened() {
        let history = Self.history([
            (.enqueue, 0, 10, .ok, OperationValue(queue: "q")),
            (.offer, 11, 20, .ok, Self.offer(Self.a, 1)),
            (.accept, 21, 30, .unknown, Self.offer(Self.a, 1)),
            (.read, 100, 110, .ok, Self.read(.offered, Self.a, 1)),
            (.abandon, 120, 130, .ok, OperationValue()),
        ])
        #expect(LinearizabilityChecker.check(task: history) == .linearizable)
    }

    @Test func failedWriteMustNotBeSeen() {
        let history = Self.history([
            (.enqueue, 0, 10, .ok, OperationValue(queue: "q")),
            (.offer, 11, 20, .ok, Self.offer(Self.a, 1)),
            (.accept, 21, 30, .failed, Self.offer(Self.a, 1)),
            (.read, 100, 110, .ok, Self.read(.accepted, Self.a, 1)),
        ])
        #expect(LinearizabilityChecker.check(task: history) != .linearizable)
    }

    @Test func acknowledgedEnqueueThenReadAbsentFails() {
        let history = Self.history([
            (.enqueue, 0, 10, .ok, OperationValue(queue: "q")),
            (.read, 20, 30, .ok, Self.read(.absent)),
        ])
        #expect(LinearizabilityChecker.check(task: history) == .violation(operation: 2, state: TaskModel(phase: .queued, agent: nil, token: 0)))
    }

    @Test func requeueAfterSiteLossThenReofferIsAllowed() {
        let history = Self.history([
            (.enqueue, 0, 10, .ok, OperationValue(queue: "q")),
            (.offer, 11, 20, .ok, Self.offer(Self.a, 1)),
            (.accept, 21, 30, .ok, Self.offer(Self.a, 1)),
            (.read, 40, 50, .ok, Self.read(.queued)),
            (.offer, 60, 70, .ok, Self.offer(Self.b, 2)),
            (.accept, 71, 80, .ok, Self.offer(Self.b, 2)),
            (.complete, 81, 90, .ok, OperationValue(agent: Self.b)),
            (.read, 91, 95, .ok, Self.read(.completed)),
        ])
        #expect(LinearizabilityChecker.check(task: history) == .linearizable)
    }

    @Test func tooManyOperationsIsInconclusiveNotAGuess() {
        var rows: [(OperationKind, UInt64, UInt64, Outcome, OperationValue)] = [(.enqueue, 0, 10, .ok, OperationValue(queue: "q"))]
        for index in 0..<UInt64(LinearizabilityChecker.operationsPerTaskMax) {
            rows.append((.read, 20 + index, 30 + index, .ok, Self.read(.queued)))
        }
        let verdict = LinearizabilityChecker.check(history: Self.history(rows))
        #expect(verdict.result == .inconclusive)
        #expect(verdict.offending == ["t"])
    }

    @Test func manyConcurrentUnknownsStayWithinBudget() {
        // 12 overlapping unknown accepts of stale tokens and a few reads: the memoized search
        // must finish (no exponential blow-up) and accept the history.
        var rows: [(OperationKind, UInt64, UInt64, Outcome, OperationValue)] = [
            (.enqueue, 0, 10, .ok, OperationValue(queue: "q")),
            (.offer, 11, 20, .ok, Self.offer(Self.a, 20)),
        ]
        for index in 0..<12 as Range<UInt64> {
            rows.append((.accept, 21 + index, 22 + index, .unknown, Self.offer(Self.b, index + 1)))
            rows.append((.read, 21 + index, 40, .ok, Self.read(.offered, Self.a, 20)))
        }
        #expect(LinearizabilityChecker.check(task: Self.history(rows)) == .linearizable)
    }
}
