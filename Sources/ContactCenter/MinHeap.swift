// MARK: - Binary min-heap

/// A binary min-heap. The routing indexes use it with lazy deletion: an entry
/// whose subject changed is left in place and skipped (and dropped) when it
/// reaches the top; `compact` rebuilds once garbage outweighs live entries.
/// Every element type has a total order (ids break ties), so the pop order,
/// and with it routing, never depends on the heap's internal layout.
struct MinHeap<Element: Comparable & Sendable>: Sendable {
    private(set) var items: [Element] = []

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }
    var min: Element? { items.first }

    mutating func push(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    mutating func popMin() -> Element? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            siftDown(0)
        }
        return top
    }

    /// Keeps only the elements `isLive` accepts, then re-heapifies: O(n).
    mutating func compact(_ isLive: (Element) -> Bool) {
        items.removeAll { !isLive($0) }
        var index = items.count / 2
        while index > 0 {
            index -= 1
            siftDown(index)
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let count = items.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { return }
            var smallest = left
            let right = left + 1
            if right < count, items[right] < items[left] { smallest = right }
            guard items[smallest] < items[parent] else { return }
            items.swapAt(smallest, parent)
            parent = smallest
        }
    }
}

// MARK: - Heap entries

/// A queued task in a lane. Lower sorts first: emergency, then higher
/// priority, then earlier enqueue time, then lower task id.
struct LaneEntry: Comparable, Sendable {
    var rank: UInt32
    var enqueuedAt: UInt64
    var task: UInt64

    static func < (a: LaneEntry, b: LaneEntry) -> Bool {
        if a.rank != b.rank { return a.rank < b.rank }
        if a.enqueuedAt != b.enqueuedAt { return a.enqueuedAt < b.enqueuedAt }
        return a.task < b.task
    }
}

/// A ready agent in a lane: best proficiency score first, then longest idle,
/// then lower agent id.
struct ReadyEntry: Comparable, Sendable {
    /// `UInt32.max - score`, so the best score sorts first.
    var scoreKey: UInt32
    var idleSince: UInt64
    var agent: UInt64
    var slot: Int32
    var profile: Int32

    static func < (a: ReadyEntry, b: ReadyEntry) -> Bool {
        if a.scoreKey != b.scoreKey { return a.scoreKey < b.scoreKey }
        if a.idleSince != b.idleSince { return a.idleSince < b.idleSince }
        return a.agent < b.agent
    }
}

/// A waiting task ordered by when its wait started (for "longest current wait").
struct WaitEntry: Comparable, Sendable {
    var waitFrom: UInt64
    var task: UInt64
    static func < (a: WaitEntry, b: WaitEntry) -> Bool {
        if a.waitFrom != b.waitFrom { return a.waitFrom < b.waitFrom }
        return a.task < b.task
    }
}

/// Something `Tick` must do at `dueAt`.
struct TimerEntry: Comparable, Sendable {
    enum Kind: UInt8, Sendable { case offerExpiry = 0, overflow = 1, callbackDue = 2 }
    var dueAt: UInt64
    var kind: Kind
    var task: UInt64

    static func < (a: TimerEntry, b: TimerEntry) -> Bool {
        if a.dueAt != b.dueAt { return a.dueAt < b.dueAt }
        if a.kind != b.kind { return a.kind.rawValue < b.kind.rawValue }
        return a.task < b.task
    }
}
