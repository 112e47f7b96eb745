#if canImport(Glibc)
import Glibc
#endif
import Transport

/// The monotonic clock (CLOCK_MONOTONIC): never jumps with NTP or an operator's
/// `date`, so ticks, timeouts and deadlines are measured with it. Only the shell
/// reads it; the Raft core counts ticks.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary origin (boot).
    public static func nowNs() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    public static func now() -> Deadline { Deadline(uptimeNs: nowNs()) }

    /// A deadline `ms` milliseconds from now.
    public static func deadline(afterMs ms: UInt64) -> Deadline {
        Deadline(uptimeNs: nowNs() + ms * 1_000_000)
    }

    /// Milliseconds left until `deadline` (0 when passed).
    public static func msUntil(_ deadline: Deadline) -> UInt64 {
        let now = nowNs()
        return deadline.uptimeNs > now ? (deadline.uptimeNs - now) / 1_000_000 : 0
    }
}
