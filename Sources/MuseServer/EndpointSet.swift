import MuseIPC

/// The channels one worker drains. `ChannelEndpoint` is non-copyable, so the
/// worker owns them in a buffer of its own: moved in once, never shared.
struct EndpointSet: ~Copyable {
    private let buffer: UnsafeMutablePointer<ChannelEndpoint>
    private let capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        buffer = .allocate(capacity: self.capacity)
    }

    deinit {
        buffer.deinitialize(count: count)
        buffer.deallocate()
    }

    mutating func append(_ endpoint: consuming ChannelEndpoint) {
        precondition(count < capacity, "EndpointSet is full")
        (buffer + count).initialize(to: endpoint)
        count += 1
    }

    subscript(i: Int) -> ChannelEndpoint {
        _read {
            precondition(i >= 0 && i < count)
            yield buffer[i]
        }
        _modify {
            precondition(i >= 0 && i < count)
            yield &buffer[i]
        }
    }

    /// True if any endpoint satisfies `predicate`.
    func contains(where predicate: (borrowing ChannelEndpoint) -> Bool) -> Bool {
        for i in 0..<count where predicate(buffer[i]) { return true }
        return false
    }

    /// Drops (deinitialises) the endpoints `predicate` selects, keeping order.
    mutating func removeAll(where predicate: (borrowing ChannelEndpoint) -> Bool) {
        var kept = 0
        for i in 0..<count {
            let endpoint = (buffer + i).move()
            if predicate(endpoint) { continue }
            (buffer + kept).initialize(to: endpoint)
            kept += 1
        }
        count = kept
    }
}
