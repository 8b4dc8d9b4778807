#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import MuseClient
import Testing

/// The Swift client (MuseClient) against a real mused.
@Suite(.serialized)
struct SwiftClientTests {
    @Test func swiftClientScoresAndReportsErrorsByName() throws {
        let daemon = try DaemonUnderTest(tenants: ["swift::2:32"])
        let connection = try TenantConnection(runtimeDirectory: daemon.runtimeDirectory, tenant: "swift")
        #expect(connection.channelCount == 2 && connection.ringDepth == 32)
        #expect(connection.daemonIsAlive())
        let intent = try connection.intent(named: "card-present")
        #expect(intent.feature_count == 8)
        #expect(throws: MuseClientError.self) { try connection.intent(named: "no-such-intent") }

        let channel = try connection.claim()
        var completions = [muse_completion](repeating: muse_completion(), count: 32)
        var answered = 0
        for batch in 0..<100 {
            for k in 0..<20 {
                let x = (0..<8).map { Double(batch * 20 + k) / 1000 + Double($0) / 100 }
                let status = x.withUnsafeBufferPointer { channel.submit(tag: UInt64(batch * 20 + k), intent: intent.id, features: $0) }
                try #require(status == MUSE_OK)
            }
            var got = 0
            while got < 20 {
                let (status, n) = completions.withUnsafeMutableBufferPointer { channel.wait(into: $0, timeoutNanoseconds: 1_000_000_000) }
                try #require(status == MUSE_OK)
                for c in completions[0..<n] {
                    let i = Int(c.tag)
                    let margin = (0..<8).map { Double(i) / 1000 + Double($0) / 100 }.reduce(0, +)
                    #expect(c.status == 0 && c.score == 1 / (1 + exp(-margin)))
                }
                got += n
            }
            answered += got
        }
        #expect(answered == 2000)

        // Claiming past the segment's channels is refused by name.
        let second = try connection.claim()
        #expect { try connection.claim() } throws: { error in
            (error as? MuseClientError)?.status == MUSE_E_NO_CHANNEL && "\(error)".contains("no free channel")
        }
        _ = second
        #expect { try TenantConnection(runtimeDirectory: daemon.runtimeDirectory, tenant: "nobody") } throws: { error in
            "\(error)".contains("No such file or directory")
        }
    }

    /// mused with no configuration: the embedded default's tenants demo-a and
    /// demo-b, served the demo generation it carries (a LightGBM model, its
    /// level-1 correction and a map per tenant), not the check generation.
    @Test func theEmbeddedDefaultServesTwoDemoTenantsARealModel() throws {
        let daemon = try DaemonUnderTest(tenants: [])
        #expect(daemon.child.output.contains("tenants=2"), "\(daemon.child.output)")
        for tenant in ["demo-a", "demo-b"] {
            let connection = try TenantConnection(runtimeDirectory: daemon.runtimeDirectory, tenant: tenant)
            let intent = try connection.intent(named: "card-not-present")
            #expect(intent.id == 1 && intent.feature_count == 6)
            let channel = try connection.claim()
            var completion = [muse_completion](repeating: muse_completion(), count: 1)
            var differ = 0
            for i in 0..<50 {
                let x = (0..<6).map { Double((i * 7 + $0 * 3) % 19) / 4 - 2.25 }
                try #require(x.withUnsafeBufferPointer { channel.submit(tag: UInt64(i), intent: 1, features: $0) } == MUSE_OK)
                let (status, n) = completion.withUnsafeMutableBufferPointer { channel.wait(into: $0, timeoutNanoseconds: 5_000_000_000) }
                try #require(status == MUSE_OK && n == 1)
                let c = completion[0]
                #expect(c.status == 0 && c.tag == UInt64(i) && c.generation_id == 1)
                #expect((0...1).contains(c.score) && (0...1).contains(c.raw_score))
                if c.score != c.raw_score { differ += 1 }
            }
            #expect(differ > 40, "\(tenant): the maps changed only \(differ) of 50 scores")
        }
    }
}
