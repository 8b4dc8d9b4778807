import Testing
@testable import MuseServer

/// `shadow_sample = k`: a tenant's shadows score 1 in k of its runs, the
/// first and then every k-th, per tenant.
struct ShadowSamplingTests {
    @Test func oneRunInKPerTenantDeterministically() {
        let sampling = ShadowSampling(every: [1, 3, 1_000_000])
        let first = (0..<9).map { _ in sampling.takes(tenant: 1) }
        #expect(first == [true, false, false, true, false, false, true, false, false])
        #expect((0..<5).allSatisfy { _ in sampling.takes(tenant: 0) })
        #expect(sampling.takes(tenant: 2) && !(0..<1000).contains { _ in sampling.takes(tenant: 2) })
        // A tenant a reload added past the table: every run, until the next pick-up.
        #expect(sampling.takes(tenant: 7) && sampling.takes(tenant: 7))
        #expect(ShadowSampling(every: []).takes(tenant: 0))
    }
}
