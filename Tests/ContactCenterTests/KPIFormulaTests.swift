import Testing
@testable import ContactCenter

/// KPI formulas against a day worked out by hand (see Docs/kpis.md).
@Suite struct KPIFormulaTests {
    /// t (s): 0 A arrives · 10 B · 12 C · 20 agent logs in, offered A · 25 accepts A
    /// (waited 25 s, within 30) · 26 C hangs up (waited 14 s: abandon) · 85 wrap-up
    /// · 95 completes A (FCR, CSAT 5), offered B · 100 accepts B (waited 90 s) · 101 D
    /// arrives · 103 D hangs up (2 s: short abandon) · 160 wrap-up · 170 completes B
    /// (not FCR, CSAT 3) · 200 tick.
    static func workedDay() -> Harness {
        var h = Harness()
        h.site(1)
        h.queue(QueueConfig(id: QueueID(1), name: "general", serviceLevelSeconds: 30))
        h.agent(1, login: false)
        let a = h.enqueue()
        let b = h.enqueue(after: 10_000)
        let c = h.enqueue(after: 2_000)
        h.must(.setPresence(AgentID(1), .available), after: 8_000)
        h.must(.accept(a, AgentID(1), token: h.token(a)), after: 5_000)
        h.must(.abandon(c), after: 1_000)
        h.must(.wrapUp(a, AgentID(1), token: h.token(a)), after: 59_000)
        h.must(.complete(a, AgentID(1), token: h.token(a), Disposition(resolvedFirstContact: true, csat: 5)), after: 10_000)
        h.must(.accept(b, AgentID(1), token: h.token(b)), after: 5_000)
        let d = h.enqueue(after: 1_000)
        h.must(.abandon(d), after: 2_000)
        h.must(.wrapUp(b, AgentID(1), token: h.token(b)), after: 57_000)
        h.must(.complete(b, AgentID(1), token: h.token(b), Disposition(resolvedFirstContact: false, followUpNeeded: true, csat: 3)), after: 10_000)
        h.must(.tick, after: 30_000)
        return h
    }

    @Test func countersMatchTheHandCount() {
        let h = Self.workedDay()
        let q = h.state.kpis(queue: QueueID(1))!.total
        #expect(q.entered == 4)
        #expect(q.answered == 2)
        #expect(q.answerMsSum == 115_000)
        #expect(q.answeredWithinTarget == 1)
        #expect(q.abandoned == 1)
        #expect(q.shortAbandoned == 1)
        #expect(q.completed == 2)
        #expect(q.handleMsSum == 140_000)
        #expect(q.firstContactResolved == 1)
        #expect(q.csatSum == 8 && q.csatCount == 2)
    }

    @Test func formulasMatchTheHandComputation() {
        let h = Self.workedDay()
        let q = h.state.kpis(queue: QueueID(1))!.total
        #expect(q.averageSpeedOfAnswerMs == 57_500)         // (25 + 90) / 2 s
        #expect(q.abandonmentRate == 1.0 / 3.0)             // 1 / (2 + 1); the short abandon is left out
        #expect(q.serviceLevel == 1.0 / 3.0)                // 1 within 30 s / (2 answered + 1 abandoned)
        #expect(q.averageHandleMs == 70_000)                // (70 + 70) / 2 s
        #expect(q.firstContactResolutionRate == 0.5)
        #expect(q.averageCSAT == 4.0)
        let site = h.state.kpis(site: SiteID(1))!
        #expect(site.total.busyMs == 130_000)               // 20→85 and 95→160
        #expect(site.total.wrapUpMs == 20_000)              // 85→95 and 160→170
        #expect(site.total.availableMs == 30_000)           // 170→200
        #expect(site.total.occupancy == 150.0 / 180.0)
        #expect(site.agentsByStatus[.available] == 1)
        #expect(site.total.answered == 2, "site counters count the same tasks by ingress site")
    }

    @Test func windowsRollAndGaugesReadNow() {
        var h = Self.workedDay()
        let waiting = h.enqueue(after: 1_000)
        #expect(h.holder(waiting) == AgentID(1))
        h.must(.accept(waiting, AgentID(1), token: h.token(waiting)))
        let queued = h.enqueue(after: 1_000)
        h.must(.tick, after: 15 * 60_000)                   // into the next 15-minute window
        let q = h.state.kpis(queue: QueueID(1))!
        #expect(q.total.entered == 6)
        #expect(q.window.entered == 0, "nothing arrived in this window yet")
        #expect(q.depth == 1)
        #expect(q.longestWaitMs == 15 * 60_000)
        #expect(h.task(queued).state == .queued)
        let site = h.state.kpis(site: SiteID(1))!
        #expect(site.window.busyMs == h.clock - site.windowStart, "busy since the window began")
        #expect(site.total.busyMs == 130_000 + 15 * 60_000 + 1_000)
    }
}
