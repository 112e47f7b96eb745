#if canImport(Glibc)
import Glibc
#endif
import Transport

/// The monotonic clock, read only by the harness's shell parts (proxy, runner).
/// Checkers and generators never read it: they take times as values.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary origin (CLOCK_MONOTONIC).
    public static func nowNs() -> UInt64 {
        var spec = timespec()
        let result = clock_gettime(CLOCK_MONOTONIC, &spec)
        precondition(result == 0, "clock_gettime(CLOCK_MONOTONIC) failed: errno \(errno)")
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    /// The transport's deadline type, `milliseconds` from now.
    public static func deadline(afterMs milliseconds: UInt64) -> Deadline {
        Deadline(uptimeNs: nowNs() &+ milliseconds &* 1_000_000)
    }

    /// Sleeps a short bounded while; used only between polls of a condition with a deadline.
    static func pause(ms milliseconds: UInt32) {
        precondition(milliseconds <= 1_000, "pause is for short poll intervals, got \(milliseconds) ms")
        usleep(milliseconds * 1_000)
    }
}
