/// Per-second series of the drill, computed from the history, for the chart and the KPIs.
public struct TimelineBucket: Codable, Equatable, Sendable {
    /// Seconds since the drill started (the bucket is [second, second + 1)).
    public var second: Int
    /// Operations that completed ok in this second.
    public var ok: Int
    /// Operations that failed or were given up (unknown) in this second.
    public var errors: Int
    /// The 99th percentile latency of the operations completed in this second, ms (0: none).
    public var p99LatencyMs: Double
}

/// A shaded span of the chart: a fault from its step to the step that ends it.
public struct FaultBand: Codable, Equatable, Sendable {
    public var startUs: UInt64
    public var endUs: UInt64
    public var label: String
}

/// How far throughput dropped during a fault and how long it took to come back.
public struct KpiDip: Codable, Equatable, Sendable {
    public var label: String
    /// Mean ok operations per second over the `baselineSeconds` before the fault.
    public var baselinePerSecond: Double
    /// The lowest ok operations per second from the fault to recovery.
    public var minimumPerSecond: Double
    /// 100 × (1 − minimum / baseline).
    public var dipPercent: Double
    /// Seconds from the fault until throughput was back to `recoveredFraction` of baseline
    /// for `sustainSeconds` in a row; nil if it never was.
    public var recoveredAfterSeconds: Double?
}

public enum DrillTimeline {
    public static let bucketsMax = 24 * 3600
    public static let baselineSeconds = 10
    public static let recoveredFraction = 0.9
    public static let sustainSeconds = 3

    /// One bucket per second from 0 to `durationSeconds` (or the last completion).
    public static func buckets(history: [ClientOperation], durationSeconds: Double) -> [TimelineBucket] {
        let lastUs = history.map(\.completeUs).max() ?? 0
        let count = min(bucketsMax, max(Int(durationSeconds.rounded(.up)), Int(lastUs / 1_000_000) + 1))
        var ok = [Int](repeating: 0, count: count)
        var errors = [Int](repeating: 0, count: count)
        var latencies = [[Double]](repeating: [], count: count)
        for operation in history {
            let second = Int(operation.completeUs / 1_000_000)
            guard second < count else { continue }
            if operation.outcome == .ok { ok[second] += 1 } else { errors[second] += 1 }
            latencies[second].append(Double(operation.completeUs - operation.invokeUs) / 1_000)
        }
        return (0..<count).map { second in
            TimelineBucket(second: second, ok: ok[second], errors: errors[second], p99LatencyMs: percentile(latencies[second], 0.99))
        }
    }

    /// The nearest-rank percentile; 0 for an empty sample.
    public static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count, max(1, rank)) - 1]
    }

    /// A band per fault event, ending at the first recovery event after it, else at the next
    /// fault, else at the end of the drill.
    public static func bands(events: [DrillEvent], endUs: UInt64) -> [FaultBand] {
        let sorted = events.sorted { $0.atUs < $1.atUs }
        return sorted.enumerated().compactMap { index, event in
            guard event.kind == .fault else { return nil }
            let later = sorted[(index + 1)...]
            let end = later.first { $0.kind == .recovery }?.atUs ?? later.first { $0.kind == .fault }?.atUs ?? endUs
            return FaultBand(startUs: event.atUs, endUs: max(end, event.atUs), label: event.label)
        }
    }

    /// Throughput dip and recovery per fault band.
    public static func dips(buckets: [TimelineBucket], bands: [FaultBand]) -> [KpiDip] {
        bands.map { band in
            let faultSecond = Int(band.startUs / 1_000_000)
            let before = buckets.filter { $0.second >= faultSecond - baselineSeconds && $0.second < faultSecond }
            let baseline = before.isEmpty ? 0 : Double(before.map(\.ok).reduce(0, +)) / Double(before.count)
            let after = buckets.filter { $0.second >= faultSecond }
            var recoveredAt: Int?
            var run = 0
            for bucket in after {
                run = Double(bucket.ok) >= recoveredFraction * baseline ? run + 1 : 0
                if run == sustainSeconds {
                    recoveredAt = bucket.second - sustainSeconds + 1
                    break
                }
            }
            let dipEnd = recoveredAt ?? (buckets.last?.second ?? faultSecond)
            let during = after.filter { $0.second <= max(dipEnd, faultSecond) }
            let minimum = Double(during.map(\.ok).min() ?? 0)
            return KpiDip(
                label: band.label, baselinePerSecond: baseline, minimumPerSecond: minimum,
                dipPercent: baseline > 0 ? max(0, 100 * (1 - minimum / baseline)) : 0,
                recoveredAfterSeconds: recoveredAt.map { max(0, Double($0) - Double(band.startUs) / 1_000_000) }
            )
        }
    }
}
