import Foundation

/// Why a scenario cannot run: where (a key path such as `steps[3].site`) and what.
public struct ScenarioError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var path: String
    public var message: String

    public init(file: String = "", path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    public var description: String {
        (file.isEmpty ? "" : file + ": ") + path + ": " + message
    }
}

extension Scenario {
    // MARK: - Loading

    /// Decodes and validates a scenario. Throws the first `ScenarioError` found.
    public static func decode(_ data: Data, file: String = "") throws(ScenarioError) -> Scenario {
        guard data.count <= scenarioBytesMax else {
            throw ScenarioError(file: file, path: "(file)", message: "larger than \(scenarioBytesMax) bytes")
        }
        let scenario: Scenario
        do {
            scenario = try JSONDecoder().decode(Scenario.self, from: data)
        } catch let error as DecodingError {
            let described = describe(error)
            throw ScenarioError(file: file, path: described.path, message: described.message)
        } catch {
            throw ScenarioError(file: file, path: "(file)", message: "not JSON: \(error)")
        }
        if let problem = scenario.validate().first {
            throw ScenarioError(file: file, path: problem.path, message: problem.message)
        }
        return scenario
    }

    /// Reads, decodes and validates `Chaos/NAME.json`; the scenario's name must match the file.
    public static func load(contentsOf url: URL) throws(ScenarioError) -> Scenario {
        let file = url.lastPathComponent
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ScenarioError(file: file, path: "(file)", message: "cannot read: \(error.localizedDescription)")
        }
        let scenario = try decode(data, file: file)
        let expected = url.deletingPathExtension().lastPathComponent
        guard scenario.name == expected else {
            throw ScenarioError(file: file, path: "name", message: "'\(scenario.name)' must match the file name '\(expected)'")
        }
        return scenario
    }

    // MARK: - Validation

    /// Every problem found, in file order; empty when the scenario can run.
    public func validate() -> [ScenarioError] {
        var problems: [ScenarioError] = []
        func problem(_ path: String, _ message: String) { problems.append(ScenarioError(path: path, message: message)) }

        if name.isEmpty || !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) {
            problem("name", "'\(name)' must be non-empty letters, digits and '-'")
        }
        if !Self.siteCounts.contains(sites.count) { problem("sites", "\(sites.count) sites; a drill runs 3 or 5") }
        if Set(sites).count != sites.count { problem("sites", "site names repeat") }
        for (index, site) in sites.enumerated() where site.rawValue.isEmpty || site.rawValue.hasPrefix("@") {
            problem("sites[\(index)]", "'\(site)' is not a site name (empty, or starts with '@')")
        }
        if !(durationSeconds > 0 && durationSeconds <= Self.durationSecondsMax) {
            problem("durationSeconds", "\(durationSeconds) must be in (0, \(Self.durationSecondsMax)]")
        }
        validateLatency(&problems)
        validateWorkload(&problems)
        if !(targets.rtoSeconds > 0) { problem("targets.rtoSeconds", "must be positive") }
        if let write = targets.writeRtoSeconds, !(write > 0) { problem("targets.writeRtoSeconds", "must be positive") }
        if steps.count > Self.stepsMax { problem("steps", "\(steps.count) steps; at most \(Self.stepsMax)") }
        validateSteps(&problems)
        return problems
    }

    private func validateLatency(_ problems: inout [ScenarioError]) {
        if latency.defaultMs > FaultSettings.latencyMsMax {
            problems.append(ScenarioError(path: "latency.defaultMs", message: "exceeds \(FaultSettings.latencyMsMax)"))
        }
        if latency.jitterMs > FaultSettings.jitterMsMax {
            problems.append(ScenarioError(path: "latency.jitterMs", message: "exceeds \(FaultSettings.jitterMsMax)"))
        }
        for (index, pair) in latency.pairs.enumerated() {
            let path = "latency.pairs[\(index)]"
            if pair.sites.count != 2 || pair.sites[0] == pair.sites[1] {
                problems.append(ScenarioError(path: path + ".sites", message: "must name two different sites"))
            }
            for site in pair.sites where !sites.contains(site) {
                problems.append(ScenarioError(path: path + ".sites", message: "unknown site '\(site)'"))
            }
            if pair.ms > FaultSettings.latencyMsMax {
                problems.append(ScenarioError(path: path + ".ms", message: "exceeds \(FaultSettings.latencyMsMax)"))
            }
        }
    }

    private func validateWorkload(_ problems: inout [ScenarioError]) {
        func check(_ ok: Bool, _ key: String, _ message: String) {
            if !ok { problems.append(ScenarioError(path: "workload." + key, message: message)) }
        }
        let rates = 0...WorkloadPlan.ratePerSecondMax
        check(rates.contains(workload.enqueuePerSecond), "enqueuePerSecond", "must be in [0, \(WorkloadPlan.ratePerSecondMax)]")
        check(rates.contains(workload.readsPerSecond), "readsPerSecond", "must be in [0, \(WorkloadPlan.ratePerSecondMax)]")
        check((1...100).contains(workload.agentsPerSite), "agentsPerSite", "must be in [1, 100]")
        check((1...10).contains(workload.agentCapacity), "agentCapacity", "must be in [1, 10]")
        check(!workload.queues.isEmpty && workload.queues.allSatisfy { !$0.isEmpty }, "queues", "must list non-empty names")
        check((0...1).contains(workload.emergencyFraction), "emergencyFraction", "must be in [0, 1]")
        check((0...1).contains(workload.abandonFraction), "abandonFraction", "must be in [0, 1]")
        check(workload.handleMs <= 600_000, "handleMs", "must be at most 600000")
    }

    /// References, times and a simulation of each site's process state, so that a
    /// scenario never resumes a site that is not paused or kills one that is down.
    private func validateSteps(_ problems: inout [ScenarioError]) {
        enum Process { case running, killed, paused }
        var process = Dictionary(uniqueKeysWithValues: sites.map { ($0, Process.running) })
        var previousAt = 0.0
        for (index, step) in steps.enumerated() {
            let path = "steps[\(index)]"
            func problem(_ key: String, _ message: String) {
                problems.append(ScenarioError(path: key.isEmpty ? path : path + "." + key, message: message))
            }
            if !(step.at >= 0 && step.at < durationSeconds) {
                problem("at", "\(step.at) is outside [0, durationSeconds \(durationSeconds))")
            }
            if step.at < previousAt { problem("at", "\(step.at) is before the previous step's \(previousAt)") }
            previousAt = max(previousAt, step.at)

            func known(_ ref: SiteRef?, _ key: String, roles: Set<SiteRef> = [.leader, .follower]) {
                guard let ref else { return }
                if let name = ref.siteName {
                    if !sites.contains(name) { problem(key, "unknown site '\(name)'") }
                } else if !roles.contains(ref) {
                    problem(key, "\(ref) is not allowed here")
                }
            }
            func knownLinks(_ links: [SitePair]?) {
                for (linkIndex, link) in (links ?? []).enumerated() {
                    for site in [link.from, link.to] where !sites.contains(site) {
                        problem("links[\(linkIndex)]", "unknown site '\(site)'")
                    }
                    if link.from == link.to { problem("links[\(linkIndex)]", "a link joins two different sites") }
                }
            }

            switch step.action {
            case .kill(let ref):
                known(ref, "site")
                if let name = ref.siteName {
                    if process[name] == .killed { problem("site", "'\(name)' is already killed") }
                    process[name] = .killed
                }
            case .pause(let ref):
                known(ref, "site")
                if let name = ref.siteName {
                    if process[name] != .running { problem("site", "'\(name)' is not running") }
                    process[name] = .paused
                }
            case .resume(let ref):
                known(ref, "site", roles: [.paused])
                if let name = ref.siteName {
                    if process[name] != .paused { problem("site", "'\(name)' is not paused") }
                    process[name] = .running
                }
                if ref == .paused { for (site, state) in process where state == .paused { process[site] = .running } }
            case .restart(let ref):
                known(ref, "site", roles: [.leader, .follower, .down])
                if let name = ref.siteName { process[name] = .running }
                if ref == .down { for (site, state) in process where state == .killed { process[site] = .running } }
            case .isolate(let ref), .drain(let ref):
                known(ref, "site")
            case .reset(let ref):
                known(ref, "site")
            case .slowDisk(let ref, let fsyncDelayMs):
                known(ref, "site")
                if fsyncDelayMs > 60_000 { problem("fsyncDelayMs", "must be at most 60000") }
            case .transferLeader(let ref):
                known(ref, "to", roles: [.follower])
            case .asymmetric(let from, let to):
                known(from, "from")
                known(to, "to")
                if from == to { problem("to", "must differ from 'from'") }
            case .partition(let groups):
                let named = groups.flatMap { $0 }
                for site in named where !sites.contains(site) { problem("groups", "unknown site '\(site)'") }
                if Set(named).count != named.count { problem("groups", "a site is in two groups") }
                if Set(named) != Set(sites) { problem("groups", "groups must cover every site exactly once") }
                if groups.count < 2 || groups.contains(where: \.isEmpty) { problem("groups", "need two or more non-empty groups") }
            case .latency(let ms, let jitterMs, let links):
                if ms > FaultSettings.latencyMsMax { problem("ms", "exceeds \(FaultSettings.latencyMsMax)") }
                if jitterMs > FaultSettings.jitterMsMax { problem("jitterMs", "exceeds \(FaultSettings.jitterMsMax)") }
                knownLinks(links)
            case .loss(let probability, let links):
                if !(0...1).contains(probability) { problem("probability", "must be in [0, 1]") }
                knownLinks(links)
            case .bandwidth(let bytesPerSecond, let links):
                if bytesPerSecond == 0 { problem("bytesPerSecond", "must be positive (heal removes the cap)") }
                knownLinks(links)
            case .heal:
                break
            }
        }
    }
}
