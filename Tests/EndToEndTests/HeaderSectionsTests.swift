#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// muse.h reads in four parts (client API, shared layout, internals, the
/// API's definitions); these tests hold it to that, and to the promise that
/// programs written against the former helper names still compile.
struct HeaderSectionsTests {
    static let strict = ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]

    /// The text of each part, from its PART n banner to the next.
    static func parts() throws -> [String] {
        let header = try String(contentsOf: Harness.header.appending(path: "muse.h"), encoding: .utf8)
        let titles = ["PART 1. THE CLIENT API", "PART 2. THE SHARED LAYOUT", "PART 3. INTERNALS: NOT API",
                      "PART 4. THE CLIENT API'S DEFINITIONS"]
        let starts = try titles.map { title in try #require(header.range(of: title), "no \(title) in muse.h").lowerBound }
        #expect(starts == starts.sorted(), "the parts are out of order")
        return starts.indices.map { i in
            String(header[starts[i]..<(i + 1 < starts.count ? starts[i + 1] : header.endIndex)])
        }
    }

    /// Names of the functions declared (`ending` ";") or defined ("{") on a
    /// line that starts with `prefix`: the first `;` or `{` after the
    /// parameter list tells which.
    static func functions(in text: String, prefix: String, ending: Character) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let start = rest.range(of: "\n" + prefix) {
            let tail = rest[start.upperBound...]
            guard let open = tail.firstIndex(of: "(") else { break }
            let name = tail[..<open].split(whereSeparator: { $0 == " " || $0 == "*" }).last.map(String.init) ?? ""
            if let close = tail[open...].firstIndex(of: ")"),
               let end = tail[close...].firstIndex(where: { $0 == ";" || $0 == "{" }), tail[end] == ending {
                names.append(name)
            }
            rest = tail
        }
        return names
    }

    /// Every client function is declared in part 1 and defined in part 4,
    /// and nothing else is: part 1 has no function bodies, part 4 no helpers.
    /// The exported set is exactly libmuse.map's.
    @Test func theClientAPIIsDeclaredInPartOneAndDefinedInPartFour() throws {
        let parts = try Self.parts()
        let declared = Self.functions(in: parts[0], prefix: "MUSE_API ", ending: ";")
        let defined = Self.functions(in: parts[3], prefix: "MUSE_API ", ending: "{")
        #expect(declared.count == 22, "\(declared)")
        #expect(Set(declared) == Set(defined), "declared \(declared), defined \(defined)")
        #expect(Self.functions(in: parts[0], prefix: "static inline ", ending: "{").isEmpty)
        #expect(Self.functions(in: parts[0], prefix: "MUSE_API ", ending: "{").isEmpty)
        #expect(Self.functions(in: parts[3], prefix: "static inline ", ending: "{").isEmpty)
        let map = try String(contentsOf: Harness.packageRoot.appending(path: "clients/libmuse/libmuse.map"), encoding: .utf8)
        let exported = Set(map.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("muse_") && $0.hasSuffix(";") }.map { String($0.dropLast()) })
        // libmuse.c adds the two sizeof helpers for bindings.
        #expect(exported == Set(declared).union(["muse_sizeof_client", "muse_sizeof_channel"]), "\(exported)")
    }

    /// Part 3's functions all carry the muse__ prefix, and parts 1 and 2 use
    /// none of them: the API and the layout read without the internals.
    @Test func internalsCarryTheDoubleUnderscorePrefixAndOnlyPartsThreeAndFourUseThem() throws {
        let parts = try Self.parts()
        let helpers = Self.functions(in: parts[2], prefix: "static inline ", ending: "{")
        #expect(helpers.count >= 20, "\(helpers)")
        #expect(helpers.allSatisfy { $0.hasPrefix("muse__") }, "\(helpers.filter { !$0.hasPrefix("muse__") })")
        // The layout helpers keep their names: they define the layout.
        let layout = Self.functions(in: parts[1], prefix: "static inline ", ending: "{")
        #expect(Set(layout) == ["muse_submission_slot_size", "muse_channel_stride", "muse_channel_at",
                                "muse_event_features", "muse_fnv1a"], "\(layout)")
        for part in parts[0...1] {
            let calls = part.matches(of: /muse__[a-z0-9_]+\(/).map { String(part[$0.range]) }
            #expect(calls.isEmpty, "\(calls)")
        }
    }

    /// A program that called the helpers by their former names still
    /// compiles; MUSE_NO_FORMER_NAMES turns the names off, and Muse's own C
    /// clients and examples build with it. The examples, being what users
    /// copy, use no internal at all.
    @Test func formerHelperNamesStillCompileAndMuseItselfNeedsThemNot() throws {
        let dir = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let include = ["-I", Harness.header.path]
        let former = """
            #include "muse.h"
            int main(void) {
                uint64_t t = muse_now_ns(), word = 7;
                uint32_t bell = 0;
                muse_cpu_relax();
                muse_atomic_store_release_u64(&word, muse_atomic_load_acquire_u64(&word) + 1);
                muse_atomic_add_u32(&bell, 1);
                muse_atomic_fence_seq_cst();
                return muse_now_ns() >= t && word == 8 && bell == 1 ? 0 : 1;
            }

            """
        try former.write(toFile: "\(dir)/former.c", atomically: true, encoding: .utf8)
        let built = Harness.run("/usr/bin/env", ["cc"] + Self.strict + include + ["\(dir)/former.c", "-o", "\(dir)/former"])
        try #require(built.status == 0, "\(built.output)")
        #expect(Harness.run("\(dir)/former", []).status == 0)
        let refused = Harness.run("/usr/bin/env", ["cc"] + Self.strict + ["-DMUSE_NO_FORMER_NAMES"] + include
                                  + ["\(dir)/former.c", "-o", "\(dir)/former"])
        #expect(refused.status != 0 && refused.output.contains("muse_now_ns"), "\(refused.output)")

        let examples = ["examples/score_events.c", "examples/demo_tenant.c", "tools/bench/client_roundtrip.c"]
        let ours = examples + ["Tests/EndToEndTests/clients/muse_test_client.c", "Tests/EndToEndTests/clients/muse_fair_client.c"]
        for source in ours {
            let path = Harness.packageRoot.appending(path: source).path
            let compiled = Harness.run("/usr/bin/env", ["cc"] + Self.strict + ["-DMUSE_NO_FORMER_NAMES", "-pthread", "-c"]
                                       + include + [path, "-o", "\(dir)/o.o"])
            #expect(compiled.status == 0, "\(source): \(compiled.output)")
        }
        for source in examples {
            let text = try String(contentsOf: Harness.packageRoot.appending(path: source), encoding: .utf8)
            #expect(!text.contains("muse__"), "\(source) calls muse.h's internals")
        }
    }
}
