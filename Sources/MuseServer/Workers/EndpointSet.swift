import MuseIPC

/// The channels one worker drains. `ChannelEndpoint` is non-copyable, so the
/// worker owns them in a buffer of its own: moved in once, never shared.
struct EndpointSet: ~Copyable {
    private var buffer: UnsafeMutablePointer<ChannelEndpoint>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        buffer = .allocate(capacity: self.capacity)
    }

    deinit {
        buffer.deinitialize(count: count)
        buffer.deallocate()
    }

    /// Adds an endpoint, growing the buffer if needed (cold path: a tenant
    /// added by a reload).
    mutating func append(_ endpoint: consuming ChannelEndpoint) {
        if count == capacity {
            let larger = UnsafeMutablePointer<ChannelEndpoint>.allocate(capacity: capacity * 2)
            larger.moveInitialize(from: buffer, count: count)
            buffer.deallocate()
            buffer = larger
            capacity *= 2
        }
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

    /// Channels freed so far by these endpoints (cold path: before a sleep).
    var reclaims: UInt64 {
        var total: UInt64 = 0
        for i in 0..<count { total &+= buffer[i].reclaims }
        return total
    }

    /// True if every endpoint satisfies `predicate`.
    func allSatisfy(_ predicate: (borrowing ChannelEndpoint) -> Bool) -> Bool {
        !contains { !predicate($0) }
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
