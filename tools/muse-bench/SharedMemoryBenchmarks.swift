#if canImport(Glibc)
import Glibc
#endif
import CMuse
import MuseClient

/// Round trips and throughput through a real mused on another CPU.
struct SharedMemoryBenchmarks {
    let channel: ClientChannel
    let intent: UInt32
    var features = [Double](repeating: 0.01, count: 16)

    init(connection: TenantConnection) throws {
        channel = try connection.claim()
        intent = try connection.intent(named: "card-not-present").id
    }

    /// One event in flight: submit, spin until its completion is read.
    mutating func roundTrip(events: Int) -> LatencyHistogram {
        var histogram = LatencyHistogram()
        var completion = muse_completion()
        let warmup = events / 10
        features.withUnsafeBufferPointer { x in
            withUnsafeMutablePointer(to: &completion) { out in
                let buffer = UnsafeMutableBufferPointer(start: out, count: 1)
                for i in 0..<(warmup + events) {
                    let start = muse__now_ns()
                    while channel.submit(tag: UInt64(i), intent: intent, features: x) != MUSE_OK { muse__cpu_relax() }
                    while channel.poll(into: buffer) == 0 { muse__cpu_relax() }
                    let end = muse__now_ns()
                    precondition(out.pointee.tag == UInt64(i) && out.pointee.status == 0)
                    if i >= warmup { histogram.record(end - start) }
                }
            }
        }
        return histogram
    }

    /// As many events in flight as the ring holds, submitted in batches.
    /// Returns events per second.
    mutating func throughput(events: Int, batch: Int = 64) -> Double {
        var requests = [muse_request](repeating: muse_request(), count: batch)
        var completions = [muse_completion](repeating: muse_completion(), count: 1024)
        var sent = 0, received = 0
        let start = muse__now_ns()
        features.withUnsafeBufferPointer { x in
            for i in requests.indices {
                requests[i] = muse_request(tag: 0, intent_id: intent, feature_count: 16, features: x.baseAddress)
            }
            requests.withUnsafeMutableBufferPointer { requests in
                completions.withUnsafeMutableBufferPointer { completions in
                    while received < events {
                        if sent < events {
                            let n = min(batch, events - sent)
                            for k in 0..<n { requests[k].tag = UInt64(sent + k) }
                            sent += channel.submit(UnsafeBufferPointer(rebasing: requests[0..<n]))
                        }
                        let got = channel.poll(into: completions)
                        if got == 0 { muse__cpu_relax() }
                        received += got
                    }
                }
            }
        }
        let seconds = Double(muse__now_ns() - start) / 1e9
        return Double(events) / seconds
    }

    /// One event after `idleMicroseconds` of silence, so the daemon has gone
    /// to sleep on its futex and the client sleeps in muse_wait.
    mutating func wakeFromIdle(samples: Int, idleMicroseconds: UInt32) -> LatencyHistogram {
        var histogram = LatencyHistogram()
        var completion = muse_completion()
        features.withUnsafeBufferPointer { x in
            withUnsafeMutablePointer(to: &completion) { out in
                let buffer = UnsafeMutableBufferPointer(start: out, count: 1)
                for i in 0..<samples {
                    usleep(idleMicroseconds)
                    let start = muse__now_ns()
                    _ = channel.submit(tag: UInt64(i), intent: intent, features: x)
                    var (status, _) = channel.wait(into: buffer, timeoutNanoseconds: 1_000_000_000)
                    while status != MUSE_OK { (status, _) = channel.wait(into: buffer, timeoutNanoseconds: 1_000_000_000) }
                    histogram.record(muse__now_ns() - start)
                }
            }
        }
        return histogram
    }
}
