#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import Testing
@testable import MuseIPC

/// One owner per segment and per runtime directory; a runtime directory and
/// segment files nobody else controls.
struct OwnershipTests {
    let layout = try! SegmentLayout(channelCount: 2, ringDepth: 8, maxFeatures: 4)
    static let isRoot = geteuid() == 0

    @Test func aSegmentHasOneOwnerAtATime() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var first: Segment? = try Segment.create(path: "\(dir)/t.muse", tenant: "t", groupID: nil, layout: layout)
        #expect(throws: SegmentError.ownedByAnotherDaemon(path: "\(dir)/t.muse")) {
            try Segment.adopt(path: "\(dir)/t.muse", tenant: "t", groupID: nil)
        }
        #expect(throws: SegmentError.ownedByAnotherDaemon(path: "\(dir)/t.muse")) {
            try Segment.createOrAdopt(path: "\(dir)/t.muse", tenant: "t", groupID: nil, layout: layout)
        }
        // The lock dies with its owner.
        first = nil
        _ = first
        let second = try Segment.adopt(path: "\(dir)/t.muse", tenant: "t", groupID: nil)
        #expect(second.incarnation == 2)
    }

    @Test func aRuntimeDirectoryHasOneDaemonAtATime() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        var first: RuntimeDirectory? = try RuntimeDirectory(path: dir)
        #expect { try RuntimeDirectory(path: dir) } throws: { error in
            guard case RuntimeDirectoryError.ownedByAnotherDaemon(_, let pid) = error else { return false }
            return pid == getpid()
        }
        // Another path to the same directory is the same directory.
        let alias = dir + "-alias"
        symlink(dir, alias)
        defer { unlink(alias) }
        #expect(throws: RuntimeDirectoryError.notADirectory(alias)) { try RuntimeDirectory(path: alias) }
        #expect { try RuntimeDirectory(path: dir + "/.") } throws: { error in
            if case RuntimeDirectoryError.ownedByAnotherDaemon = error { return true }
            return false
        }
        first = nil
        _ = first
        _ = try RuntimeDirectory(path: dir)
    }

    @Test func aNewRuntimeDirectoryIsReachableWhateverTheUmask() throws {
        let parent = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let old = umask(0o077)
        defer { umask(old) }
        _ = try RuntimeDirectory(path: "\(parent)/run")
        var info = stat()
        #expect(stat("\(parent)/run", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o755)
        // And segments keep 0660 under that umask too.
        let directory = try RuntimeDirectory(path: "\(parent)/run2")
        _ = try Segment.createOrAdopt(in: directory, tenant: "t", groupID: nil, layout: layout)
        #expect(stat("\(parent)/run2/t.muse", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660)
    }

    @Test func runtimeDirectoriesOthersControlAreRefused() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: RuntimeDirectoryError.notAbsolute("")) { try RuntimeDirectory(path: "") }
        #expect(throws: RuntimeDirectoryError.notAbsolute("run/muse")) { try RuntimeDirectory(path: "run/muse") }
        chmod(dir, 0o777)
        #expect { try RuntimeDirectory(path: dir) } throws: { error in
            guard case RuntimeDirectoryError.writableByOthers = error else { return false }
            return "\(error)".contains("chmod go-w")
        }
        chmod(dir, 0o775)
        #expect { try RuntimeDirectory(path: dir) } throws: { error in
            if case RuntimeDirectoryError.writableByOthers = error { return true }
            return false
        }
        // Unless the operator says so.
        _ = try RuntimeDirectory(path: dir, trust: .anyOwner)
        // A regular file is not a directory.
        let file = "\(dir)/file"
        FileManager.default.createFile(atPath: file, contents: Data())
        #expect(throws: RuntimeDirectoryError.notADirectory(file)) { try RuntimeDirectory(path: file) }
    }

    @Test(.enabled(if: isRoot, "changing a file's owner needs root"))
    func aRuntimeDirectoryOfAnotherUserIsRefused() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        chown(dir, 65534, 65534)
        #expect { try RuntimeDirectory(path: dir) } throws: { error in
            guard case RuntimeDirectoryError.foreignOwner(_, let owner, _) = error else { return false }
            return owner == 65534
        }
    }

    @Test func badTenantNamesAreRefusedOnEveryPath() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        let directory = try RuntimeDirectory(path: "\(dir)/run")
        // A file outside the runtime directory that "../escape" would name.
        _ = try Segment.create(path: "\(dir)/escape.muse", tenant: "escape", groupID: nil, layout: layout)
        let victim = FileManager.default.contents(atPath: "\(dir)/escape.muse")
        var victimBefore = stat()
        stat("\(dir)/escape.muse", &victimBefore)
        for name in ["", "../escape", "a/b", "..", ".", ".hidden", String(repeating: "x", count: 64), "a b", "tab\t",
                     "nul\u{0}", "é"] {
            #expect(throws: SegmentError.badTenantName(name)) {
                try Segment.createOrAdopt(in: directory, tenant: name, groupID: nil, layout: layout)
            }
            #expect(throws: SegmentError.badTenantName(name)) {
                try Segment.adopt(in: DirectoryHandle(directory), tenant: name, groupID: nil)
            }
        }
        // The file "../escape" names is as it was: same bytes, mode and change time.
        var victimAfter = stat()
        stat("\(dir)/escape.muse", &victimAfter)
        #expect(FileManager.default.contents(atPath: "\(dir)/escape.muse") == victim)
        #expect(victimAfter.st_mode == victimBefore.st_mode && victimAfter.st_ctim.tv_nsec == victimBefore.st_ctim.tv_nsec
                 && victimAfter.st_ctim.tv_sec == victimBefore.st_ctim.tv_sec)
        _ = try Segment.createOrAdopt(in: directory, tenant: String(repeating: "x", count: 63), groupID: nil,
                                      layout: layout)
        _ = try Segment.createOrAdopt(in: directory, tenant: "Acme_eu-1.prod", groupID: nil, layout: layout)
    }

    @Test func aSymbolicLinkIsRefusedAndItsTargetUntouched() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let directory = try RuntimeDirectory(path: "\(dir)/run")
        // A valid segment elsewhere, mode 0666 (say, the attacker's).
        do { _ = try Segment.create(path: "\(dir)/victim.muse", tenant: "tb", groupID: nil, layout: layout) }
        chmod("\(dir)/victim.muse", 0o666)
        let before = try Data(contentsOf: URL(filePath: "\(dir)/victim.muse"))
        symlink("\(dir)/victim.muse", "\(dir)/run/tb.muse")
        #expect { try Segment.createOrAdopt(in: directory, tenant: "tb", groupID: nil, layout: layout) } throws: { error in
            "\(error)".contains("symbolic link")
        }
        let after = try Data(contentsOf: URL(filePath: "\(dir)/victim.muse"))
        #expect(before == after)
        var info = stat()
        stat("\(dir)/victim.muse", &info)
        #expect(info.st_mode & 0o777 == 0o666)
    }

    @Test func aFIFOIsRefusedWithoutHanging() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let directory = try RuntimeDirectory(path: "\(dir)/run")
        #expect(mkfifo("\(dir)/run/pipe.muse", 0o600) == 0)
        #expect { try Segment.createOrAdopt(in: directory, tenant: "pipe", groupID: nil, layout: layout) } throws: { error in
            "\(error)".contains("not a regular file")
        }
        #expect(mkdir("\(dir)/run/dir.muse", 0o700) == 0)
        #expect(throws: (any Error).self) {
            try Segment.createOrAdopt(in: directory, tenant: "dir", groupID: nil, layout: layout)
        }
    }

    @Test(.enabled(if: isRoot, "making a device node needs root"))
    func aDeviceNodeIsRefusedWithoutBeingOpened() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let directory = try RuntimeDirectory(path: "\(dir)/run")
        // /dev/null's numbers (major 1, minor 3, as glibc's makedev packs them):
        // harmless if it were opened, refused all the same.
        #expect(mknod("\(dir)/run/dev.muse", S_IFCHR | 0o600, dev_t(1 << 8 | 3)) == 0)
        #expect { try Segment.createOrAdopt(in: directory, tenant: "dev", groupID: nil, layout: layout) } throws: { error in
            "\(error)".contains("not a regular file")
        }
    }

    @Test(.enabled(if: isRoot, "changing a file's owner needs root"))
    func aSegmentOfAnotherUserIsRefusedAndUntouched() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let directory = try RuntimeDirectory(path: "\(dir)/run")
        do { _ = try Segment.create(path: "\(dir)/run/tb.muse", tenant: "tb", groupID: nil, layout: layout) }
        chown("\(dir)/run/tb.muse", 65534, 65534)
        chmod("\(dir)/run/tb.muse", 0o666)
        let before = try Data(contentsOf: URL(filePath: "\(dir)/run/tb.muse"))
        #expect { try Segment.createOrAdopt(in: directory, tenant: "tb", groupID: 4242, layout: layout) } throws: { error in
            "\(error)".contains("belongs to uid 65534")
        }
        var info = stat()
        stat("\(dir)/run/tb.muse", &info)
        #expect(info.st_uid == 65534 && info.st_gid == 65534 && info.st_mode & 0o777 == 0o666)
        #expect(try Data(contentsOf: URL(filePath: "\(dir)/run/tb.muse")) == before)
    }

    @Test func adoptionReassertsGroupAndMode() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do { _ = try Segment.create(path: "\(dir)/t.muse", tenant: "t", groupID: nil, layout: layout) }
        chmod("\(dir)/t.muse", 0o666)
        let group: gid_t? = Self.isRoot ? 4242 : nil
        _ = try Segment.adopt(path: "\(dir)/t.muse", tenant: "t", groupID: group)
        var info = stat()
        stat("\(dir)/t.muse", &info)
        #expect(info.st_mode & 0o777 == 0o660)
        #expect(info.st_uid == geteuid() && info.st_gid == (group ?? getegid()))
    }

    @Test func aSegmentOfANewerMinorABIIsRefused() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let segment = try Segment.create(path: "\(dir)/t.muse", tenant: "t", groupID: nil, layout: layout)
            segment.header.pointee.abi_minor = UInt16(MUSE_ABI_MINOR) + 7
        }
        #expect { try Segment.adopt(path: "\(dir)/t.muse", tenant: "t", groupID: nil) } throws: { error in
            guard case SegmentError.incompatibleABI(_, let found, _) = error else { return false }
            return found == "\(MUSE_ABI_MAJOR).\(MUSE_ABI_MINOR + 7)"
        }
    }
}
