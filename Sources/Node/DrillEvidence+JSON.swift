import ContactCenter
import Vault

/// One consistent point of the node loop for `GET /v1/drill/evidence`: all taken
/// together, on the loop thread, right after applying `appliedIndex`. The machine
/// is a copy (copy-on-write), so hashing and rendering happen off the loop.
public struct DrillEvidenceImage: Sendable {
    let node: String
    let site: String
    let appliedIndex: UInt64
    let machine: any ReplicatedStateMachine
    let evidence: DrillEvidence
}

/// `GET /v1/drill/evidence` in the shape the harness decodes into
/// `Chaos.NodeFinalState`, plus `fromIndex` and `truncated`.
///
/// Written by hand: the offers log may hold millions of records, and a Foundation
/// dictionary per record would be slow and large. Every name comes
/// from the name registry (letters, digits, '-', '_', '.'), still escaped.
extension DrillEvidence {
    static func json(_ image: DrillEvidenceImage) -> [UInt8] {
        let lifeline = image.machine as? LifelineStateMachine
        let names = lifeline?.names ?? NameRegistry()
        let center = lifeline?.center ?? ContactCenterState()
        let evidence = image.evidence
        var out = JSONWriter()
        out.raw("{\"node\":"); out.string(image.node)
        out.raw(",\"site\":"); out.string(image.site)
        out.raw(",\"appliedIndex\":"); out.number(image.appliedIndex)
        out.raw(",\"stateHash\":"); out.string(image.machine.stateHash)
        out.raw(",\"auditHead\":"); out.string(Hex.encode(lifeline?.security.lastHash ?? AuditChain.Head.genesis.lastHash))
        out.raw(",\"fromIndex\":"); out.number(evidence.fromIndex)
        out.raw(",\"truncated\":"); out.raw(evidence.truncated ? "true" : "false")
        out.raw(",\"tasks\":[")
        for (position, record) in evidence.tasks.values.sorted(by: { $0.id < $1.id }).enumerated() {
            if position > 0 { out.raw(",") }
            out.raw("{\"id\":"); out.string(String(record.id.rawValue))
            out.raw(",\"state\":"); out.string(record.phase.rawValue)
            if let agent = record.agent { out.raw(",\"agent\":"); out.string(names.name(of: agent)) }
            out.raw(",\"queue\":"); out.string(names.name(of: record.queue))
            out.raw(",\"priority\":"); out.number(UInt64(record.priority))
            out.raw(",\"emergency\":"); out.raw(record.emergency ? "true" : "false")
            out.raw(",\"enqueueTimeMs\":"); out.number(record.enqueueTimeMs)
            out.raw(",\"enqueueIndex\":"); out.number(record.enqueueIndex)
            out.raw(",\"site\":"); out.string(names.name(of: record.site))
            out.raw("}")
        }
        out.raw("],\"agents\":[")
        let agents = center.agentIDs.compactMap { id in center.agent(id).map { (id, $0) } }
        for (position, (id, agent)) in agents.enumerated() {
            if position > 0 { out.raw(",") }
            let capacity = agent.config.capacity
            out.raw("{\"id\":"); out.string(names.name(of: id))
            out.raw(",\"site\":"); out.string(names.name(of: agent.config.site))
            out.raw(",\"capacity\":"); out.number(capacity.reduce(0) { $0 + UInt64($1) })
            out.raw(",\"capacityByChannel\":{")
            for (slot, name) in ["voice", "chat", "sms", "email"].enumerated() where slot < capacity.count {
                if slot > 0 { out.raw(",") }
                out.string(name); out.raw(":"); out.number(UInt64(capacity[slot]))
            }
            out.raw("}}")
        }
        out.raw("],\"offersLog\":[")
        for (position, offer) in evidence.offers.enumerated() {
            if position > 0 { out.raw(",") }
            out.raw("{\"index\":"); out.number(offer.index)
            out.raw(",\"kind\":"); out.string(offer.kind.rawValue)
            out.raw(",\"task\":"); out.string(String(offer.task.rawValue))
            if let agent = offer.agent { out.raw(",\"agent\":"); out.string(names.name(of: agent)) }
            if let token = offer.token { out.raw(",\"token\":"); out.number(token) }
            out.raw("}")
        }
        out.raw("]}")
        return out.bytes
    }
}

/// Appends JSON text to a byte buffer (the drill evidence, `CompactJSON`).
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// JSON text made elsewhere, as it is.
    mutating func append(_ text: [UInt8]) { bytes.append(contentsOf: text) }

    mutating func number(_ value: UInt64) { bytes.append(contentsOf: String(value).utf8) }

    /// `text` as a JSON string. `likeJSONEncoder` also escapes `/` and writes
    /// `\b \f \n \r \t` short, as Foundation's `JSONEncoder` does (for bytes
    /// that must equal its output, SecurityState+JSON.swift).
    mutating func string(_ text: String, likeJSONEncoder: Bool = false) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            if likeJSONEncoder, let short = Self.encoderEscape(byte) {
                bytes.append(contentsOf: [UInt8(ascii: "\\"), short])
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: Array("\\\"".utf8))
            case UInt8(ascii: "\\"): bytes.append(contentsOf: Array("\\\\".utf8))
            case 0..<0x20:
                let hex = String(byte, radix: 16)
                bytes.append(contentsOf: Array(("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8))
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// What `JSONEncoder` writes after `\` for a byte it escapes with a letter
    /// (or the byte itself), nil for the rest.
    private static func encoderEscape(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "/"): UInt8(ascii: "/")
        case 0x08: UInt8(ascii: "b")
        case 0x0C: UInt8(ascii: "f")
        case 0x0A: UInt8(ascii: "n")
        case 0x0D: UInt8(ascii: "r")
        case 0x09: UInt8(ascii: "t")
        default: nil
        }
    }
}
