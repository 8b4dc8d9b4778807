import Testing
@testable import MuseScoring

/// XGBoost's binary model (`save_model("m.ubj")`, also its default for names
/// like `model.model`) imports to the same model as its JSON twin.
@Suite struct UBJSONImportTests {
    @Test(arguments: Fixtures.xgboost)
    func ubjsonScoresLikeJSON(_ name: String) throws {
        let jsonBytes = try Fixtures.bytes("\(name).xgb.json")
        let ubj = UBJSONEncoder.encode(try JSONParser.parse(jsonBytes))
        #expect(ubj.contains(UInt8(ascii: "d")) && ubj.starts(with: Array("{U".utf8)))
        #expect(try ModelImporter.detectFormat(ubj) == .xgboost)
        let fromJSON = try ModelImporter.load(jsonBytes)
        let fromUBJ = try ModelImporter.load(ubj)
        #expect(fromUBJ.featureNames == fromJSON.featureNames)
        let c = try Fixtures.load("\(name).xgb", modelFile: "\(name).xgb.json")
        let width = fromJSON.featureNames.count
        for i in 0..<c.rows.rowCount {
            let row = c.rows.row(i, width: width)
            let m = try fromUBJ.checkedMargin(row), p = try fromUBJ.checkedProbability(row)
            #expect(m.bitPattern == c.margins[i].bitPattern, "row \(i + 2): margin \(m) vs \(c.margins[i])")
            #expect(p.bitPattern == c.probabilities[i].bitPattern, "row \(i + 2): probability \(p) vs \(c.probabilities[i])")
            #expect(m.bitPattern == (try fromJSON.checkedMargin(row)).bitPattern)
        }
    }

    /// Saved by XGBoost 3.2 itself (tools/fixtures/make_model_fixtures.py
    /// --only ubj), scored against XGBoost's predictions from that file.
    @Test(arguments: TreeEnsemble.Layout.allCases)
    func realXGBoostUBJ(_ layout: TreeEnsemble.Layout) throws {
        let bytes = try Fixtures.bytes("numpy_ubj.xgb.ubj")
        #expect(UBJSONParser.looksLikeUBJSON(bytes))
        let c = try Fixtures.load("numpy_ubj.xgb", modelFile: "numpy_ubj.xgb.ubj", layout: layout)
        #expect(c.model.featureNames == ["f0", "f1", "f2", "f3"])
        #expect((c.model as? TreeEnsemble)?.layout == layout)
        try FixtureExactnessTests().check(c)
    }

    @Test func float32ArrivesAsTheJSONDouble() throws {
        // [$d#U 2 then 0.1f and 2.727787e-1f]
        var bytes = Array("[$d#".utf8) + [UInt8(ascii: "U"), 2]
        UBJSONEncoder.bigEndian(UInt64(Float(0.1).bitPattern), bytes: 4, into: &bytes)
        UBJSONEncoder.bigEndian(UInt64(Float("2.727787E-1")!.bitPattern), bytes: 4, into: &bytes)
        guard case .array(let a) = try UBJSONParser.parse(bytes), case .number(let s0) = a[0], case .number(let s1) = a[1] else {
            Issue.record("not an array of numbers"); return
        }
        #expect(Float(s0) == Float(0.1) && Double(s0) == Double(Float(0.1)))
        #expect(Float(s1) == Float("2.727787E-1") && Double(s1) == Double(Float("2.727787E-1")!))
    }

    @Test func countedUntypedContainersAndNoOps() throws {
        // {#U 2 key "a" -> i -3, key "b" -> [#U 2 T Z]}, then an array with no-ops.
        let obj: [UInt8] = Array("{#".utf8) + [UInt8(ascii: "U"), 2, UInt8(ascii: "U"), 1, UInt8(ascii: "a"), UInt8(ascii: "i"), 0xFD,
                                              UInt8(ascii: "U"), 1, UInt8(ascii: "b")] + Array("[#".utf8) + [UInt8(ascii: "U"), 2] + Array("TZ".utf8)
        #expect(try UBJSONParser.parse(obj) == .object(["a": .number("-3"), "b": .array([.bool(true), .null])]))
        #expect(try UBJSONParser.parse(Array("[NSU\u{2}hi]".utf8)) == .array([.string("hi")]))
    }

    static let malformed: [(String, [UInt8])] = [
        ("truncated object", Array("{U\u{5}lea".utf8)),
        ("truncated float", Array("[$d#U\u{2}".utf8) + [0x3F, 0x80, 0, 0, 0x3F]),
        ("huge count", Array("[$d#L".utf8) + [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        ("huge typed int count", Array("[$l#l".utf8) + [0x00, 0x10, 0x00, 0x00, 1, 2, 3, 4]),
        ("negative count", Array("[#i".utf8) + [0xFF]),
        ("huge string length", Array("{U\u{1}aSl".utf8) + [0x7F, 0xFF, 0xFF, 0xFF]),
        ("huge key length", Array("{L".utf8) + [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        ("bad marker", Array("{U\u{1}aX}".utf8)),
        ("bad key length marker", Array("{$U#U\u{1}Sx".utf8)),
        ("typed without count", Array("[$d]".utf8)),
        ("unclosed array", Array("{U\u{1}a[U\u{1}".utf8)),
        ("deep nesting", Array("{U\u{1}a".utf8) + [UInt8](repeating: UInt8(ascii: "["), count: 10_000)),
        ("trailing bytes", Array("{U\u{1}aZ}x".utf8)),
    ]

    @Test(arguments: 0..<malformed.count)
    func malformedIsRefused(_ k: Int) {
        let (what, bytes) = Self.malformed[k]
        #expect(UBJSONParser.looksLikeUBJSON(bytes) || bytes.first == UInt8(ascii: "["), "\(what)")
        #expect(throws: (any Error).self, "\(what)") { _ = try UBJSONParser.parse(bytes) }
        if UBJSONParser.looksLikeUBJSON(bytes) {
            #expect(throws: ModelImportError.self, "\(what)") { _ = try ModelImporter.load(bytes) }
        }
    }

    /// Every truncation of a real file is refused, and damaged bytes either
    /// import or are refused: never a crash or an unbounded allocation.
    @Test func truncatedAndDamagedRealFile() throws {
        let bytes = try Fixtures.bytes("numpy_ubj.xgb.ubj")
        for n in 0..<bytes.count {
            #expect(throws: ModelImportError.self, "first \(n) bytes") { _ = try ModelImporter.load(Array(bytes[0..<n])) }
        }
        var rng = SplitMix64(seed: 5)
        for _ in 0..<3000 {
            var damaged = bytes
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let at = 1 + Int(rng.next() % UInt64(bytes.count - 1))
                damaged[at] = rng.next() % 4 == 0 ? 0x7F : UInt8(truncatingIfNeeded: rng.next())
            }
            do { _ = try ModelImporter.load(damaged) } catch {}
        }
    }

    @Test func errorNamesFormatAndOffset() {
        let bytes = Array("{U\u{5}lea".utf8)
        #expect { _ = try ModelImporter.load(bytes) } throws: {
            let d = String(describing: $0)
            return d.contains("XGBoost UBJSON model, byte ") && d.contains("truncated")
        }
    }
}
