#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// `mused --version` and `musectl --version` print the release muse.h
/// declares, its ABI, and the snapshot format the tools write.
@Suite struct VersionTests {
    /// A `#define NAME ...` value of muse.h, read as text: the test checks the
    /// tools against the header itself, not against a constant they share.
    static func header(_ name: String) throws -> String {
        let text = try String(contentsOf: Harness.header.appending(path: "muse.h"), encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("#define \(name) ") })
        return line.dropFirst("#define \(name) ".count).trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
    }

    @Test func bothToolsPrintTheReleaseTheABIAndTheSnapshotFormat() throws {
        let release = try Self.header("MUSE_VERSION_STRING")
        let numbers = try ["MAJOR", "MINOR", "PATCH"].map { try Self.header("MUSE_VERSION_\($0)") }
        #expect(numbers.joined(separator: ".") == release, "MUSE_VERSION_STRING disagrees with MAJOR/MINOR/PATCH")
        let abi = try Self.header("MUSE_ABI_MAJOR") + "." + Self.header("MUSE_ABI_MINOR")
        // The format a snapshot built now records.
        let inspect = Harness.run(ControlSocketTests.musectl, ["snapshot", "inspect", SnapshotSwapTests.files.gen1, "--json"])
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(inspect.output.utf8)) as? [String: Any],
                                   "\(inspect.output)")
        let format = try #require(summary["formatVersion"] as? Int)
        for (tool, path) in [("mused", Harness.mused), ("musectl", ControlSocketTests.musectl)] {
            let run = Harness.run(path, ["--version"])
            #expect(run.status == 0 && run.output == "\(tool) \(release) (muse.h ABI \(abi), snapshot format \(format))\n",
                    "\(tool) --version: \(run.output)")
        }
    }
}
