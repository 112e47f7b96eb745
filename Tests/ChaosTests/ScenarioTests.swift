import Foundation
import Testing
@testable import Chaos

struct ScenarioTests {
    static let chaosDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Chaos")

    static let expectedNames = [
        "site-loss", "leader-loss", "hung-site", "partition-minority", "partition-leader", "wan-latency",
        "rolling-restart", "slow-disk", "planned-failover", "quarterly",
    ]

    @Test(arguments: expectedNames)
    func scenarioFileLoadsAndValidates(name: String) throws {
        let scenario = try Scenario.load(contentsOf: Self.chaosDirectory.appendingPathComponent(name + ".json"))
        #expect(scenario.name == name)
        #expect(!scenario.steps.isEmpty)
        #expect(scenario.targets.rpoEntries == 0)
        // Every step happens while the drill runs, and the last fault is followed by time to recover.
        let lastAt = scenario.steps.map(\.at).max() ?? 0
        #expect(lastAt + 20 <= scenario.durationSeconds, "\(name): last step at \(lastAt)")
    }

    @Test func theChaosFolderHoldsExactlyTheTenScenarios() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.chaosDirectory.path)
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
        #expect(Set(files) == Set(Self.expectedNames))
    }

    @Test func stepsRoundTripThroughJSON() throws {
        let scenario = try Scenario.load(contentsOf: Self.chaosDirectory.appendingPathComponent("quarterly.json"))
        let encoded = try JSONEncoder().encode(scenario)
        #expect(try Scenario.decode(encoded) == scenario)
    }

    // MARK: - Strictness

    static let minimal = """
        {"name": "t", "description": "d", "sites": ["a", "b", "c"],
         "latency": {"defaultMs": 10},
         "workload": {"enqueuePerSecond": 5, "readsPerSecond": 1, "agentsPerSite": 2, "queues": ["q"], "handleMs": 100},
         "steps": [STEPS], "targets": {"rtoSeconds": 10, "rpoEntries": 0}, "durationSeconds": 60}
        """

    func decode(steps: String, patch: (String) -> String = { $0 }) -> Result<Scenario, ScenarioError> {
        let text = patch(Self.minimal.replacingOccurrences(of: "STEPS", with: steps))
        do throws(ScenarioError) {
            return .success(try Scenario.decode(Data(text.utf8)))
        } catch {
            return .failure(error)
        }
    }

    func error(steps: String, patch: (String) -> String = { $0 }) -> ScenarioError? {
        if case .failure(let error) = decode(steps: steps, patch: patch) { return error }
        return nil
    }

    @Test func minimalScenarioIsValid() {
        #expect(error(steps: #"{"at": 5, "action": "kill", "site": "a"}"#) == nil)
    }

    @Test func unknownTopLevelKeyIsRejectedWithItsPath() {
        let found = error(steps: "") { $0.replacingOccurrences(of: #""durationSeconds""#, with: #""durationSecs": 1, "durationSeconds""#) }
        #expect(found?.path == "durationSecs")
        #expect(found?.message.contains("unknown key") == true)
    }

    @Test func unknownKeyInsideAStepIsRejectedWithItsPath() {
        let found = error(steps: #"{"at": 5, "action": "kill", "site": "a"}, {"at": 6, "action": "slow-disk", "site": "a", "fsyncDelayMS": 5}"#)
        #expect(found?.path == "steps[1].fsyncDelayMS")
    }

    @Test func keyOfAnotherActionIsRejected() {
        let found = error(steps: #"{"at": 5, "action": "kill", "site": "a", "groups": [["a"]]}"#)
        #expect(found?.path == "steps[0].groups")
    }

    @Test func unknownKeyInNestedObjectsIsRejected() {
        let found = error(steps: "") { $0.replacingOccurrences(of: #""defaultMs": 10"#, with: #""defaultMs": 10, "jiter": 1"#) }
        #expect(found?.path == "latency.jiter")
    }

    @Test func unknownActionIsRejected() {
        #expect(error(steps: #"{"at": 5, "action": "explode", "site": "a"}"#)?.path == "steps[0].action")
    }

    @Test func unknownSiteIsRejected() {
        let found = error(steps: #"{"at": 5, "action": "isolate", "site": "zurich"}"#)
        #expect(found?.path == "steps[0].site")
        #expect(found?.message.contains("zurich") == true)
    }

    @Test func stepAfterTheEndIsRejected() {
        #expect(error(steps: #"{"at": 60, "action": "heal"}"#)?.path == "steps[0].at")
    }

    @Test func stepsOutOfOrderAreRejected() {
        #expect(error(steps: #"{"at": 9, "action": "heal"}, {"at": 3, "action": "heal"}"#)?.path == "steps[1].at")
    }

    @Test func partitionMustCoverEverySiteOnce() {
        #expect(error(steps: #"{"at": 5, "action": "partition", "groups": [["a"], ["b"]]}"#)?.path == "steps[0].groups")
        #expect(error(steps: #"{"at": 5, "action": "partition", "groups": [["a", "b"], ["b", "c"]]}"#)?.path == "steps[0].groups")
        #expect(error(steps: #"{"at": 5, "action": "partition", "groups": [["a"], ["b", "c"]]}"#) == nil)
    }

    @Test func processStateIsSimulated() {
        #expect(error(steps: #"{"at": 5, "action": "resume", "site": "a"}"#)?.message.contains("not paused") == true)
        #expect(error(steps: #"{"at": 5, "action": "kill", "site": "a"}, {"at": 6, "action": "kill", "site": "a"}"#) != nil)
        #expect(error(steps: #"{"at": 5, "action": "kill", "site": "a"}, {"at": 6, "action": "restart", "site": "@down"}, {"at": 7, "action": "kill", "site": "a"}"#) == nil)
    }

    @Test func rolesAreCheckedPerAction() {
        #expect(error(steps: #"{"at": 5, "action": "kill", "site": "@down"}"#)?.path == "steps[0].site")
        #expect(error(steps: #"{"at": 5, "action": "kill", "site": "@boss"}"#)?.path == "steps[0].site")
        #expect(error(steps: #"{"at": 5, "action": "kill", "site": "@leader"}"#) == nil)
    }

    @Test func siteCountMustBeThreeOrFive() {
        let found = error(steps: "") { $0.replacingOccurrences(of: #"["a", "b", "c"]"#, with: #"["a", "b", "c", "d"]"#) }
        #expect(found?.path == "sites")
    }

    @Test func nameMustMatchTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chaos-scenario-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("other.json")
        try Data(Self.minimal.replacingOccurrences(of: "STEPS", with: "").utf8).write(to: url)
        #expect(throws: ScenarioError.self) { try Scenario.load(contentsOf: url) }
    }
}

struct NemesisGeneratorTests {
    static let three = ["a", "b", "c"].map(SiteName.init)
    static let five = ["a", "b", "c", "d", "e"].map(SiteName.init)

    @Test func sameSeedGivesTheSameSchedule() {
        let first = NemesisGenerator(seed: 42, durationSeconds: 120, sites: Self.three).steps()
        let second = NemesisGenerator(seed: 42, durationSeconds: 120, sites: Self.three).steps()
        #expect(first == second)
        #expect(!first.isEmpty)
    }

    @Test func differentSeedsGiveDifferentSchedules() {
        let schedules = (1...10).map { NemesisGenerator(seed: UInt64($0), durationSeconds: 120, sites: Self.three).steps() }
        #expect(Set(schedules.map { "\($0)" }).count > 5)
    }

    @Test(arguments: [Self.three, Self.five])
    func everyGeneratedScheduleIsAValidScenario(sites: [SiteName]) throws {
        let workload = WorkloadPlan(
            enqueuePerSecond: 10, readsPerSecond: 5, agentsPerSite: 2, agentCapacity: 1, queues: ["q"],
            emergencyFraction: 0.1, handleMs: 1_000, abandonFraction: 0
        )
        for seed in UInt64(1)...300 {
            let scenario = NemesisGenerator(seed: seed, durationSeconds: 120, sites: sites)
                .scenario(latency: LatencyPlan(defaultMs: 10, jitterMs: 1), workload: workload, targets: RecoveryTargets(rtoSeconds: 15))
            #expect(scenario.validate().isEmpty, "seed \(seed): \(scenario.validate())")
            // Faults stop before the settle period so the final state can converge.
            let lastAt = scenario.steps.map(\.at).max() ?? 0
            #expect(lastAt <= 120 - NemesisGenerator.settleSeconds, "seed \(seed)")
            // Round trip through the file format.
            let decoded = try Scenario.decode(try JSONEncoder().encode(scenario))
            #expect(decoded == scenario, "seed \(seed)")
        }
    }

    @Test func minorityPartitionsNeverCutAMajority() {
        for seed in UInt64(1)...300 {
            for step in NemesisGenerator(seed: seed, durationSeconds: 300, sites: Self.five).steps() {
                if case .partition(let groups) = step.action {
                    #expect(groups[0].count == 2 && groups[1].count == 3, "seed \(seed): \(groups)")
                }
            }
        }
    }
}
