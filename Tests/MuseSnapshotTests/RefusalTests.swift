import CLZ4
import Foundation
import Testing
import MuseScoring
@testable import MuseSnapshot

/// Every way a snapshot is refused, each with the reason it must name.
@Suite struct RefusalTests {
    static let good = try! SnapshotWriter.encode(Examples.generation1)
    static let goodContainer = SnapshotWriter.container(Examples.generation1)

    @Test func theGoodFileLoads() throws {
        _ = try SnapshotLoader(io: .plainRead).load(bytes: Self.good)
    }

    @Test(arguments: [0, 3, 7, 20, 100, 1000, -1, -4, -5])
    func aTruncatedFileIsRefused(cut: Int) throws {
        let keep = cut >= 0 ? cut : Self.good.count + cut
        let e = try #require(refusal(Array(Self.good.prefix(keep))))
        guard case .lz4(let why) = e else { Issue.record("\(e)"); return }
        #expect(why.contains("truncated") || why.contains("not an LZ4 frame"), "\(why)")
    }

    /// One flipped byte anywhere in the file: the LZ4 frame's checksums
    /// (header, content) or the container's catch it. Never a crash.
    @Test func aFlippedByteAnywhereInTheFileIsRefused() throws {
        let n = Self.good.count
        let offsets = Set((0..<200).map { $0 * (n - 1) / 199 } + Array(0..<24) + Array(n - 8..<n))
        for offset in offsets.sorted() {
            var bad = Self.good
            bad[offset] ^= 0x5A
            #expect(refusal(bad) != nil, "flipped byte at \(offset) of \(n) was accepted")
        }
    }

    /// Without the frame's XXH32, a flipped byte in the compressed data is
    /// still refused: by the LZ4 decoder, or by the container's hashes of
    /// whatever it decoded to. (Only the XXH32 field itself is then unchecked.)
    @Test func theContainerHashesCatchWhatTheFrameChecksumWouldHave() throws {
        let loader = SnapshotLoader(io: .plainRead, verifyFrameChecksum: false)
        let n = Self.good.count
        for offset in stride(from: 24, to: n - 8, by: (n - 32) / 150) {
            var bad = Self.good
            bad[offset] ^= 0x20
            #expect(refusal(bad, loader: loader) != nil, "flipped byte at \(offset) of \(n) was accepted")
        }
    }

    /// The same inside the container (as if the frame were rewritten around
    /// a corrupted container): the header hash, the table hash or the
    /// section's xxh64 names what was hit.
    @Test func aFlippedByteAnywhereInTheContainerIsRefusedByItsChecksums() throws {
        let c = Self.goodContainer
        let n = c.count
        for offset in Set((0..<200).map { $0 * (n - 1) / 199 }).sorted() {
            var bad = c
            bad[offset] ^= 0x01
            let e = try #require(refusal(try frame(bad)), "flipped byte at \(offset) was accepted")
            switch e {
            case .checksumMismatch, .badMagic, .unsupportedVersion, .malformedHeader, .malformedSection: break
            default: Issue.record("offset \(offset): unexpected \(e)")
            }
        }
    }

    @Test func aWrongMagicIsRefused() throws {
        var c = Self.goodContainer
        c[0] = UInt8(ascii: "X")
        let e = try #require(refusal(try frame(c)))
        #expect(e == .badMagic(found: Array("XUSESNAP".utf8)))
        #expect(e.description.contains("not a Muse snapshot"))
        // And a file that is not an LZ4 frame at all.
        let raw = try #require(refusal(Self.goodContainer))
        #expect(raw.description.contains("not an LZ4 frame"))
    }

    @Test func aNewerFormatVersionIsRefused() throws {
        var c = Self.goodContainer
        put(UInt32(SnapshotFormat.version + 1), at: 8, in: &c)
        let e = try #require(refusal(try frame(c)))
        #expect(e == .unsupportedVersion(found: SnapshotFormat.version + 1, supported: SnapshotFormat.version))
        #expect(e.description.contains("newer than this Muse supports"))
    }

    @Test func aCanaryMismatchIsRefused() throws {
        var contents = Examples.generation1
        let s = contents.canaries[5].expected[0].score
        contents.canaries[5].expected[0].score = Double(bitPattern: s.bitPattern ^ 1)  // one ulp
        let e = try #require(refusal(try SnapshotWriter.encode(contents)))
        guard case .canaryMismatch(let why) = e else { Issue.record("\(e)"); return }
        #expect(why.contains("canary 5"))
    }

    @Test func aRouteToAMissingPredictorIsRefused() throws {
        var contents = Examples.generation1
        contents.routes.append(RouteSpec(tenant: "shop-b", intent: "account-login", predictor: "login-v9"))
        let e = try #require(refusal(try SnapshotWriter.encode(contents)))
        guard case .invalidRouting(let why) = e else { Issue.record("\(e)"); return }
        #expect(why.contains("login-v9"))
        // A shadow too.
        contents = Examples.generation1
        contents.routes[0].shadows.append("ghost")
        #expect(refusal(try SnapshotWriter.encode(contents))?.description.contains("ghost") == true)
    }

    /// Written past the manifest's check (as a hand-made or hostile file
    /// would be): the tenant name of a route must still be one mused could
    /// give a segment.
    @Test(arguments: ["../alpha", "a/b", ".hidden", "a b", "nul\u{0}", String(repeating: "x", count: 64)])
    func aRouteToAnInvalidTenantNameIsRefused(name: String) throws {
        var contents = Examples.generation1
        var route = contents.routes[0]
        route.tenant = name
        contents.routes.append(route)
        let e = try #require(refusal(try SnapshotWriter.encode(contents)))
        guard case .invalidRouting(let why) = e else { Issue.record("\(e)"); return }
        #expect(why.contains("route \(name)/\(route.intent)") && why.contains("tenant name"), "\(why)")
    }

    @Test func aRouteWhosePredictorTakesOtherFeaturesIsRefused() throws {
        var contents = Examples.generation1
        contents.routes.append(RouteSpec(tenant: "shop-b", intent: "account-login", predictor: "cnp-v1"))
        let e = try #require(refusal(try SnapshotWriter.encode(contents)))
        #expect(e.description.contains("takes features"))
    }

    @Test func aNonMonotoneMapIsRefused() throws {
        let text = """
            muse-score-maps 1
            map
            predictor cnp-v1
            tenant *
            reference uniform
            knots 3
            0.1 0.0
            0.5 0.7
            0.9 0.6
            end

            """
        let c = container(Examples.generation1, replacing: .scoreMaps, with: Array(text.utf8))
        let e = try #require(refusal(try frame(c)))
        guard case .invalidScoreMaps(let why) = e else { Issue.record("\(e)"); return }
        #expect(why.contains("monotone"))
    }

    @Test func aSchemaChangeIsRefusedUnlessAllowed() throws {
        let serving = try SnapshotLoader(io: .plainRead).load(bytes: Self.good)
        var contents = Examples.generation1
        contents.generationID = 3
        let i = contents.intents.firstIndex { $0.name == "account-login" }!
        let old = contents.intents[i]
        // Same features, reordered: the models would read the wrong columns.
        contents.intents[i] = IntentSchema(name: old.name, id: old.id, featureNames: old.featureNames.reversed())
        contents.routes.removeAll { $0.intent == old.name }
        contents.canaries.removeAll { $0.intent == old.name }
        let candidate = try SnapshotLoader(io: .plainRead).load(bytes: try SnapshotWriter.encode(contents))
        do {
            try candidate.verify(against: serving.intents, allowSchemaChange: false)
            Issue.record("a reordered schema was accepted")
        } catch {
            #expect(error == .schemaChanged("account-login", error.schemaReason))
            #expect(error.description.contains("--allow-schema-change"))
        }
        try candidate.verify(against: serving.intents, allowSchemaChange: true)
        // An id moved to another name is a change too.
        var moved = Examples.generation1
        moved.intents = moved.intents.map { $0.name == "card-present" ? IntentSchema(name: "card-present", id: 9, featureNames: $0.featureNames) : $0 }
        let m = try SnapshotLoader(io: .plainRead).load(bytes: try SnapshotWriter.encode(moved))
        #expect(throws: SnapshotError.self) { try m.verify(against: serving.intents, allowSchemaChange: false) }
    }

    // MARK: hostile values

    @Test func aHugeSectionCountIsRefusedWithoutAllocating() throws {
        for count in [UInt32(65), UInt32(1 << 20), UInt32.max] {
            var c = Self.goodContainer
            put(count, at: 32, in: &c)
            rehashHeader(&c)
            let e = try #require(refusal(try frame(c)))
            guard case .malformedHeader(let why) = e else { Issue.record("\(e)"); continue }
            #expect(why.contains("sections"))
        }
    }

    @Test func aSectionOutsideTheContainerIsRefused() throws {
        for (field, value) in [(8, UInt64.max), (8, UInt64(1) << 40), (0, UInt64.max), (0, UInt64(3))] {
            var c = Self.goodContainer
            // First entry of the table: kind, reserved, offset (+8), length (+16).
            put(value, at: 64 + 8 + field, in: &c)
            let table = Array(c[64..<64 + 9 * 32])
            put(XXH64.hash(table), at: 48, in: &c)
            rehashHeader(&c)
            let e = try #require(refusal(try frame(c)))
            guard case .malformedSection(_, let why) = e else { Issue.record("\(e)"); continue }
            #expect(why.contains("outside"))
        }
    }

    @Test func hugeCountsInsideASectionAreRefused() throws {
        // An intents section claiming 2^32 − 1 intents, another a feature
        // name of 2^32 − 1 bytes, with checksums that match.
        for bytes: [UInt8] in [[0xFF, 0xFF, 0xFF, 0xFF], [1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x61]] {
            let c = container(Examples.generation1, replacing: .intents, with: bytes)
            let e = try #require(refusal(try frame(c)))
            guard case .malformedSection(let s, let why) = e else { Issue.record("\(e)"); continue }
            #expect(s == "intents" && why.contains("bytes left"), "\(why)")
        }
        // Flat node arrays longer than the section.
        var w = ByteWriter()
        w.count(1); w.string("m"); w.u8(1); w.strings(["a"]); w.u8(1); w.f64(1); w.u8(1); w.f64(1); w.f64(0)
        w.u32(UInt32.max); w.u32(1); w.u32(4); w.u32(0); w.align(16)
        let c = container(Examples.generation1, replacing: .models, with: w.bytes)
        let e = try #require(refusal(try frame(c)))
        #expect(e.description.contains("models") && e.description.contains("bytes left"), "\(e)")
    }

    @Test(arguments: [UInt64(1) << 50, UInt64(1) << 30, UInt64(1) << 28])
    func anLZ4FrameDeclaringAHugeSizeIsRefusedBeforeAllocating(size: UInt64) throws {
        var prefs = LZ4F_preferences_t()
        prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        prefs.frameInfo.contentSize = size
        var cctx: OpaquePointer?
        _ = LZ4F_createCompressionContext(&cctx, UInt32(LZ4F_VERSION))
        defer { LZ4F_freeCompressionContext(cctx) }
        var header = [UInt8](repeating: 0, count: 64)
        let n = LZ4F_compressBegin(cctx, &header, header.count, &prefs)
        #expect(LZ4F_isError(n) == 0)
        let file = Array(header[0..<n]) + [0, 0, 0, 0] + Array(repeating: 0, count: 100)
        let e = try #require(refusal(file))
        // Over the default limit (512 MiB): refused as such; under it, refused as
        // more than 112 bytes of LZ4 could ever decode to.
        #expect(e.description.contains(size > SnapshotLoader.defaultMaximumSize ? "over the limit" : "implausible"), "\(e)")
    }

    @Test func aFlatTreeThatWouldWalkOutOfBoundsIsRefused() throws {
        let g = Examples.generation1
        guard case .trees(let t) = g.models.first(where: { $0.name == "cnp-forest" })!.model else { Issue.record(); return }
        var f = t.flatArrays
        f.nodes[5].skip = -32 * 16  // backwards: a walk could loop forever
        #expect(throws: ModelImportError.self) { try TreeEnsemble(flat: f) }
        f = t.flatArrays
        f.nodes[3].slot = 1 << 20  // past the scratch
        #expect(throws: ModelImportError.self) { try TreeEnsemble(flat: f) }
        f = t.flatArrays
        f.laneStarts = [UInt32(f.nodes.count)] + f.laneStarts.dropFirst()
        #expect(throws: ModelImportError.self) { try TreeEnsemble(flat: f) }
        f = t.flatArrays
        f.nodes[1].skip = Int32.max - 15  // lands past the end
        #expect(throws: ModelImportError.self) { try TreeEnsemble(flat: f) }
        // Unchanged, it is accepted.
        _ = try TreeEnsemble(flat: t.flatArrays)
    }
}

extension SnapshotError {
    var schemaReason: String {
        if case .schemaChanged(_, let why) = self { return why }
        return ""
    }
}
