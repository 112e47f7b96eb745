#if canImport(Glibc)
import Glibc
#endif
import CShims
import Foundation

/// Why a process could not be started or signalled.
public struct ProcessControlError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Starting, checking and stopping `lifeline serve` processes by PID, for
/// `lifeline cluster up/down` and the multi-process tests.
public enum ProcessControl {
    /// The path of the running executable (`/proc/self/exe`).
    public static func currentExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Starts `executable` with `arguments` in its own session (so it outlives the
    /// caller and a terminal's hang-up), stdin from /dev/null, stdout and stderr
    /// appended to `logFile`. Returns its PID.
    public static func spawnDetached(executable: String, arguments: [String], logFile: String) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(posixSpawnSetSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGHUP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        return try spawn(executable, arguments, output: logFile, outputFlags: O_WRONLY | O_CREAT | O_APPEND, attributes: &attributes).get()
    }

    /// posix_spawn with stdin from /dev/null and stdout + stderr to `output`.
    private static func spawn(_ executable: String, _ arguments: [String], output: String, outputFlags: Int32,
                              attributes: UnsafeMutablePointer<posix_spawnattr_t>?) -> Result<pid_t, ProcessControlError> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, outputFlags, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else crosses into the child. An inherited socket outlives its
        // close() in the parent: a drill's fault proxy "reset" a link, but the node
        // it had restarted meanwhile still held the socket open, so the peer never
        // saw the reset and wrote into a dead link for minutes.
        let closing = ll_posix_spawn_file_actions_addclosefrom(&actions, 3)
        guard closing == 0 else {
            return .failure(ProcessControlError("cannot start \(executable): closing inherited descriptors: \(String(cString: strerror(closing)))"))
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, attributes, argv, environ)
        guard status == 0 else {
            return .failure(ProcessControlError("cannot start \(executable): \(String(cString: strerror(status)))"))
        }
        return .success(pid)
    }

    /// Runs `executable` to completion with stdout and stderr captured in a
    /// temporary file (no pipe a grandchild could hold open), waiting at most
    /// `timeoutMs`; a child still running then is killed. Returns its exit status
    /// (128 + signal when a signal ended it, -1 when it could not start) and output.
    public static func run(executable: String, arguments: [String], timeoutMs: UInt64) -> (status: Int32, output: String) {
        let outputFile = NSTemporaryDirectory() + "lifeline-run-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
        defer { unlink(outputFile) }
        let pid: pid_t
        switch spawn(executable, arguments, output: outputFile, outputFlags: O_WRONLY | O_CREAT | O_TRUNC, attributes: nil) {
        case .success(let started): pid = started
        case .failure(let error): return (-1, error.message)
        }
        let deadline = MonotonicClock.deadline(afterMs: timeoutMs)
        var status: Int32 = 0
        var exited = false
        while !exited {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid || (result < 0 && errno != EINTR) {
                exited = true
            } else if MonotonicClock.now() >= deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                exited = true
            } else {
                pause(ms: 10)
            }
        }
        let output = (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as macros.
        let signal = status & 0x7f
        return (signal == 0 ? (status >> 8) & 0xff : 128 + signal, output)
    }

    /// True when `pid` is alive and its command line contains every string of
    /// `marks`: guards against signalling a PID the kernel reused for another program.
    public static func isRunning(_ pid: pid_t, commandContains marks: [String]) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let text = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        if let stat = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
           let fields = String(data: stat, encoding: .utf8)?.split(separator: ")").last?.split(separator: " "),
           fields.first == "Z" {
            return false
        }
        return marks.allSatisfy { text.contains($0) }
    }

    /// Sends SIGTERM, waits up to `graceMs` for exit, then SIGKILL. Returns true
    /// when the process exited on SIGTERM. Only processes matching `marks` are signalled.
    @discardableResult
    public static func stop(_ pid: pid_t, commandContains marks: [String], graceMs: UInt64) -> Bool {
        guard isRunning(pid, commandContains: marks) else { return true }
        kill(pid, SIGTERM)
        let deadline = MonotonicClock.deadline(afterMs: graceMs)
        while MonotonicClock.now() < deadline {
            reap(pid)
            if !isRunning(pid, commandContains: marks) { return true }
            pause(ms: 20)
        }
        if isRunning(pid, commandContains: marks) { kill(pid, SIGKILL) }
        let killDeadline = MonotonicClock.deadline(afterMs: 5_000)
        while isRunning(pid, commandContains: marks) && MonotonicClock.now() < killDeadline {
            reap(pid)
            pause(ms: 20)
        }
        return false
    }

    /// Collects `pid`'s exit status if it is our child (no-op otherwise).
    public static func reap(_ pid: pid_t) {
        var status: Int32 = 0
        _ = waitpid(pid, &status, WNOHANG)
    }

    /// A short pause inside a bounded polling loop.
    public static func pause(ms: UInt64) {
        var request = timespec(tv_sec: Int(ms / 1000), tv_nsec: Int(ms % 1000) * 1_000_000)
        nanosleep(&request, nil)
    }
}

/// glibc's POSIX_SPAWN_SETSID (0x80): Swift does not import it from spawn.h
/// because it is guarded by _GNU_SOURCE.
private let posixSpawnSetSID: Int32 = 0x80
