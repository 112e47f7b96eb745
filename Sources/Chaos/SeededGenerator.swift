/// A small deterministic generator (SplitMix64). Every random choice the harness makes
/// (jitter, chunk loss, nemesis schedules, workload) draws from one of these, seeded
/// from the drill's seed, so a drill replays exactly from its seed.
///
/// Not thread-safe: each owner (a proxied connection, a generator run) has its own.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// A uniform double in [0, 1).
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * (1.0 / Double(UInt64(1) << 53))
    }

    /// Derives an independent seed for a sub-owner (one per proxy, per connection).
    public static func derive(_ seed: UInt64, _ salt: UInt64) -> UInt64 {
        var generator = SeededGenerator(seed: seed ^ (salt &* 0xD6E8_FEB8_6659_FD93))
        return generator.next()
    }
}
