/// Something the harness did or saw during a drill, on the history's clock.
public struct DrillEvent: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable {
        /// A step that starts a disruption (kill, pause, isolate, partition, spike, ...).
        case fault
        /// A step that ends one (heal, resume, restart of a killed node).
        case recovery
        /// Anything else worth a mark on the chart (new leader seen, drill phase).
        case note
    }

    /// Microseconds since the drill started.
    public var atUs: UInt64
    public var kind: Kind
    /// The step's action keyword ("kill", "partition", ...), or a note's short name.
    public var action: String
    /// The sites the step touched, resolved (`@leader` becomes the actual site).
    public var sites: [SiteName]
    /// A short label for the chart, e.g. "kill boston (leader)".
    public var label: String

    public init(atUs: UInt64, kind: Kind, action: String, sites: [SiteName] = [], label: String) {
        self.atUs = atUs
        self.kind = kind
        self.action = action
        self.sites = sites
        self.label = label
    }
}
