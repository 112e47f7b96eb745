import Raft
import Simulation

let simulateCommand = Command(
    name: "simulate",
    summary: "run a seeded whole-cluster Raft simulation (the tests' simulator)",
    help: """
        Usage: lifeline simulate --seed N [--nodes 3|5|7] [--fault-ticks T] [--quiet] [--stress]
                                 [--bug two-votes|count-old-terms]

        Runs a whole Raft cluster in one process, driven by one seed: a network
        that drops, delays, duplicates and reorders messages and makes symmetric
        and asymmetric partitions; crashes that lose what was not yet persisted;
        restarts; proposals, snapshots, leadership transfers, reads and membership
        changes. After every step it checks election safety, log matching, leader
        completeness, state-machine safety and read linearizability; after the
        faults heal, that a leader is elected and a new proposal commits.

        The same seed always gives the same run: a failing seed printed by the
        tests replays exactly with this command.

        Options:
          --seed N          the seed (required)
          --nodes K         founding members: 3, 5 or 7 (default: as the tests pick
                            for this seed)
          --fault-ticks T   ticks with faults before healing (default 220)
          --quiet           print only the summary
          --stress          one entry per message and many more crashes,
                            partitions and drops
          --bug NAME        TEST ONLY: run the core with a deliberately wrong rule,
                            to watch the checkers catch it

        Exit codes: 0 no violation, 1 a violation, 2 usage error.

        Example:
          swift run lifeline simulate --seed 7 --nodes 5
        """,
    run: runSimulate
)

@Sendable func runSimulate(_ arguments: [String]) throws -> Int32 {
    let options = try OptionParser(arguments, valued: ["seed", "nodes", "fault-ticks", "bug"], flags: ["quiet", "stress"])
    guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
    guard options.value("seed") != nil else { throw UsageError("--seed is required") }
    let seed = try options.uint64("seed", default: 0)
    let nodes = try options.int("nodes", default: SimulationConfig.nodeCount(forSeed: seed), range: 3...7)
    guard [3, 5, 7].contains(nodes) else { throw UsageError("--nodes must be 3, 5 or 7, got \(nodes)") }
    var config = SimulationConfig(seed: seed, nodeCount: nodes)
    config.faultTicks = try options.int("fault-ticks", default: config.faultTicks, range: 0...1_000_000)
    if options.has("stress") { config.stressCommitRule() }
    switch options.value("bug") {
    case nil: break
    case "two-votes":
        config.injectedBugs = [.grantTwoVotesPerTerm]
        config.preVote = false
    case "count-old-terms":
        config.injectedBugs = [.commitPreviousTermByCounting]
        config.stressCommitRule()
    case let other?:
        throw UsageError("unknown --bug '\(other)' (two-votes or count-old-terms)")
    }
    let quiet = options.has("quiet")
    var simulator = Simulator(config: config) { line in
        if !quiet { print(line) }
    }
    let summary = simulator.run()
    print(summary.description)
    if summary.violations.isEmpty { return ExitCode.ok }
    print("replay: \(summary.replayCommand)")
    return ExitCode.failed
}
