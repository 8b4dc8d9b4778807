#if canImport(Glibc)
import Glibc
#endif
import CMuse
import CMuseBenchFloor
import MuseClient

/// What `muse-bench latency`'s open-loop generator needs of whatever carries
/// its events, so that Muse and the machine's floor run the same generator.
protocol OpenLoopTransport {
    /// Sends an event tagged `tag`; false when the ring is full (read first).
    mutating func send(tag: UInt64) -> Bool
    /// The answers already there: their tags into `tags`, and how many were errors.
    mutating func poll(into tags: UnsafeMutableBufferPointer<UInt64>) -> (count: Int, errors: Int)
    /// The same, waiting up to `timeoutNanoseconds` for the first.
    mutating func wait(into tags: UnsafeMutableBufferPointer<UInt64>, timeoutNanoseconds: Int64) -> (count: Int, errors: Int)
    /// Announces an event soon (Muse's `muse_prepare`); nothing elsewhere.
    mutating func prepare()
}

/// A Muse channel: the event is the intent's features, the tag comes back in
/// its completion.
struct MuseTransport: OpenLoopTransport {
    let channel: ClientChannel
    let intent: UInt32
    let features: [Double]
    let policy: muse_idle_policy
    private var completions = [muse_completion](repeating: muse_completion(), count: 256)

    init(channel: ClientChannel, intent: UInt32, features: [Double], policy: muse_idle_policy) {
        self.channel = channel
        self.intent = intent
        self.features = features
        self.policy = policy
    }

    mutating func send(tag: UInt64) -> Bool {
        features.withUnsafeBufferPointer { channel.submit(tag: tag, intent: intent, features: $0) == MUSE_OK }
    }

    mutating func poll(into tags: UnsafeMutableBufferPointer<UInt64>) -> (count: Int, errors: Int) {
        let channel = channel
        let n = completions.withUnsafeMutableBufferPointer { channel.poll(into: UnsafeMutableBufferPointer(rebasing: $0[0..<tags.count])) }
        return copy(n, into: tags)
    }

    mutating func wait(into tags: UnsafeMutableBufferPointer<UInt64>, timeoutNanoseconds: Int64) -> (count: Int, errors: Int) {
        let (channel, policy) = (channel, policy)
        let (status, n) = completions.withUnsafeMutableBufferPointer {
            channel.wait(into: UnsafeMutableBufferPointer(rebasing: $0[0..<tags.count]), timeoutNanoseconds: timeoutNanoseconds,
                         policy: policy)
        }
        return status == MUSE_OK ? copy(n, into: tags) : (0, 0)
    }

    mutating func prepare() { _ = channel.prepare() }

    private func copy(_ n: Int, into tags: UnsafeMutableBufferPointer<UInt64>) -> (count: Int, errors: Int) {
        var errors = 0
        for i in 0..<n {
            tags[i] = completions[i].tag
            if completions[i].status != 0 { errors += 1 }
        }
        return (n, errors)
    }
}

/// One lane of the bare shared-memory ping-pong (FloorBaseline).
struct FloorTransport: OpenLoopTransport {
    let floor: OpaquePointer
    let lane: UInt32
    /// Sleeps on the lane's futex while waiting (else spins).
    let sleeps: Bool

    mutating func send(tag: UInt64) -> Bool { muse_floor_send(floor, lane, tag) == 0 }

    mutating func poll(into tags: UnsafeMutableBufferPointer<UInt64>) -> (count: Int, errors: Int) {
        (Int(muse_floor_poll(floor, lane, tags.baseAddress, UInt32(tags.count))), 0)
    }

    mutating func wait(into tags: UnsafeMutableBufferPointer<UInt64>, timeoutNanoseconds: Int64) -> (count: Int, errors: Int) {
        (Int(muse_floor_wait(floor, lane, tags.baseAddress, UInt32(tags.count), timeoutNanoseconds, sleeps ? 1 : 0)), 0)
    }

    mutating func prepare() {}
}
