import Testing
@testable import ContactCenter

/// One scenario per routing, callback, escalation, fencing and site rule.
@Suite struct ScenarioTests {
    // MARK: Routing order

    @Test func emergencyThenPriorityThenLongestWait() {
        var h = Harness.basic()
        h.agent(1, roles: [.agent, .nurse], login: false)
        let routine = h.enqueue(priority: 0, after: 1)
        let urgent = h.enqueue(priority: 5, after: 1)
        let emergency = h.enqueue(type: .emergency, priority: 0, after: 1)
        let urgentLater = h.enqueue(priority: 5, after: 1)
        h.must(.setPresence(AgentID(1), .available))
        var served: [TaskID] = []
        for _ in 0..<4 {
            guard let next = [routine, urgent, emergency, urgentLater].first(where: { h.holder($0) == AgentID(1) && h.task($0).state == .offered }) else {
                Issue.record("agent 1 has no offer; served so far \(served)")
                return
            }
            served.append(next)
            h.handle(next)
        }
        #expect(served == [emergency, urgent, urgentLater, routine])
    }

    @Test func queuePriorityAddsToTaskPriority() {
        var h = Harness.basic()
        h.queue(QueueConfig(id: QueueID(2), name: "vip", priority: 10))
        h.agent(1, login: false)
        let general = h.enqueue(queue: 1, priority: 5, after: 1)
        let vip = h.enqueue(queue: 2, priority: 0, after: 1)
        h.must(.setPresence(AgentID(1), .available))
        #expect(h.holder(vip) == AgentID(1))
        #expect(h.task(general).state == .queued)
    }

    // MARK: Skills and proficiency

    @Test func requiredSkillsAndBestProficiencyThenLongestIdle() {
        var h = Harness.basic()
        let spanish = SkillID(1)
        h.queue(QueueConfig(id: QueueID(2), name: "spanish", requiredSkills: spanish.bit, minimumProficiency: 3))
        h.agent(1, skills: [:])                       // no skill
        h.agent(2, skills: [spanish: 2])              // under the minimum
        h.agent(3, skills: [spanish: 4])              // idle longest among the qualified
        h.agent(4, skills: [spanish: 7], login: false)
        h.agent(5, skills: [spanish: 7], login: false)
        h.must(.setPresence(AgentID(4), .available), after: 10)
        h.must(.setPresence(AgentID(5), .available), after: 10)
        let first = h.enqueue(queue: 2, after: 10)
        #expect(h.holder(first) == AgentID(4), "best proficiency wins, then longest idle (4 before 5)")
        let second = h.enqueue(queue: 2, after: 10)
        #expect(h.holder(second) == AgentID(5))
        let third = h.enqueue(queue: 2, after: 10)
        #expect(h.holder(third) == AgentID(3))
        let fourth = h.enqueue(queue: 2, after: 10)
        #expect(h.task(fourth).state == .queued, "agents 1 and 2 do not qualify")
    }

    @Test func prefersTheTasksSiteButUsesAnySite() {
        var h = Harness.basic()
        h.agent(1, site: 1)
        h.agent(2, site: 2)
        let atSite2 = h.enqueue(site: 2, after: 10)
        #expect(h.holder(atSite2) == AgentID(2), "agent 1 idles longer, but agent 2 is at the task's site")
        let alsoSite2 = h.enqueue(site: 2, after: 10)
        #expect(h.holder(alsoSite2) == AgentID(1), "no one free at site 2: any site")
    }

    @Test func emergencyAndClinicalGoOnlyToNurses() {
        var h = Harness.basic()
        h.agent(1, roles: .agent)
        let clinical = h.enqueue(channel: .chat, type: .clinical, after: 1)
        let emergency = h.enqueue(type: .emergency, after: 1)
        #expect(h.task(clinical).state == .queued)
        #expect(h.task(emergency).state == .queued)
        h.agent(2, roles: .nurse)
        #expect(h.holder(emergency) == AgentID(2))
        #expect(h.holder(clinical) == AgentID(2), "the nurse's chat slot takes the clinical chat")
    }

    // MARK: Overflow

    @Test func overflowWidensSkillsThenMovesQueue() {
        var h = Harness.basic()
        let cardiology = SkillID(2)
        h.queue(QueueConfig(id: QueueID(3), name: "backup"))
        h.queue(QueueConfig(id: QueueID(2), name: "cardiology", requiredSkills: cardiology.bit | SkillID(3).bit, overflow: [
            OverflowRule(afterSeconds: 30, action: .widenSkills(cardiology.bit, minimumProficiency: 1)),
            OverflowRule(afterSeconds: 60, action: .toQueue(QueueID(3))),
        ]))
        h.agent(1, skills: [cardiology: 5])
        let task = h.enqueue(queue: 2)
        h.must(.tick, after: 29_000)
        #expect(h.task(task).state == .queued, "not yet widened")
        h.must(.tick, after: 2_000)
        #expect(h.holder(task) == AgentID(1), "widened after 30 s to cardiology only")
        #expect(h.task(task).stage == 1)

        let other = h.enqueue(queue: 2)
        h.must(.tick, after: 61_000)
        #expect(h.task(other).queue == QueueID(3), "after 60 s it overflows to the backup queue")
        #expect(h.task(other).enqueuedAt < h.clock, "keeping its place")
    }

    // MARK: Ring-no-answer

    @Test func ringNoAnswerGoesToTheNextAgentAndSetsNotReady() {
        var h = Harness.basic()
        h.agent(1)
        h.agent(2)
        let task = h.enqueue()
        #expect(h.holder(task) == AgentID(1))
        h.must(.tick, after: 19_000)
        #expect(h.holder(task) == AgentID(1))
        let result = h.must(.tick, after: 2_000)
        #expect(result.events.contains(.offerExpired(task, AgentID(1), token: 1)))
        #expect(h.holder(task) == AgentID(2))
        #expect(h.state.agent(AgentID(1))?.status == .notReady)
        #expect(h.state.agent(AgentID(1))?.load == [0, 0, 0, 0], "not left reserved")
    }

    @Test func aDeclinedOfferGoesToTheNextAgent() {
        var h = Harness.basic()
        h.agent(1)
        h.agent(2)
        let task = h.enqueue()
        let token = h.token(task)
        let place = h.task(task).enqueuedAt
        h.must(.decline(task, AgentID(1), token: token), after: 3_000)
        #expect(h.holder(task) == AgentID(2))
        #expect(h.token(task) > token)
        #expect(h.state.agent(AgentID(1))?.status == .notReady)
        #expect(h.task(task).enqueuedAt == place, "keeps its place")
    }

    // MARK: Callbacks

    @Test func callbackNowKeepsThePlaceInLine() {
        var h = Harness.basic()
        h.agent(1, login: false)
        let first = h.enqueue(patient: 1, after: 1)
        let second = h.enqueue(patient: 2, after: 1)
        h.must(.requestCallback(first, dueAt: 0), after: 5_000)
        #expect(h.task(first).channel == .callback)
        h.must(.setPresence(AgentID(1), .available))
        #expect(h.holder(first) == AgentID(1), "the callback keeps its place ahead of \(second)")
    }

    @Test func scheduledCallbackFiresAtItsTimeWithItsOriginalPlace() {
        var h = Harness.basic()
        h.agent(1, login: false)
        let early = h.enqueue(patient: 1, after: 1)
        h.must(.requestCallback(early, dueAt: h.clock + 600_000))
        #expect(h.task(early).state == .callbackScheduled)
        #expect(h.state.queueDepth(QueueID(1)) == 0)
        let later = h.enqueue(patient: 2, after: 60_000)
        h.must(.tick, after: 600_000)
        #expect(h.task(early).state == .queued)
        h.must(.setPresence(AgentID(1), .available))
        #expect(h.holder(early) == AgentID(1), "due callback keeps its original place ahead of \(later)")
        let scheduled = h.must(.enqueue(NewTask(queue: QueueID(1), channel: .callback, patient: PatientID(3), site: SiteID(1),
                                                callbackAt: h.clock + 1_000)))
        let id = scheduled.task!
        #expect(h.task(id).state == .callbackScheduled)
        h.must(.tick, after: 1_000)
        #expect(h.task(id).state == .queued)
    }

    // MARK: Escalation and transfer

    @Test func escalationIsRecordedAndGoesToTheNurseQueue() {
        var h = Harness.basic()
        h.queue(QueueConfig(id: QueueID(9), name: "nurse line", audience: .nurses))
        h.agent(1)
        let task = h.enqueue()
        h.must(.accept(task, AgentID(1), token: h.token(task)))
        let wrong = h.run(.escalate(task, AgentID(1), token: h.token(task), to: QueueID(1), .clinicalConcern))
        #expect(wrong.rejection?.code == .invalidConfig)
        h.must(.escalate(task, AgentID(1), token: h.token(task), to: QueueID(9), .emergencySymptoms), after: 1)
        #expect(h.task(task).escalations.map(\.reason) == [.emergencySymptoms])
        #expect(h.task(task).escalations.first?.by == AgentID(1))
        #expect(h.task(task).callType == .emergency)
        #expect(h.task(task).queue == QueueID(9))
        #expect(h.state.agent(AgentID(1))?.held == [])
        h.agent(2, roles: .agent)
        #expect(h.task(task).state == .queued, "a plain agent may not take the nurse queue")
        h.agent(3, roles: .nurse)
        #expect(h.holder(task) == AgentID(3))
    }

    @Test func transferMovesTheTask() {
        var h = Harness.basic()
        h.queue(QueueConfig(id: QueueID(2), name: "billing"))
        h.agent(1)
        let task = h.enqueue()
        h.must(.accept(task, AgentID(1), token: h.token(task)))
        h.must(.transfer(task, AgentID(1), token: h.token(task), to: QueueID(2)))
        #expect(h.task(task).queue == QueueID(2))
        #expect(h.task(task).transfers == 1)
        #expect(h.holder(task) == AgentID(1), "the same agent, now free, is offered it in the billing queue")
    }

    // MARK: Fencing

    @Test func staleTokensAreRejected() {
        var h = Harness.basic()
        h.agent(1)
        h.agent(2)
        let task = h.enqueue()
        let oldToken = h.token(task)
        h.must(.tick, after: 21_000)
        let newToken = h.token(task)
        #expect(newToken > oldToken)
        #expect(h.holder(task) == AgentID(2))
        let before = h.state.stateHash
        let stale = h.run(.accept(task, AgentID(1), token: oldToken))
        #expect(stale.rejection?.code == .staleToken)
        let forged = h.run(.accept(task, AgentID(1), token: newToken))
        #expect(forged.rejection?.code == .notHolder)
        #expect(h.state.stateHash == before, "a rejection changes nothing")
        h.must(.accept(task, AgentID(2), token: newToken))
        let lateComplete = h.run(.complete(task, AgentID(1), token: oldToken, Disposition(resolvedFirstContact: true)))
        #expect(lateComplete.rejection?.code == .staleToken)
        #expect(h.state.agent(AgentID(1))?.held == [])
        #expect(h.state.agent(AgentID(2))?.held == [task])
    }

    @Test func illegalTransitionsAreRejectedWithAReason() {
        var h = Harness.basic()
        h.agent(1)
        let task = h.enqueue()
        let token = h.token(task)
        #expect(h.run(.wrapUp(task, AgentID(1), token: token)).rejection?.code == .illegalTransition)
        #expect(h.run(.complete(task, AgentID(1), token: token, Disposition(resolvedFirstContact: true))).rejection?.code == .illegalTransition)
        h.must(.accept(task, AgentID(1), token: token))
        #expect(h.run(.abandon(task)).rejection?.code == .illegalTransition)
        #expect(h.run(.accept(task, AgentID(1), token: token)).rejection?.code == .illegalTransition)
        h.must(.wrapUp(task, AgentID(1), token: token))
        let badScore = h.run(.complete(task, AgentID(1), token: token, Disposition(resolvedFirstContact: true, csat: 6)))
        #expect(badScore.rejection?.code == .invalidDisposition)
        h.must(.complete(task, AgentID(1), token: token, Disposition(resolvedFirstContact: true, csat: 5)))
        #expect(h.run(.abandon(task)).rejection?.code == .illegalTransition)
        #expect(h.run(.abandon(TaskID(999))).rejection?.code == .unknownTask)
    }

    // MARK: Omnichannel

    @Test func anOfferShowsThePatientsEarlierInteractions() {
        var h = Harness.basic()
        h.agent(1, login: false)
        let chat = h.enqueue(channel: .chat, patient: 42)
        let email = h.enqueue(channel: .email, patient: 42)
        _ = h.enqueue(channel: .voice, patient: 7)
        let call = h.enqueue(channel: .voice, patient: 42, after: 1)
        let result = h.must(.setPresence(AgentID(1), .available))
        let offer = result.events.compactMap { event -> TaskID? in
            if case .taskOffered(let id, _, _, _) = event, id == call { return id }
            return nil
        }
        #expect(offer.isEmpty, "patient 7 called first")
        #expect(h.state.history(of: PatientID(42)) == [chat, email, call])
        let chatOffer = h.state.offers(for: AgentID(1)).first { $0.task == chat }
        #expect(chatOffer?.history == [email, call])
    }

    // MARK: Hours

    @Test func afterHoursSchedulesACallbackAtOpeningOrOverflowsToTheNurseLine() {
        var h = Harness(start: Harness.midnight + 20 * 3_600_000) // 20:00 UTC
        h.site(1)
        h.queue(QueueConfig(id: QueueID(1), name: "day", hours: OpenHours(openMinute: 8 * 60, closeMinute: 18 * 60)))
        h.queue(QueueConfig(id: QueueID(9), name: "nurse line", audience: .nurses))
        h.queue(QueueConfig(id: QueueID(2), name: "day-nurse", hours: OpenHours(openMinute: 8 * 60, closeMinute: 18 * 60),
                            afterHours: .overflow(QueueID(9))))
        let call = h.enqueue(queue: 1)
        #expect(h.task(call).state == .callbackScheduled)
        #expect(h.task(call).channel == .callback)
        #expect(h.task(call).callbackDueAt == Harness.midnight + 32 * 3_600_000, "08:00 the next day")
        let emergency = h.enqueue(queue: 1, type: .emergency)
        #expect(h.task(emergency).state == .queued, "emergencies ignore hours")
        let redirected = h.enqueue(queue: 2)
        #expect(h.task(redirected).queue == QueueID(9))
    }

    // MARK: Site loss and return

    @Test func siteDownTurnsVoiceIntoCallbacksAndRequeuesChats() {
        var h = Harness.basic()
        h.agent(11, site: 1, chat: 1)
        h.agent(21, site: 2, voice: 1, chat: 0)
        let queuedVoice = h.enqueue(channel: .voice, priority: 3, site: 1, after: 1)  // → agent 11 (own site)
        let remoteVoice = h.enqueue(channel: .voice, site: 1, after: 1)               // → agent 21 (site 2)
        let chat = h.enqueue(channel: .chat, site: 2, after: 1)                       // → agent 11 (chat slot)
        let waiting = h.enqueue(channel: .voice, site: 1, after: 1)                   // queued
        let newer = h.enqueue(channel: .voice, site: 2, after: 1)                     // queued, site 2
        #expect(h.holder(queuedVoice) == AgentID(11))
        #expect(h.holder(remoteVoice) == AgentID(21))
        #expect(h.holder(chat) == AgentID(11))
        h.must(.accept(remoteVoice, AgentID(21), token: h.token(remoteVoice)))
        let placeBefore = h.task(waiting).enqueuedAt

        let result = h.must(.siteDown(SiteID(1)), after: 1_000)
        #expect(h.state.agent(AgentID(11))?.status == .offline)
        for id in [queuedVoice, remoteVoice, waiting] {
            #expect(h.task(id).channel == .callback, "\(id) becomes a callback")
            #expect(h.task(id).failedOver)
        }
        #expect(h.task(queuedVoice).priority == 3)
        #expect(h.task(waiting).enqueuedAt == placeBefore, "keeps its original enqueue time")
        #expect(h.task(chat).channel == .chat && h.task(chat).state == .queued, "the chat re-queues as it was")
        #expect(h.task(newer).channel == .voice)
        // Agent 21 (freed) calls back the dropped callers first: by priority, then original time.
        #expect(h.holder(queuedVoice) == AgentID(21))
        #expect(h.task(newer).state == .queued)
        let drops = result.events.filter { if case .failoverDrop = $0 { return true } else { return false } }
        #expect(drops.count == 3)
        let kpi = h.state.kpis(queue: QueueID(1))!
        #expect(kpi.total.failoverDrops == 3)
        #expect(kpi.total.abandoned + kpi.total.shortAbandoned == 0, "failover drops are not abandons")
    }

    @Test func siteUpLetsTheSiteBackIn() {
        var h = Harness.basic()
        h.agent(11, site: 1)
        h.must(.siteDown(SiteID(1)))
        #expect(h.run(.siteDown(SiteID(1))).rejection?.code == .illegalTransition)
        #expect(h.run(.enqueue(NewTask(queue: QueueID(1), channel: .voice, patient: PatientID(1), site: SiteID(1)))).rejection?.code == .siteDown)
        #expect(h.run(.setPresence(AgentID(11), .available)).rejection?.code == .siteDown)
        let elsewhere = h.enqueue(site: 2)
        h.must(.siteUp(SiteID(1)), after: 1)
        #expect(h.state.isSiteUp(SiteID(1)) == true)
        #expect(h.state.agent(AgentID(11))?.status == .offline, "agents log back in themselves")
        h.must(.setPresence(AgentID(11), .available))
        #expect(h.holder(elsewhere) == AgentID(11))
        _ = h.enqueue(site: 1)
    }

    @Test func timeBeyondTheLimitIsRejectedNotATrap() {
        var h = Harness.basic()
        h.agent(1)
        let task = h.enqueue()
        var state = h.state
        let before = state.stateHash
        #expect(state.apply(CommandEnvelope(at: UInt64.max, .tick)).rejection?.code == .invalidConfig)
        #expect(state.apply(CommandEnvelope(at: h.clock, .requestCallback(task, dueAt: UInt64.max))).rejection?.code == .invalidConfig)
        #expect(state.stateHash == before)
        let late = state.apply(CommandEnvelope(at: h.clock - 50_000, .abandon(task)))
        #expect(late.isApplied, "an earlier stamp is applied at the state's own time")
        #expect(state.now == h.clock)
    }

    @Test func abandonFreesTheReservation() {
        var h = Harness.basic()
        h.agent(1)
        let task = h.enqueue()
        h.must(.abandon(task), after: 10_000)
        #expect(h.state.agent(AgentID(1))?.load == [0, 0, 0, 0])
        #expect(h.task(task).state == .abandoned)
        #expect(h.state.kpis(queue: QueueID(1))?.total.abandoned == 1)
    }
}
