import Dispatch
import Synchronization

/// A bounded multi-producer, single-consumer queue: the node loop's only input.
///
/// Producers (peer readers, HTTP threads, signal handling) never block: when the
/// inbox is full `push` returns false and the producer answers "busy" or drops
/// (Raft retransmits). The one consumer waits with a deadline.
public final class Inbox<Item: Sendable>: Sendable {
    private let items = Mutex<[Item]>([])
    private let signal = DispatchSemaphore(value: 0)
    public let capacity: Int

    public init(capacity: Int) {
        precondition(capacity > 0, "inbox capacity must be positive, got \(capacity)")
        self.capacity = capacity
    }

    /// Adds `item` unless the inbox holds `capacity` items already.
    @discardableResult
    public func push(_ item: Item) -> Bool {
        let (accepted, wasEmpty) = items.withLock { items -> (Bool, Bool) in
            guard items.count < capacity else { return (false, false) }
            items.append(item)
            return (true, items.count == 1)
        }
        // Wake the consumer only when the inbox turns non-empty: it takes every
        // item at once, so one signal per item only caused empty wake-ups (a
        // whole loop turn each) under load.
        if accepted && wasEmpty { signal.signal() }
        return accepted
    }

    /// Waits until at least one item is queued or `timeoutNs` passes, then takes all.
    public func drain(timeoutNs: UInt64) -> [Item] {
        let taken = items.withLock { items -> [Item] in
            defer { items.removeAll(keepingCapacity: true) }
            return items
        }
        if !taken.isEmpty { return taken }
        _ = signal.wait(timeout: .now() + .nanoseconds(Int(min(timeoutNs, 1_000_000_000))))
        return items.withLock { items -> [Item] in
            defer { items.removeAll(keepingCapacity: true) }
            return items
        }
    }
}

/// A one-shot result: a client thread waits for it, or a callback takes it,
/// while the node loop produces it.
public final class Completion<Value: Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)
    private let signal: DispatchSemaphore?
    private let then: (@Sendable (Value) -> Void)?

    /// A completion to `wait` for.
    public init() {
        signal = DispatchSemaphore(value: 0)
        then = nil
    }

    /// A completion that hands its value to `then` on the thread that completes
    /// it (the node loop: `then` must be quick and never block). `wait` is not
    /// for these.
    public init(then: @escaping @Sendable (Value) -> Void) {
        signal = nil
        self.then = then
    }

    /// Sets the value once; later calls are ignored (the first answer wins).
    public func complete(_ result: Value) {
        let first = value.withLock { current -> Bool in
            guard current == nil else { return false }
            current = result
            return true
        }
        guard first else { return }
        if let then { then(result) } else { signal?.signal() }
    }

    /// Waits for the value until `timeoutMs` passes; nil on timeout.
    public func wait(timeoutMs: UInt64) -> Value? {
        if let ready = value.withLock({ $0 }) { return ready }
        guard let signal else { return nil }
        _ = signal.wait(timeout: .now() + .milliseconds(Int(min(timeoutMs, 3_600_000))))
        return value.withLock { $0 }
    }

    public var isCompleted: Bool { value.withLock { $0 != nil } }
}
