import Foundation
import Glibc
import Raft
import Synchronization
import Transport

/// Peer links over mutual TLS: one outbound link per member (this node's frames
/// to it) and one listener for inbound links (its frames to us).
///
/// An inbound link MUST start with a hello frame whose claimed node id the
/// peer's certificate names; otherwise the connection is closed and logged with
/// the reason, and the listener keeps serving.
public final class TLSPeerNetwork: PeerNetwork, @unchecked Sendable {
    private let config: NodeConfig
    private let clientContext: TLSContext
    private let serverContext: TLSContext
    private let inbox: Inbox<NodeInput>
    private let log: Log
    private let listener: TCPListener
    private let links = Mutex<[NodeID: PeerLink]>([:])
    private let inbound = Mutex<[ObjectIdentifier: TLSConnection]>([:])
    private let stopped = Atomic<Bool>(false)

    /// The most inbound peer connections at once.
    public static let inboundConnectionsMax = 128
    public static let handshakeTimeoutMs = 3_000
    /// A peer that sends nothing (not even a heartbeat) for this long is dropped.
    public static let inboundIdleTimeoutMs = 30_000
    /// Frames from an authenticated peer: a whole snapshot (Raft codec limit) plus framing.
    public static let peerFrameBytesMax = CodecLimits.snapshotBytesMax + (1 << 20)

    public init(config: NodeConfig, serverContext: TLSContext, clientContext: TLSContext, inbox: Inbox<NodeInput>, log: Log) throws {
        self.config = config
        self.serverContext = serverContext
        self.clientContext = clientContext
        self.inbox = inbox
        self.log = log
        listener = try TCPListener(host: config.peerListen.host, port: config.peerListen.port)
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "peer-accept"
        thread.start()
    }

    public var peerPort: UInt16 { listener.port }

    // MARK: - PeerNetwork

    public func send(_ messages: [Message]) {
        var byTarget: [NodeID: [Message]] = [:]
        for message in messages { byTarget[message.to, default: []].append(message) }
        let current = links.withLock { $0 }
        for (target, batch) in byTarget {
            current[target]?.enqueue(Frame(type: .raftMessages, payload: Self.encode(batch)))
        }
    }

    public func forward(to node: NodeID, payload: [UInt8]) -> Bool {
        guard let link = links.withLock({ $0[node] }) else { return false }
        return link.enqueue(Frame(type: .forwardRequest, payload: payload))
    }

    public func respond(to node: NodeID, payload: [UInt8]) {
        _ = links.withLock { $0[node] }?.enqueue(Frame(type: .forwardResponse, payload: payload))
    }

    public func setMembers(_ members: [NodeID: MemberInfo]) {
        var retired: [PeerLink] = []
        links.withLock { links in
            for (node, link) in links where members[node]?.peerAddress != link.address {
                retired.append(link)
                links.removeValue(forKey: node)
            }
            for (node, info) in members where links[node] == nil && node != config.node {
                links[node] = PeerLink(
                    local: config.node, clusterID: config.clusterID, remote: node, address: info.peerAddress,
                    context: clientContext, inbox: inbox, log: log)
            }
        }
        retired.forEach { $0.stop() }
    }

    public func isConnected(_ node: NodeID) -> Bool {
        links.withLock { $0[node] }?.isConnected ?? false
    }

    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        listener.close()
        let all = links.withLock { links -> [PeerLink] in
            defer { links.removeAll() }
            return Array(links.values)
        }
        all.forEach { $0.stop() }
        inbound.withLock { $0.values.forEach { $0.close() } }
    }

    // MARK: - Inbound

    private func acceptLoop() {
        while !stopped.load(ordering: .acquiring) {
            do {
                guard let connection = try listener.acceptTLS(context: serverContext, handshakeTimeoutMs: Self.handshakeTimeoutMs, deadline: nil) else { continue }
                let admitted = inbound.withLock { open -> Bool in
                    guard open.count < Self.inboundConnectionsMax else { return false }
                    open[ObjectIdentifier(connection)] = connection
                    return true
                }
                guard admitted else {
                    log.warning("peer.rejected", [("remote", connection.remoteAddress), ("reason", "too many peer connections")])
                    connection.close()
                    continue
                }
                let thread = Thread { [self] in serve(connection) }
                thread.name = "peer-in"
                thread.start()
            } catch {
                if error == .closed { return }
                log.warning("peer.rejected", [("reason", error.description)])
            }
        }
    }

    private func serve(_ connection: TLSConnection) {
        defer {
            connection.close()
            _ = inbound.withLock { $0.removeValue(forKey: ObjectIdentifier(connection)) }
        }
        var reader = FrameReader()
        let peer: NodeID
        do {
            let hello = try connection.readFrame(&reader, deadline: .after(milliseconds: Self.handshakeTimeoutMs))
            let claim = try Hello(decoding: hello)
            guard claim.clusterID == config.clusterID else {
                throw ConnectionError.peerIdentity("hello from cluster '\(claim.clusterID)', this is '\(config.clusterID)'")
            }
            guard verifyPeer(connection.peerNames, claims: claim.node.rawValue) else {
                throw ConnectionError.peerIdentity("claims to be '\(claim.node)' but its certificate names \(connection.peerNames)")
            }
            peer = claim.node
        } catch {
            log.warning("peer.rejected", [("remote", connection.remoteAddress), ("reason", "\(error)")])
            return
        }
        log.info("peer.accepted", [("peer", peer.rawValue), ("remote", connection.remoteAddress)])
        // An authenticated member may send a snapshot, which travels in one frame
        // and is as large as the state: allow what the Raft codec allows.
        reader.frameBytesMax = Self.peerFrameBytesMax
        while !stopped.load(ordering: .acquiring) {
            do {
                let frame = try connection.readFrame(&reader, deadline: .after(milliseconds: Self.inboundIdleTimeoutMs))
                if frame.type == .ping {
                    // The sender's proof that this link still reaches us (see `PeerLink.watch`).
                    try connection.write(Frame(type: .pong, payload: []).encoded(), deadline: .after(milliseconds: PeerLink.writeTimeoutMs))
                    continue
                }
                try deliver(frame, from: peer)
            } catch {
                if error != .closed { log.warning("peer.closed", [("peer", peer.rawValue), ("reason", error.description)]) }
                return
            }
        }
    }

    private func deliver(_ frame: Frame, from peer: NodeID) throws(ConnectionError) {
        switch frame.type {
        case .raftMessages:
            let messages = try Self.decode(frame.payload)
            guard messages.allSatisfy({ $0.from == peer && $0.to == config.node }) else {
                throw .protocolViolation("messages not from \(peer) to \(config.node)")
            }
            _ = inbox.push(.peerMessages(messages))
        case .forwardRequest:
            guard let request = try? ForwardRequestPayload(decoding: frame.payload) else { throw .protocolViolation("bad forward request") }
            let deadline = MonotonicClock.nowNs() + min(request.budgetMs, 60_000) * 1_000_000
            _ = inbox.push(.forwardRequest(from: peer, requestID: request.requestID, command: request.command, deadline: deadline))
        case .forwardResponse:
            guard let response = try? ForwardResponsePayload(decoding: frame.payload) else { throw .protocolViolation("bad forward response") }
            _ = inbox.push(.forwardResponse(requestID: response.requestID, outcome: response.outcome))
        case .ping, .pong, .hello:
            break
        }
    }

    // MARK: - Batches of Raft messages

    /// The most messages in one frame.
    static let messagesPerFrameMax = 4096

    static func encode(_ messages: [Message]) -> [UInt8] {
        var writer = ByteWriter(capacity: messages.reduce(8) { $0 + $1.sizeBytes })
        writer.write(UInt32(messages.count))
        for message in messages { writer.writeBytes(message.encoded()) }
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(ConnectionError) -> [Message] {
        var reader = ByteReader(bytes)
        do {
            let count = Int(try reader.readUInt32())
            guard count <= messagesPerFrameMax else { throw DecodingError("\(count) messages in one frame", offset: 0) }
            var messages: [Message] = []
            for _ in 0..<count {
                messages.append(try Message(decoding: try reader.readBytes(limit: peerFrameBytesMax)))
            }
            try reader.expectEnd()
            return messages
        } catch {
            throw .protocolViolation("bad Raft message batch: \(error)")
        }
    }
}

/// The first frame on a peer link: who is calling, from which cluster.
struct Hello {
    var node: NodeID
    var clusterID: String

    func frame() -> Frame {
        var writer = ByteWriter()
        writer.write(UInt8(1))
        writer.write(node)
        writer.writeString(clusterID)
        return Frame(type: .hello, payload: writer.bytes)
    }

    init(node: NodeID, clusterID: String) {
        self.node = node
        self.clusterID = clusterID
    }

    init(decoding frame: Frame) throws(ConnectionError) {
        guard frame.type == .hello else { throw .protocolViolation("expected hello, got \(frame.type)") }
        var reader = ByteReader(frame.payload)
        do {
            guard try reader.readUInt8() == 1 else { throw DecodingError("unknown hello version", offset: 0) }
            node = try reader.readNodeID()
            clusterID = try reader.readString(limit: 128)
            try reader.expectEnd()
        } catch {
            throw .protocolViolation("bad hello: \(error)")
        }
    }
}

/// One outbound link: a thread that connects (capped exponential backoff with
/// jitter), says hello, and writes queued frames in batches. The queue is
/// bounded; on overflow the oldest frames are dropped (Raft retransmits).
final class PeerLink: @unchecked Sendable {
    let local: NodeID
    let clusterID: String
    let remote: NodeID
    let address: HostPort
    private let context: TLSContext
    private let inbox: Inbox<NodeInput>
    private let log: Log
    private let condition = NSCondition()
    private var queue: [Frame] = []
    private var stopping = false
    private var connection: TLSConnection?
    private let connected = Atomic<Bool>(false)
    private(set) var framesDropped = 0

    static let queueFramesMax = 4096
    static let backoffBaseMs = 50
    static let backoffCapMs = 2_000
    static let writeTimeoutMs = 5_000
    /// How often a link pings its receiver, busy or idle; well under the receiver's
    /// `inboundIdleTimeoutMs`.
    static let keepaliveMs: UInt64 = 5_000
    /// A link whose receiver has answered pings before but has not answered any for
    /// this long is dead, even though writes still succeed, and is reconnected.
    static let pongTimeoutMs = 3 * Int(keepaliveMs)

    init(local: NodeID, clusterID: String, remote: NodeID, address: HostPort, context: TLSContext, inbox: Inbox<NodeInput>, log: Log) {
        self.local = local
        self.clusterID = clusterID
        self.remote = remote
        self.address = address
        self.context = context
        self.inbox = inbox
        self.log = log
        let thread = Thread { [self] in run() }
        thread.name = "peer-out-\(remote)"
        thread.start()
    }

    var isConnected: Bool { connected.load(ordering: .acquiring) }

    /// Queues a frame; false when the link is stopping.
    @discardableResult
    func enqueue(_ frame: Frame) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        if queue.count >= Self.queueFramesMax {
            queue.removeFirst()
            framesDropped += 1
        }
        queue.append(frame)
        condition.signal()
        return true
    }

    func stop() {
        condition.lock()
        stopping = true
        let open = connection
        condition.broadcast()
        condition.unlock()
        open?.close()
    }

    private func run() {
        var failures = 0
        var random = SystemRandomNumberGenerator()
        while true {
            condition.lock()
            let done = stopping
            condition.unlock()
            if done { return }
            do {
                let link = try connectTLS(
                    host: address.host, port: address.port, context: context,
                    expectedPeer: remote.rawValue, deadline: .after(milliseconds: 2_000))
                try link.write(Hello(node: local, clusterID: clusterID).frame().encoded(), deadline: .after(milliseconds: Self.writeTimeoutMs))
                condition.lock()
                connection = link
                condition.unlock()
                connected.store(true, ordering: .releasing)
                if failures > 0 { log.info("peer.connected", [("peer", remote.rawValue)]) }
                failures = 0
                let watcher = Thread { [self] in watch(link) }
                watcher.name = "peer-watch-\(remote)"
                watcher.start()
                try pump(link)
            } catch {
                connected.store(false, ordering: .releasing)
                condition.lock()
                connection?.close()
                connection = nil
                let done = stopping
                condition.unlock()
                if done { return }
                failures += 1
                if failures == 1 || failures % 20 == 0 {
                    log.warning("peer.unreachable", [("peer", remote.rawValue), ("address", "\(address)"), ("reason", error.description)])
                }
                _ = inbox.push(.peerUnreachable(remote))
                let capMs = min(Self.backoffCapMs, Self.backoffBaseMs << min(failures, 10))
                usleep(UInt32(Int.random(in: capMs / 2...capMs, using: &random)) * 1000)
            }
        }
    }

    /// Writes queued frames until the link fails or stops, with a ping every
    /// `keepaliveMs`. Followers send each other nothing while a leader is healthy;
    /// without the ping the peer drops the link as idle (`inboundIdleTimeoutMs`) and
    /// the first frame after that, the pre-vote of the next election, is lost with the
    /// dead connection (a 5-site drill measured 3-4 s elections from exactly this).
    /// The receiver answers each ping with a pong, which `watch` waits for.
    private func pump(_ link: TLSConnection) throws(ConnectionError) {
        // The first ping goes out at once, so `watch` learns early that the receiver answers.
        var lastPing: UInt64 = 0
        while true {
            condition.lock()
            var pingDue = false
            while true {
                pingDue = MonotonicClock.nowNs() - lastPing >= Self.keepaliveMs * 1_000_000
                if !queue.isEmpty || stopping || pingDue { break }
                _ = condition.wait(until: Date().addingTimeInterval(1))
            }
            if stopping {
                condition.unlock()
                throw .closed
            }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            condition.unlock()
            var bytes: [UInt8] = []
            for frame in batch { bytes.append(contentsOf: frame.encoded()) }
            if pingDue {
                bytes.append(contentsOf: Frame(type: .ping, payload: []).encoded())
                lastPing = MonotonicClock.nowNs()
            }
            try link.write(bytes, deadline: .after(milliseconds: Self.writeTimeoutMs))
        }
    }

    /// Reads what the receiver sends back on this link (pongs) and closes the link
    /// when the receiver closed it, or when pongs stop for `pongTimeoutMs` after the
    /// receiver has answered at least once (a receiver that never answered is an
    /// older build: its silence proves nothing). Writes alone cannot tell: a
    /// connection whose far end is gone without a reset reaching us (a middlebox that
    /// dropped the flow, a peer that timed the link out during a partition) accepts
    /// writes until the socket buffers fill, minutes of heartbeat answers lost.
    /// Closing wakes `pump`, which fails and reconnects.
    private func watch(_ link: TLSConnection) {
        var reader = FrameReader()
        var answered = false
        while true {
            do throws(ConnectionError) {
                let frame = try link.readFrame(&reader, deadline: answered ? .after(milliseconds: Self.pongTimeoutMs) : nil)
                guard frame.type == .pong else { throw .protocolViolation("unexpected \(frame.type) frame on an outbound link") }
                answered = true
            } catch {
                if error == .timedOut {
                    log.warning("peer.stale", [("peer", remote.rawValue), ("reason", "no answer to pings for \(Self.pongTimeoutMs) ms")])
                } else if error != .closed, isConnected {
                    log.warning("peer.closed_by_peer", [("peer", remote.rawValue), ("reason", error.description)])
                }
                // The far end closed or reset the link (a crashed process's
                // kernel does at once): tell the loop now, not when the next
                // frame fails to go out, so a follower of a dead leader need
                // not wait out the election timeout (`RaftNode.reportUnreachable`).
                condition.lock()
                let done = stopping
                condition.unlock()
                if error != .timedOut, !done { _ = inbox.push(.peerUnreachable(remote)) }
                link.close()
                return
            }
        }
    }
}
