import Foundation

/// The drill harness's test-only routes (`drill` in the configuration; see
/// `DrillSettings`). Both are always registered, so the route table and the
/// documents do not depend on configuration; with the hook off they answer 404.
/// Role: ops only (AccessPolicy).
extension NodeAPI {
    static func addDrillRoutes(_ router: inout Router, _ runtime: NodeRuntime) {
        /// The routing evidence, the applied index and the state and audit hashes,
        /// all from one point of the loop (see `DrillEvidenceImage`).
        router.add("GET", "/v1/drill/evidence") { _, _ in
            guard runtime.config.drill.evidence else {
                return .error(404, code: "drill_evidence_off", message: "this node does not record drill evidence (configuration: \"drill\": {\"evidence\": true})")
            }
            guard let answered = runtime.drillEvidence(), let image = answered else {
                return .error(503, code: "busy", message: "the node did not hand over its evidence in time; retry shortly")
            }
            return .json(200, DrillEvidence.json(image))
        }
        /// A slow disk: the loop sleeps `fsyncDelayMs` before each durable write.
        router.add("POST", "/v1/drill/disk") { request, _ in
            guard runtime.config.drill.diskDelay else {
                return .error(404, code: "drill_disk_delay_off", message: "this node does not take disk delays (configuration: \"drill\": {\"diskDelay\": true})")
            }
            guard let object = jsonBody(request) else { return badJSON() }
            let range = DrillSettings.fsyncDelayMsRange
            var fields = Fields(object)
            guard object.count == 1, let delay = fields.uint64("fsyncDelayMs"), range.contains(delay) else {
                return .error(400, code: "invalid_request", message: "want {\"fsyncDelayMs\": N}, N a whole number of ms in \(range.lowerBound)...\(range.upperBound)")
            }
            runtime.setFsyncDelay(ms: delay)
            runtime.log.warning("drill.disk_delay", [("fsyncDelayMs", "\(delay)")])
            return json(200, ["fsyncDelayMs": delay])
        }
    }
}
