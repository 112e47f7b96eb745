/// RTO and RPO against the scenario's targets.
///
/// - RTO (offers): for each fault, the time from the fault to the completion of the first
///   offer poll, invoked after the fault, that delivered a task to an agent at a site the
///   fault did not touch. "Callers are being answered again."
/// - RTO (writes): the time from the fault to the completion of the first enqueue invoked
///   after the fault that was acknowledged. "New calls are accepted again."
/// - The drill's RTO is the worst over its faults; a fault with no recovery before the next
///   fault (or the end) has an unbounded RTO and fails.
/// - RPO: acknowledged writes missing on the survivors (see `LostAckChecker`). Target 0.
public enum RecoveryChecker {
    public static let name = "RecoveryChecker"

    public struct FaultRecovery: Codable, Equatable, Sendable {
        public var label: String
        public var atUs: UInt64
        /// nil: no recovery observed before the next fault or the end of the drill.
        public var offerRecoveryMs: Double?
        public var writeRecoveryMs: Double?
    }

    public struct Measurement: Codable, Equatable, Sendable {
        public var faults: [FaultRecovery]
        /// Worst over the faults; nil when some fault never recovered (or no measure at all).
        public var rtoOfferSeconds: Double?
        public var rtoWriteSeconds: Double?
        public var rpoEntries: UInt64
        public var targets: RecoveryTargets
        public var rtoPassed: Bool
        public var rpoPassed: Bool
    }

    public static func measure(
        history: [ClientOperation], events: [DrillEvent], survivors: [NodeFinalState], targets: RecoveryTargets
    ) -> Measurement {
        let faults = events.filter { $0.kind == .fault }.sorted { $0.atUs < $1.atUs }
        let offers = history.filter { $0.kind == .offer && $0.outcome == .ok }.sorted { $0.completeUs < $1.completeUs }
        let writes = history.filter { $0.kind == .enqueue && $0.outcome == .ok }.sorted { $0.completeUs < $1.completeUs }
        var recoveries: [FaultRecovery] = []
        for (index, fault) in faults.enumerated() {
            let windowEnd = index + 1 < faults.count ? faults[index + 1].atUs : UInt64.max
            let touched = Set(fault.sites)
            let offer = offers.first {
                $0.invokeUs >= fault.atUs && $0.completeUs <= windowEnd && !touched.contains($0.value.site ?? SiteName(""))
            }
            let write = writes.first { $0.invokeUs >= fault.atUs && $0.completeUs <= windowEnd }
            recoveries.append(FaultRecovery(
                label: fault.label, atUs: fault.atUs,
                offerRecoveryMs: offer.map { Double($0.completeUs - fault.atUs) / 1_000 },
                writeRecoveryMs: write.map { Double($0.completeUs - fault.atUs) / 1_000 }
            ))
        }
        func worst(_ values: [Double?]) -> Double? {
            values.contains { $0 == nil } ? nil : values.compactMap { $0 }.max().map { $0 / 1_000 }
        }
        let rtoOffer = faults.isEmpty ? 0 : worst(recoveries.map(\.offerRecoveryMs))
        let rtoWrite = faults.isEmpty ? 0 : worst(recoveries.map(\.writeRecoveryMs))
        let lost = Set(LostAckChecker.losses(history: history, survivors: survivors).map(\.operation)).count
        let rtoPassed = (rtoOffer.map { $0 <= targets.rtoSeconds } ?? false)
            && (rtoWrite.map { $0 <= targets.effectiveWriteRtoSeconds } ?? false)
        return Measurement(
            faults: recoveries, rtoOfferSeconds: rtoOffer, rtoWriteSeconds: rtoWrite, rpoEntries: UInt64(lost),
            targets: targets, rtoPassed: rtoPassed, rpoPassed: UInt64(lost) <= targets.rpoEntries
        )
    }

    public static func check(_ measurement: Measurement) -> CheckerVerdict {
        func seconds(_ value: Double?) -> String { value.map { String(format: "%.2f s", $0) } ?? "not recovered" }
        let summary = "RTO offers \(seconds(measurement.rtoOfferSeconds)), writes \(seconds(measurement.rtoWriteSeconds)) "
            + "(target \(String(format: "%.0f", measurement.targets.rtoSeconds)) s); RPO \(measurement.rpoEntries) entries "
            + "(target \(measurement.targets.rpoEntries))"
        var offending: [String] = []
        var details: [String] = []
        for fault in measurement.faults {
            let offerLate = fault.offerRecoveryMs.map { $0 / 1_000 > measurement.targets.rtoSeconds } ?? true
            let writeLate = fault.writeRecoveryMs.map { $0 / 1_000 > measurement.targets.effectiveWriteRtoSeconds } ?? true
            if offerLate || writeLate {
                offending.append(fault.label)
                details.append(
                    "\(fault.label) at \(String(format: "%.1f", Double(fault.atUs) / 1_000_000)) s: offers \(seconds(fault.offerRecoveryMs.map { $0 / 1_000 })), writes \(seconds(fault.writeRecoveryMs.map { $0 / 1_000 }))"
                )
            }
        }
        if !measurement.rpoPassed {
            offending.append("RPO")
            details.append("\(measurement.rpoEntries) acknowledged entries lost (target \(measurement.targets.rpoEntries))")
        }
        let passed = measurement.rtoPassed && measurement.rpoPassed
        return CheckerVerdict(checker: name, result: passed ? .pass : .fail, summary: summary, offending: offending, details: details)
    }
}
