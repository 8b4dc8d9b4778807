import CMuse

/// An open tenant segment (muse.h's muse_client), from Swift.
public final class TenantConnection: @unchecked Sendable {
    let raw: UnsafeMutablePointer<muse_client>

    /// Opens `<runtimeDirectory>/<tenant>.muse`.
    public convenience init(runtimeDirectory: String = MUSE_DEFAULT_RUNTIME_DIR, tenant: String) throws {
        try self.init(path: "\(runtimeDirectory)/\(tenant)\(MUSE_SEGMENT_SUFFIX)")
    }

    public init(path: String) throws {
        // Fail before `raw` is set: deinit runs only for a fully initialised object.
        let client = UnsafeMutablePointer<muse_client>.allocate(capacity: 1)
        let status = muse_open(client, path)
        guard status == MUSE_OK else {
            let error = MuseClientError(status, "open \(path)")
            client.deallocate()
            throw error
        }
        raw = client
    }

    deinit {
        muse_close(raw)
        raw.deallocate()
    }

    public var ringDepth: Int { Int(raw.pointee.ring_depth) }
    public var channelCount: Int { Int(raw.pointee.channel_count) }
    public var maxFeatures: Int { Int(raw.pointee.max_features) }
    public var incarnation: UInt64 { muse_incarnation(raw) }

    /// True if the daemon serves and beat within `maxAgeNanoseconds`.
    public func daemonIsAlive(maxAgeNanoseconds: UInt64 = 1_000_000_000) -> Bool {
        muse_daemon_alive(raw, maxAgeNanoseconds) != 0
    }

    public func intent(named name: String) throws -> muse_intent_info {
        var info = muse_intent_info()
        let status = muse_lookup_intent(raw, name, &info)
        guard status == MUSE_OK else { throw MuseClientError(status, "intent '\(name)'") }
        return info
    }

    /// Claims a free channel for the calling thread.
    public func claim() throws -> ClientChannel {
        try ClientChannel(connection: self)
    }
}

/// A claimed channel (muse.h's muse_channel). One thread at a time.
public final class ClientChannel: @unchecked Sendable {
    public let connection: TenantConnection
    let raw: UnsafeMutablePointer<muse_channel>

    init(connection: TenantConnection) throws {
        let channel = UnsafeMutablePointer<muse_channel>.allocate(capacity: 1)
        let status = muse_claim(connection.raw, channel)
        guard status == MUSE_OK else {
            let error = MuseClientError(status, "claim")
            channel.deallocate()
            throw error
        }
        self.connection = connection
        raw = channel
    }

    deinit {
        muse_release(raw)
        raw.deallocate()
    }

    public var index: Int { Int(raw.pointee.index) }

    /// Submits one event; MUSE_E_AGAIN when the ring is full.
    @inlinable
    public func submit(tag: UInt64, intent: UInt32, features: UnsafeBufferPointer<Double>) -> muse_status {
        muse_submit(rawChannel, tag, intent, features.baseAddress, UInt32(features.count))
    }

    /// Submits a batch with one publication; returns how many were taken.
    @inlinable
    public func submit(_ requests: UnsafeBufferPointer<muse_request>) -> Int {
        muse_submit_batch(rawChannel, requests.baseAddress, requests.count)
    }

    /// Tells mused an event is coming (muse.h, `muse_prepare`): a sleeping
    /// worker wakes now, while the caller computes the event's features,
    /// and the slot the event goes to is fetched into the cache.
    @inlinable
    @discardableResult
    public func prepare() -> muse_status { muse_prepare(rawChannel) }

    /// Reads completions without blocking; returns how many.
    @inlinable
    public func poll(into out: UnsafeMutableBufferPointer<muse_completion>) -> Int {
        muse_poll(rawChannel, out.baseAddress, out.count)
    }

    /// Waits up to `timeoutNanoseconds` (< 0: forever) for completions.
    @inlinable
    public func wait(into out: UnsafeMutableBufferPointer<muse_completion>, timeoutNanoseconds: Int64) -> (muse_status, Int) {
        var count = 0
        let status = muse_wait(rawChannel, out.baseAddress, out.count, &count, timeoutNanoseconds)
        return (status, count)
    }

    /// As `wait`, with an idle policy (muse.h's muse_wait_idle).
    @inlinable
    public func wait(into out: UnsafeMutableBufferPointer<muse_completion>, timeoutNanoseconds: Int64,
                     policy: muse_idle_policy) -> (muse_status, Int) {
        var count = 0
        let status = muse_wait_idle(rawChannel, out.baseAddress, out.count, &count, timeoutNanoseconds, policy)
        return (status, count)
    }

    @usableFromInline var rawChannel: UnsafeMutablePointer<muse_channel> { raw }
}
