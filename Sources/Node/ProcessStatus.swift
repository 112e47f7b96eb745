#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Memory figures of a process from Linux's `/proc/PID/status`, for the
/// benchmarks (`lifeline bench compare` records each node's peak RSS).
public enum ProcessStatus {
    /// Bytes of `/proc/PID/status` read at most (the file is about 1.5 KiB).
    static let statusBytesMax = 64 * 1024

    /// The value of a `Name:   1234 kB` line, in KiB: `VmHWM` is the peak resident
    /// set size, `VmRSS` the current one. Nil when the field is absent, its unit
    /// is not kB, or the number does not parse: a caller reports "unknown",
    /// never a wrong figure.
    public static func kibibytes(_ field: String, in statusText: String) -> Int? {
        let prefix = field + ":"
        for line in statusText.split(separator: "\n", omittingEmptySubsequences: true) where line.hasPrefix(prefix) {
            let words = line.dropFirst(prefix.count).split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count == 2, words[1] == "kB", let value = Int(words[0]), value >= 0 else { return nil }
            return value
        }
        return nil
    }

    /// `kibibytes(field, in:)` of the running process `pid`; nil when it is gone.
    public static func kibibytes(_ field: String, pid: pid_t) -> Int? {
        guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/status") else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: statusBytesMax) else { return nil }
        return kibibytes(field, in: String(decoding: data, as: UTF8.self))
    }
}
