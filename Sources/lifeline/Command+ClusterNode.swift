#if canImport(Glibc)
import Glibc
#endif
import Node

/// `lifeline cluster kill|start NODE`: one node of a local cluster, by the PID
/// recorded in cluster.json (never a process that is not that node's `serve`).
extension LocalCluster {
    static let signals: [(name: String, number: Int32)] = [("KILL", SIGKILL), ("TERM", SIGTERM), ("STOP", SIGSTOP), ("CONT", SIGCONT), ("HUP", SIGHUP)]

    static func signal(named name: String) throws -> Int32 {
        let wanted = name.uppercased().hasPrefix("SIG") ? String(name.uppercased().dropFirst(3)) : name.uppercased()
        guard let match = signals.first(where: { $0.name == wanted }) else {
            throw UsageError("unknown signal '\(name)': want \(signals.map(\.name).joined(separator: ", "))")
        }
        return match.number
    }

    static func entry(_ node: String, in file: ClusterFile, directory: String) throws -> (Int, ClusterFile.NodeEntry) {
        guard let index = file.nodes.firstIndex(where: { $0.node == node }) else {
            throw CommandFailure("no node '\(node)' in \(ClusterFile.path(in: directory)); it has \(file.nodes.map(\.node).joined(separator: ", "))")
        }
        return (index, file.nodes[index])
    }

    static func signal(node: String, signal: Int32, directory: String) throws -> Int32 {
        let file = try ClusterFile.read(from: directory)
        let (_, entry) = try entry(node, in: file, directory: directory)
        let marks = ["serve", entry.config]
        guard ProcessControl.isRunning(entry.pid, commandContains: marks) else {
            throw CommandFailure("\(node) is not running (pid \(entry.pid)); start it with 'lifeline cluster start \(node) --dir \(directory)'")
        }
        guard kill(entry.pid, signal) == 0 else {
            throw CommandFailure("cannot signal \(node) (pid \(entry.pid)): \(String(cString: strerror(errno)))")
        }
        let name = signals.first { $0.number == signal }?.name ?? "\(signal)"
        print("\(node): sent SIG\(name) to pid \(entry.pid)")
        if signal == SIGKILL || signal == SIGTERM {
            let deadline = MonotonicClock.deadline(afterMs: stopGraceMs)
            while ProcessControl.isRunning(entry.pid, commandContains: marks) && MonotonicClock.now() < deadline {
                ProcessControl.pause(ms: 20)
            }
            print(ProcessControl.isRunning(entry.pid, commandContains: marks) ? "\(node): still running" : "\(node): exited")
        }
        return ExitCode.ok
    }

    static func start(node: String, directory: String) throws -> Int32 {
        var file = try ClusterFile.read(from: directory)
        let (index, entry) = try entry(node, in: file, directory: directory)
        if ProcessControl.isRunning(entry.pid, commandContains: ["serve", entry.config]) {
            throw CommandFailure("\(node) is already running (pid \(entry.pid))")
        }
        let pid = try ProcessControl.spawnDetached(
            executable: ProcessControl.currentExecutable(), arguments: ["serve", "--config", entry.config],
            logFile: directory + "/\(node).log"
        )
        file.nodes[index].pid = pid
        try file.write(to: directory)
        print("\(node): started, pid \(pid), log \(directory)/\(node).log")
        return ExitCode.ok
    }
}
