#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// Files that are not snapshots, or would decode past any sane size, handed
/// to a live mused with `musectl swap` while a client streams: each is
/// refused at once with its reason, mused keeps answering (the stream and
/// `status`), its memory stays where it was, and nothing is left in its
/// state directory.
@Suite(.serialized)
struct HostileSnapshotFileTests {
    static func peakResidentKiB(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// `lz4 --content-size` of `size` zero bytes: a frame of a few
    /// megabytes that declares `size` bytes of content.
    static func zeroBomb(_ path: String, size: Int) throws -> String {
        let zeros = path + ".zeros"
        #expect(FileManager.default.createFile(atPath: zeros, contents: nil) && truncate(zeros, off_t(size)) == 0)
        defer { unlink(zeros) }
        let lz4 = Harness.run("/usr/bin/lz4", ["-q", "-f", "--content-size", zeros, path])
        #expect(lz4.status == 0, "\(lz4.output)")
        return path
    }

    @Test func nonFilesEndlessFilesAndBombsAreRefusedFastAndLeaveNothing() throws {
        let daemon = try DaemonUnderTest(tenants: ["hostile-a::2:64"])
        let client = try daemon.client("stream", "hostile-a", ["1", "0", "8"])
        let scratch = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fifo = scratch + "/fifo"
        #expect(mkfifo(fifo, 0o644) == 0)
        let large = scratch + "/large.bin"
        #expect(FileManager.default.createFile(atPath: large, contents: Data("not a snapshot at all".utf8)))
        #expect(truncate(large, 256 << 20) == 0)
        let oversized = scratch + "/oversized.bin"
        #expect(FileManager.default.createFile(atPath: oversized, contents: nil) && truncate(oversized, 600 << 20) == 0)
        let cases: [(String, String)] = [
            (fifo, "is a FIFO, not a regular file"),
            ("/dev/zero", "is a character device, not a regular file"),
            (scratch, "is a directory, not a regular file"),
            (large, "not an LZ4 frame"),
            (oversized, "over the limit of 536870912 bytes"),
            (try Self.zeroBomb(scratch + "/bomb-1g.lz4", size: 1 << 30), "declares 1073741824 bytes of content, over the limit"),
            (try Self.zeroBomb(scratch + "/bomb-400m.lz4", size: 400 << 20), "not a Muse snapshot"),
            // Every checksum right, one split of the first tree jumping back to
            // node 0: it used to make mused allocate without end.
            (Harness.packageRoot.appending(path: "Tests/MuseSnapshotTests/Fixtures/snapshot-corpus/regression-split-jumps-to-node-0.muse").path,
             "model 'cnp-gbdt': flat model, tree 0, node 1: jumps back to node 0"),
        ]
        usleep(200_000)
        let peakBefore = Self.peakResidentKiB(daemon.child.pid)
        for (path, reason) in cases {
            let swap = try Child(ControlSocketTests.musectl, ["swap", path, "--runtime-dir", daemon.runtimeDirectory])
            let exit = swap.wait(seconds: 10)
            #expect(exit != nil && exit != 0, "swap \(path) did not end, or was accepted: \(swap.output)")
            #expect(swap.output.contains(reason), "swap \(path): \(swap.output)")
            let status = try Child(ControlSocketTests.musectl, ["status", "--runtime-dir", daemon.runtimeDirectory])
            #expect(status.wait(seconds: 2) == 0, "status after \(path): \(status.output)")
            let left = (try? FileManager.default.contentsOfDirectory(atPath: daemon.stateDirectory)) ?? []
            #expect(!left.contains("incoming.snapshot"), "after \(path): \(left)")
        }
        // Refusals cost at most a block of decoding: no file's size shows in mused.
        let grown = Self.peakResidentKiB(daemon.child.pid) - peakBefore
        #expect(grown < 64 << 10, "mused's peak RSS grew by \(grown) KiB")
        client.kill(SIGTERM)
        #expect(client.wait(seconds: 30) == 0, "\(client.output)")
        let result = fields(client.output)
        #expect(Int(result["answered"] ?? "") ?? 0 > 0 && result["duplicates"] == "0" && result["lost"] == "0"
                && result["wrong"] == "0", "\(client.output)")
        #expect(daemon.stop() == 0, "mused did not stop on SIGTERM: \(daemon.logs)")
    }

    /// `--max-snapshot-bytes` lowers the limit: a file over it is refused by
    /// its size, before anything is read.
    @Test func theConfiguredLimitIsTheOneApplied() throws {
        let daemon = try DaemonUnderTest(tenants: ["limited::1:16"], arguments: ["--max-snapshot-bytes", "1048576"])
        let scratch = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let big = scratch + "/big.snapshot"
        #expect(FileManager.default.createFile(atPath: big, contents: nil) && truncate(big, 2 << 20) == 0)
        let swap = Harness.run(ControlSocketTests.musectl, ["swap", big, "--runtime-dir", daemon.runtimeDirectory])
        #expect(swap.status != 0 && swap.output.contains("over the limit of 1048576 bytes"), "\(swap.output)")
        let bad = try Child(Harness.mused, ["--runtime-dir", scratch + "/run", "--state-dir", scratch + "/state",
                                            "--tenant", "x", "--max-snapshot-bytes", "12"])
        #expect(bad.wait(seconds: 10) == 64 && bad.output.contains("--max-snapshot-bytes must be 1048576...68719476736"),
                "\(bad.output)")
        #expect(!FileManager.default.fileExists(atPath: scratch + "/run"))
        #expect(daemon.stop() == 0)
    }
}
