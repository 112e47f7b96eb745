#if canImport(Glibc)
import Glibc
#endif

let version = "0.1.0"

/// Every subcommand, in the order `--help` lists them.
let commands: [Command] = [
    demoCommand,
    serveCommand,
    clusterCommand,
    statusCommand,
    membersCommand,
    transferLeaderCommand,
    drainCommand,
    queuesCommand,
    agentsCommand,
    tasksCommand,
    patientsCommand,
    backupCommand,
    restoreCommand,
    simulateCommand,
    certsCommand,
    benchCommand,
    keysCommand,
    tokenCommand,
    auditCommand,
    drillCommand,
]

func topLevelHelp() -> String {
    let width = commands.map(\.name.count).max() ?? 0
    let rows = commands.map { command in
        "  " + command.name + String(repeating: " ", count: width - command.name.count + 2) + command.summary
    }
    return """
        lifeline \(version): a contact-center cluster for healthcare call centers.

        Usage: lifeline COMMAND [OPTIONS]
               lifeline COMMAND --help

        Commands:
        \(rows.joined(separator: "\n"))

        Options:
          --help      show this help
          --version   print the version

        Exit codes: 0 ok, 1 failed, 2 usage error.
        """
}

func runMain(_ arguments: [String]) -> Int32 {
    guard let first = arguments.first else {
        print(topLevelHelp())
        return ExitCode.usage
    }
    switch first {
    case "--help", "-h", "help":
        print(topLevelHelp())
        return ExitCode.ok
    case "--version":
        print("lifeline \(version)")
        return ExitCode.ok
    default:
        break
    }
    guard let command = commands.first(where: { $0.name == first }) else {
        printError("lifeline: unknown command '\(first)'. Run 'lifeline --help' for the list.")
        return ExitCode.usage
    }
    let rest = Array(arguments.dropFirst())
    // `lifeline bench NAME --help` is answered by the benchmark itself.
    let benchmarkHelp = command.name == "bench" && rest.first.map { !$0.hasPrefix("-") } == true
    if (rest.contains("--help") || rest.contains("-h")) && !benchmarkHelp {
        print(command.help)
        return ExitCode.ok
    }
    do {
        return try command.run(rest)
    } catch let error as UsageError {
        printError("lifeline \(command.name): \(error.description)\nRun 'lifeline \(command.name) --help' for usage.")
        return ExitCode.usage
    } catch {
        printError("lifeline \(command.name): \(error)")
        return ExitCode.failed
    }
}

exit(runMain(Array(CommandLine.arguments.dropFirst())))
