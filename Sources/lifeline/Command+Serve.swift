import Node

let serveCommand = Command(
    name: "serve",
    summary: "run one node (peer links, Raft, HTTPS API)",
    help: """
        Usage: lifeline serve --config FILE

        Runs one Lifeline node: validates FILE (all problems reported at once),
        opens the data directory, connects to the peers over mutual TLS 1.3 and
        serves the API. Logs are JSON lines on stderr.

        SIGTERM or SIGINT: a leader hands leadership to the most caught-up voter
        (bounded by 2 × electionMs), then the node flushes and exits 0.

        Options:
          --config FILE   the node's configuration (see Config/README.md)

        Example:
          lifeline serve --config /etc/lifeline/node.json

        Exit codes: 0 stopped cleanly, 1 failed (bad config, disk, port in use), 2 usage.
        """,
    run: { arguments in
        let options = try OptionParser(arguments, valued: ["config"])
        guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])'") }
        guard let path = options.value("config") else { throw UsageError("--config FILE is required") }
        let config: NodeConfig
        do {
            config = try NodeConfig.load(path: path)
        } catch {
            printError("\(error)")
            return ExitCode.failed
        }
        return NodeServer.run(config: config, log: Log(node: config.node.rawValue))
    }
)
