import Foundation
import MuseControl
import Testing
@testable import MuseServer

/// Swift names changed (retire, `TenantState`); what musectl and mused
/// exchange did not: the same JSON both ways.
struct ControlWireNamesTests {
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    @Test func retiringATenantIsStillTheDrainCommandAndReport() throws {
        #expect(try Self.json(ControlRequest(command: .retire, tenant: "a")) == #"{"command":"drain","tenant":"a"}"#)
        let request = try JSONDecoder().decode(ControlRequest.self, from: Data(#"{"command":"drain","tenant":"a"}"#.utf8))
        #expect(request.command == .retire && request.tenant == "a")

        let report = RetirementReport(tenant: "a", answered: 3, left: 1, milliseconds: 2)
        let response = ControlResponse(ok: true, retirement: report)
        #expect(try Self.json(response) == #"{"drain":{"answered":3,"left":1,"milliseconds":2,"tenant":"a"},"ok":true}"#)
        let decoded = try JSONDecoder().decode(ControlResponse.self, from: Data(try Self.json(response).utf8))
        #expect(decoded.retirement == report)
    }

    @Test func aTenantsStateIsTheSameWord() throws {
        #expect(try Self.json([TenantState.serving, .retired]) == #"["serving","drained"]"#)
        let info = TenantInfo(name: "a", state: .retired, path: "/run/muse/a.muse", group: nil, channels: 1,
                              claimedChannels: 0, ringDepth: 8, maxFeatures: 4, inFlight: 0, weight: 1,
                              rateLimit: nil, burst: nil)
        #expect(try Self.json(info).contains(#""state":"drained""#))
        #expect(try JSONDecoder().decode(TenantInfo.self, from: Data(try Self.json(info).utf8)) == info)
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode(TenantState.self, from: Data(#""retired""#.utf8))
        }
    }
}
