import Synchronization

/// One directed link: the bytes that `from` sends to `to`, whichever TCP connection
/// carries them (the one `from` dialed, or the one `to` dialed and answers on).
public struct DirectedLink: Hashable, Codable, Sendable, CustomStringConvertible {
    public var from: NodeName
    public var to: NodeName
    public init(from: NodeName, to: NodeName) {
        self.from = from
        self.to = to
    }
    public var description: String { "\(from)->\(to)" }
}

/// One `FaultProxy` per ordered pair of nodes: node A dials node B at
/// `address(from: A, to: B)`, and that proxy forwards to B's real peer port.
///
/// Faults are set per directed link and mapped onto proxy directions: bytes from A to B
/// cross proxy A->B forward and proxy B->A backward, so blocking the link A->B blocks
/// them whichever side opened the connection. The mesh keeps a baseline (the scenario's
/// inter-site latency) that `heal` restores.
public final class ProxyMesh: Sendable {
    public let nodes: [NodeName]
    private let proxies: [DirectedLink: FaultProxy]
    private let links: Mutex<(baseline: [DirectedLink: FaultSettings], current: [DirectedLink: FaultSettings])>

    /// Starts one proxy per ordered pair of `targets`' nodes, each forwarding to the
    /// second node's peer port. If one fails to start, the ones started are stopped.
    public init(targets: [NodeName: ProxyTarget], seed: UInt64) throws(ProxyError) {
        let names = targets.keys.sorted()
        var proxies: [DirectedLink: FaultProxy] = [:]
        var salt: UInt64 = 0
        do {
            for from in names {
                for to in names where to != from {
                    salt += 1
                    let link = DirectedLink(from: from, to: to)
                    proxies[link] = try FaultProxy(
                        name: link.description, target: targets[to]!, seed: SeededGenerator.derive(seed, salt)
                    )
                }
            }
        } catch {
            for proxy in proxies.values { proxy.stop() }
            throw error
        }
        self.nodes = names
        self.proxies = proxies
        let clean = Dictionary(uniqueKeysWithValues: proxies.keys.map { ($0, FaultSettings.clean) })
        self.links = Mutex((clean, clean))
    }

    // MARK: - Addresses

    /// The proxy that `from` dials to reach `to`.
    public func proxy(from: NodeName, to: NodeName) -> FaultProxy {
        guard let proxy = proxies[DirectedLink(from: from, to: to)] else {
            preconditionFailure("no proxy \(from)->\(to); mesh nodes: \(nodes)")
        }
        return proxy
    }

    /// "127.0.0.1:port" that `from` must use as `to`'s peer address.
    public func address(from: NodeName, to: NodeName) -> String { proxy(from: from, to: to).address }

    public var allLinks: [DirectedLink] { proxies.keys.sorted { ($0.from, $0.to) < ($1.from, $1.to) } }

    // MARK: - Link settings

    public func settings(of link: DirectedLink) -> FaultSettings {
        links.withLock { $0.current[link] ?? .clean }
    }

    /// Sets the faults on the bytes flowing along `link` now (not the baseline).
    public func set(_ link: DirectedLink, _ settings: FaultSettings) {
        links.withLock { $0.current[link] = settings }
        proxy(from: link.from, to: link.to).setSettings(.forward, settings)
        proxy(from: link.to, to: link.from).setSettings(.backward, settings)
    }

    /// Changes the current settings of `link` in place.
    public func update(_ link: DirectedLink, _ change: (inout FaultSettings) -> Void) {
        var settings = self.settings(of: link)
        change(&settings)
        set(link, settings)
    }

    /// Sets the healthy state of a link (the WAN's normal latency); applied now and by `heal`.
    public func setBaseline(_ link: DirectedLink, _ settings: FaultSettings) {
        links.withLock { $0.baseline[link] = settings }
        set(link, settings)
    }

    /// Every link back to its baseline: partitions, spikes and loss are gone.
    public func heal() {
        let baseline = links.withLock { $0.baseline }
        for (link, settings) in baseline { set(link, settings) }
    }

    // MARK: - Partitions

    /// Blocks one direction: `from` can no longer reach `to`; `to` still reaches `from`.
    public func blockOneWay(from: NodeName, to: NodeName) {
        update(DirectedLink(from: from, to: to)) { $0.blackhole = true }
    }

    /// Cuts `node` off from every other node, both ways.
    public func isolate(_ node: NodeName) {
        for other in nodes where other != node {
            blockOneWay(from: node, to: other)
            blockOneWay(from: other, to: node)
        }
    }

    /// Cuts every link between different groups. Nodes not named form their own group each.
    public func partition(_ groups: [[NodeName]]) {
        var groupOf: [NodeName: Int] = [:]
        for (index, group) in groups.enumerated() {
            for node in group { groupOf[node] = index }
        }
        for link in allLinks {
            let fromGroup = groupOf[link.from] ?? (groups.count + nodes.firstIndex(of: link.from)!)
            let toGroup = groupOf[link.to] ?? (groups.count + nodes.firstIndex(of: link.to)!)
            if fromGroup != toGroup { update(link) { $0.blackhole = true } }
        }
    }

    /// Sets the one-way latency on every link (or just `only`), keeping other faults.
    public func setLatency(ms: UInt32, jitterMs: UInt32, only: [DirectedLink]? = nil) {
        for link in only ?? allLinks {
            update(link) {
                $0.latencyMs = ms
                $0.jitterMs = jitterMs
            }
        }
    }

    /// Resets every connection through the proxies touching `node` (or all).
    public func resetConnections(touching node: NodeName? = nil) {
        for (link, proxy) in proxies where node == nil || link.from == node || link.to == node {
            proxy.resetConnections()
        }
    }

    /// Stops every proxy; returns false if one did not stop within the time limit.
    @discardableResult
    public func stop() -> Bool {
        proxies.values.map { $0.stop() }.allSatisfy { $0 }
    }
}
