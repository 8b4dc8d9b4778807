#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import MuseControl
import MuseIPC
import Testing
@testable import MuseServer

/// `Daemon.retire`: in-flight events answered, then the tenant's channels
/// given up, while the other tenants carry on. In process, with a real
/// muse.h client.
@Suite(.serialized)
struct TenantRetirementTests {
    init() { Log.muted.store(true, ordering: .relaxed) }

    @Test func aRetirementAnswersWhatWasSubmittedEvenWhenItWaitsForRoom() throws {
        let dir = GenerationSwapTests.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tenants = [TenantConfiguration(name: "a", channels: 1, ringDepth: 32),
                       TenantConfiguration(name: "b", channels: 1, ringDepth: 32)]
        let daemon = Daemon(configuration: DaemonConfiguration(runtimeDirectory: "\(dir)/run", tenants: tenants)) {
            try GenerationSwapTests.generation(1, tenants: $0)
        }
        try daemon.start()
        defer { daemon.stop() }
        #expect(throws: TenantChangeError.self) { try daemon.retire(tenant: "nobody") }

        var client = muse_client()
        try #require(muse_open_tenant(&client, "\(dir)/run", "a") == MUSE_OK)
        defer { muse_close(&client) }
        var channel = muse_channel()
        try #require(muse_claim(&client, &channel) == MUSE_OK)
        // Two rings' worth: 32 answered into the completion ring, 32 waiting for room.
        var sent: UInt64 = 0
        let until = Date().addingTimeInterval(5)
        while sent < 64 && Date() < until {
            var x: [Double] = [1, 2, 3]
            if muse_submit(&channel, sent, 7, &x, 3) == MUSE_OK { sent += 1 } else { usleep(1000) }
        }
        try #require(sent == 64)

        let report = Locked<RetirementReport?>(nil)
        let retirer = Thread { report.withLock { $0 = try? daemon.retire(tenant: "a") } }
        retirer.start()
        usleep(50_000)
        // Reading makes room; the retirement answers the 32 that waited.
        var received: UInt64 = 0, outOfOrder = 0
        var done = [muse_completion](repeating: muse_completion(), count: 16)
        let deadline = Date().addingTimeInterval(5)
        while received < 64 && Date() < deadline {
            let n = muse_poll(&channel, &done, 16)
            for c in done[0..<n] {
                if c.tag != received || c.status != 0 { outOfOrder += 1 }
                received += 1
            }
            if n == 0 { usleep(500) }
        }
        #expect(received == 64 && outOfOrder == 0)
        while report.withLock({ $0 }) == nil && Date() < deadline { usleep(1000) }
        let retired = try #require(report.withLock { $0 })
        #expect(retired.answered == 32 && retired.left == 0, "\(retired)")
        #expect(daemon.tenants.tenantInfo().first { $0.name == "a" }?.state == .retired)

        // Nothing more is answered for a; b is served as before.
        var x: [Double] = [1, 2, 3]
        #expect(muse_submit(&channel, 64, 7, &x, 3) == MUSE_OK)
        usleep(100_000)
        #expect(muse_poll(&channel, &done, 16) == 0)
        var other = muse_client()
        try #require(muse_open_tenant(&other, "\(dir)/run", "b") == MUSE_OK)
        defer { muse_close(&other) }
        var otherChannel = muse_channel()
        try #require(muse_claim(&other, &otherChannel) == MUSE_OK)
        #expect(muse_submit(&otherChannel, 1, 7, &x, 3) == MUSE_OK)
        var n = 0
        #expect(muse_wait(&otherChannel, &done, 16, &n, 2_000_000_000) == MUSE_OK && n == 1)
        // b is the last tenant served: retiring it is refused.
        #expect(throws: TenantChangeError.self) { try daemon.retire(tenant: "b") }
    }
}
