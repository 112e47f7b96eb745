/// Composes a random fault schedule for `lifeline drill --random --seed S --duration D`.
///
/// Deterministic: the same seed, duration and sites give the same steps (the seed is in
/// the report, so a failing random drill replays exactly). One fault at a time, each
/// followed by its own recovery step and a quiet period, so that every fault has a
/// measurable RTO; never more than a minority of sites down or cut off; a warm-up at
/// the start and a settle period at the end so the final state can converge.
public struct NemesisGenerator: Sendable {
    // MARK: - Limits

    public static let warmupSeconds = 10.0
    public static let settleSeconds = 15.0
    public static let faultSecondsMin = 5.0
    public static let faultSecondsMax = 20.0
    public static let quietSecondsMin = 5.0
    public static let quietSecondsMax = 15.0

    public let seed: UInt64
    public let durationSeconds: Double
    public let sites: [SiteName]

    public init(seed: UInt64, durationSeconds: Double, sites: [SiteName]) {
        precondition(sites.count >= 3, "a nemesis needs at least 3 sites, got \(sites.count)")
        self.seed = seed
        self.durationSeconds = durationSeconds
        self.sites = sites
    }

    enum Kind: CaseIterable {
        case killSite, killLeader, pauseSite, isolateSite, isolateLeader, partitionMinority, asymmetric
        case latencySpike, loss, transferLeader, restartSite, slowDisk
    }

    /// The schedule: pairs of fault and recovery steps, in time order.
    public func steps() -> [ScenarioStep] {
        var random = SeededGenerator(seed: seed)
        var steps: [ScenarioStep] = []
        var now = Self.warmupSeconds
        let end = durationSeconds - Self.settleSeconds
        while true {
            let length = uniform(&random, Self.faultSecondsMin, Self.faultSecondsMax)
            guard now + length < end else { break }
            let kind = Kind.allCases[Int(random.next() % UInt64(Kind.allCases.count))]
            let (fault, recovery) = pair(kind, &random)
            steps.append(ScenarioStep(at: rounded(now), fault))
            if let recovery { steps.append(ScenarioStep(at: rounded(now + length), recovery)) }
            now += length + uniform(&random, Self.quietSecondsMin, Self.quietSecondsMax)
        }
        return steps
    }

    /// A whole scenario around the schedule, for the report and for validation.
    public func scenario(latency: LatencyPlan, workload: WorkloadPlan, targets: RecoveryTargets) -> Scenario {
        Scenario(
            name: "random-\(seed)",
            description: "Random nemesis, seed \(seed), \(Int(durationSeconds)) s over \(sites.count) sites.",
            sites: sites, latency: latency, workload: workload, steps: steps(), targets: targets,
            durationSeconds: durationSeconds
        )
    }

    // MARK: - Choices

    private func pair(_ kind: Kind, _ random: inout SeededGenerator) -> (FaultAction, FaultAction?) {
        let site = SiteRef.site(pick(sites, &random))
        switch kind {
        case .killSite: return (.kill(site), .restart(.down))
        case .killLeader: return (.kill(.leader), .restart(.down))
        case .pauseSite: return (.pause(site), .resume(.paused))
        case .isolateSite: return (.isolate(site), .heal)
        case .isolateLeader: return (.isolate(.leader), .heal)
        case .partitionMinority:
            var shuffled = sites
            shuffled.shuffle(using: &random)
            let minority = Array(shuffled.prefix((sites.count - 1) / 2)).sorted()
            let majority = Array(shuffled.dropFirst(minority.count)).sorted()
            return (.partition(groups: [minority, majority]), .heal)
        case .asymmetric:
            let from = pick(sites, &random)
            let to = pick(sites.filter { $0 != from }, &random)
            return (.asymmetric(from: .site(from), to: .site(to)), .heal)
        case .latencySpike:
            let ms = UInt32(uniform(&random, 100, 500))
            return (.latency(ms: ms, jitterMs: ms / 5, links: nil), .heal)
        case .loss:
            let probability = (uniform(&random, 0.01, 0.2) * 100).rounded() / 100
            return (.loss(probability: probability, links: nil), .heal)
        case .transferLeader: return (.transferLeader(to: nil), nil)
        case .restartSite: return (.restart(site), nil)
        case .slowDisk:
            return (.slowDisk(site, fsyncDelayMs: UInt32(uniform(&random, 50, 400))), .slowDisk(site, fsyncDelayMs: 0))
        }
    }

    private func pick(_ from: [SiteName], _ random: inout SeededGenerator) -> SiteName {
        from[Int(random.next() % UInt64(from.count))]
    }

    private func uniform(_ random: inout SeededGenerator, _ low: Double, _ high: Double) -> Double {
        low + random.nextUnit() * (high - low)
    }

    /// Tenths of a second: schedules read well in the report and replay identically.
    private func rounded(_ seconds: Double) -> Double { (seconds * 10).rounded() / 10 }
}
