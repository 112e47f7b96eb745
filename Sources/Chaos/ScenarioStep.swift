/// A site as a scenario step names it: by name, or by role, resolved by the runner at the
/// moment the step runs (the leader is not known when the file is written).
public enum SiteRef: Hashable, Codable, Sendable, CustomStringConvertible {
    /// A named site.
    case site(SiteName)
    /// `@leader`: the site whose node is the Raft leader when the step runs.
    case leader
    /// `@follower`: the first follower in site order when the step runs.
    case follower
    /// `@down`: every site currently killed (only for `restart`).
    case down
    /// `@paused`: every site currently paused (only for `resume`).
    case paused

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        switch text {
        case "@leader": self = .leader
        case "@follower": self = .follower
        case "@down": self = .down
        case "@paused": self = .paused
        default:
            guard !text.hasPrefix("@") else {
                throw DecodingError.dataCorrupted(DecodingError.Context(
                    codingPath: decoder.codingPath,
                    debugDescription: "unknown site role '\(text)'; roles: @leader, @follower, @down, @paused"
                ))
            }
            self = .site(SiteName(text))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public var description: String {
        switch self {
        case .site(let name): name.rawValue
        case .leader: "@leader"
        case .follower: "@follower"
        case .down: "@down"
        case .paused: "@paused"
        }
    }

    public var siteName: SiteName? {
        if case .site(let name) = self { name } else { nil }
    }
}

/// A directed pair of sites in a step (`{"from": "a", "to": "b"}`).
public struct SitePair: Hashable, Codable, Sendable {
    public var from: SiteName
    public var to: SiteName
    public init(from: SiteName, to: SiteName) {
        self.from = from
        self.to = to
    }
    enum CodingKeys: String, CodingKey, CaseIterable { case from, to }
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: Set(CodingKeys.allCases.map(\.rawValue)))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        from = try container.decode(SiteName.self, forKey: .from)
        to = try container.decode(SiteName.self, forKey: .to)
    }
}

/// One fault (or recovery) and what it applies to.
public enum FaultAction: Equatable, Sendable {
    /// `kill -9` the site's node.
    case kill(SiteRef)
    /// SIGSTOP: the node hangs (a frozen VM, a GC pause, a stuck disk).
    case pause(SiteRef)
    /// SIGCONT after a pause.
    case resume(SiteRef)
    /// Start the node again on its data directory; a running node is first stopped with SIGTERM.
    case restart(SiteRef)
    /// Cut every link to and from the site.
    case isolate(SiteRef)
    /// Cut every link between different groups (groups cover all sites).
    case partition(groups: [[SiteName]])
    /// `from` can no longer reach `to`; `to` still reaches `from`.
    case asymmetric(from: SiteRef, to: SiteRef)
    /// A WAN latency spike on the listed links (all links when nil).
    case latency(ms: UInt32, jitterMs: UInt32, links: [SitePair]?)
    /// Chunk loss on the listed links (see `FaultSettings`).
    case loss(probability: Double, links: [SitePair]?)
    /// A bandwidth cap on the listed links.
    case bandwidth(bytesPerSecond: UInt64, links: [SitePair]?)
    /// Reset every peer connection of the site (all when nil).
    case reset(SiteRef?)
    /// Every link back to the scenario's baseline latency.
    case heal
    /// Make the node's fsync slower by `fsyncDelayMs` (0 restores it).
    case slowDisk(SiteRef, fsyncDelayMs: UInt32)
    /// Ask the leader to hand leadership to the site (any other when nil).
    case transferLeader(to: SiteRef?)
    /// Planned failover: stop routing to the site's agents and move its work away.
    case drain(SiteRef)

    /// The `action` string in the file.
    public var keyword: String {
        switch self {
        case .kill: "kill"
        case .pause: "pause"
        case .resume: "resume"
        case .restart: "restart"
        case .isolate: "isolate"
        case .partition: "partition"
        case .asymmetric: "asymmetric"
        case .latency: "latency"
        case .loss: "loss"
        case .bandwidth: "bandwidth"
        case .reset: "reset"
        case .heal: "heal"
        case .slowDisk: "slow-disk"
        case .transferLeader: "transfer-leader"
        case .drain: "drain"
        }
    }

    /// Whether this step ends a disruption rather than starting one: the recovery checker
    /// measures RTO from the other steps.
    public var isRecovery: Bool {
        switch self {
        case .heal, .resume: true
        case .restart(let site): site == .down
        case .slowDisk(_, let fsyncDelayMs): fsyncDelayMs == 0
        default: false
        }
    }
}

/// A timed step: `{"at": 30, "action": "kill", "site": "boston"}`.
public struct ScenarioStep: Equatable, Sendable, Codable {
    /// Seconds from the start of the drill.
    public var at: Double
    public var action: FaultAction

    public init(at: Double, _ action: FaultAction) {
        self.at = at
        self.action = action
    }

    enum Key: String, CodingKey, CaseIterable {
        case at, action, site, groups, from, to, ms, jitterMs, links, probability, bytesPerSecond, fsyncDelayMs
    }

    /// The keys each action accepts besides `at` and `action`.
    static let keysByAction: [String: Set<Key>] = [
        "kill": [.site], "pause": [.site], "resume": [.site], "restart": [.site], "isolate": [.site],
        "partition": [.groups], "asymmetric": [.from, .to], "latency": [.ms, .jitterMs, .links],
        "loss": [.probability, .links], "bandwidth": [.bytesPerSecond, .links], "reset": [.site],
        "heal": [], "slow-disk": [.site, .fsyncDelayMs], "transfer-leader": [.to], "drain": [.site],
    ]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let keyword = try container.decode(String.self, forKey: .action)
        guard let allowed = Self.keysByAction[keyword] else {
            throw DecodingError.dataCorruptedError(
                forKey: .action, in: container,
                debugDescription: "unknown action '\(keyword)'; actions: \(Self.keysByAction.keys.sorted().joined(separator: ", "))"
            )
        }
        try decoder.rejectUnknownKeys(allowed: Set((allowed.union([.at, .action])).map(\.rawValue)))
        at = try container.decode(Double.self, forKey: .at)
        switch keyword {
        case "kill": action = .kill(try container.decode(SiteRef.self, forKey: .site))
        case "pause": action = .pause(try container.decode(SiteRef.self, forKey: .site))
        case "resume": action = .resume(try container.decode(SiteRef.self, forKey: .site))
        case "restart": action = .restart(try container.decode(SiteRef.self, forKey: .site))
        case "isolate": action = .isolate(try container.decode(SiteRef.self, forKey: .site))
        case "partition": action = .partition(groups: try container.decode([[SiteName]].self, forKey: .groups))
        case "asymmetric":
            action = .asymmetric(
                from: try container.decode(SiteRef.self, forKey: .from), to: try container.decode(SiteRef.self, forKey: .to)
            )
        case "latency":
            action = .latency(
                ms: try container.decode(UInt32.self, forKey: .ms),
                jitterMs: try container.decodeIfPresent(UInt32.self, forKey: .jitterMs) ?? 0,
                links: try container.decodeIfPresent([SitePair].self, forKey: .links)
            )
        case "loss":
            action = .loss(
                probability: try container.decode(Double.self, forKey: .probability),
                links: try container.decodeIfPresent([SitePair].self, forKey: .links)
            )
        case "bandwidth":
            action = .bandwidth(
                bytesPerSecond: try container.decode(UInt64.self, forKey: .bytesPerSecond),
                links: try container.decodeIfPresent([SitePair].self, forKey: .links)
            )
        case "reset": action = .reset(try container.decodeIfPresent(SiteRef.self, forKey: .site))
        case "heal": action = .heal
        case "slow-disk":
            action = .slowDisk(
                try container.decode(SiteRef.self, forKey: .site),
                fsyncDelayMs: try container.decode(UInt32.self, forKey: .fsyncDelayMs)
            )
        case "transfer-leader": action = .transferLeader(to: try container.decodeIfPresent(SiteRef.self, forKey: .to))
        default:
            precondition(keyword == "drain", "keysByAction and the decoder disagree on '\(keyword)'")
            action = .drain(try container.decode(SiteRef.self, forKey: .site))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(at, forKey: .at)
        try container.encode(action.keyword, forKey: .action)
        switch action {
        case .kill(let site), .pause(let site), .resume(let site), .restart(let site), .isolate(let site),
            .drain(let site):
            try container.encode(site, forKey: .site)
        case .partition(let groups): try container.encode(groups, forKey: .groups)
        case .asymmetric(let from, let to):
            try container.encode(from, forKey: .from)
            try container.encode(to, forKey: .to)
        case .latency(let ms, let jitterMs, let links):
            try container.encode(ms, forKey: .ms)
            try container.encode(jitterMs, forKey: .jitterMs)
            try container.encodeIfPresent(links, forKey: .links)
        case .loss(let probability, let links):
            try container.encode(probability, forKey: .probability)
            try container.encodeIfPresent(links, forKey: .links)
        case .bandwidth(let bytesPerSecond, let links):
            try container.encode(bytesPerSecond, forKey: .bytesPerSecond)
            try container.encodeIfPresent(links, forKey: .links)
        case .reset(let site): try container.encodeIfPresent(site, forKey: .site)
        case .heal: break
        case .slowDisk(let site, let fsyncDelayMs):
            try container.encode(site, forKey: .site)
            try container.encode(fsyncDelayMs, forKey: .fsyncDelayMs)
        case .transferLeader(let to): try container.encodeIfPresent(to, forKey: .to)
        }
    }
}
