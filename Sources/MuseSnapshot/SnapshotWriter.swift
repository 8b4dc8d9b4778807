import Glibc
import MuseCore

/// Writes a generation as a snapshot file: sections → container → one LZ4
/// frame. The file appears atomically (temporary file, fsync, rename), so a
/// reader never sees half of one.
public enum SnapshotWriter {
    /// The container bytes (before compression).
    public static func container(_ contents: SnapshotContents) -> [UInt8] {
        SnapshotContainer.encode(generationID: contents.generationID, createdAt: contents.createdAt,
                                 sections: contents.encodedSections())
    }

    /// The snapshot file's bytes.
    public static func encode(_ contents: SnapshotContents) throws(SnapshotError) -> [UInt8] {
        try LZ4Frame.compress(container(contents))
    }

    public static func write(_ contents: SnapshotContents, to path: String) throws {
        try writeFile(try encode(contents), to: path)
    }

    /// Writes `bytes` to `path` through a temporary file beside it.
    public static func writeFile(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = try FileDescriptor.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC)
        do {
            let failure = bytes.withUnsafeBytes { b -> SystemCallError? in
                do throws(SystemCallError) { try fd.writeAll(b); return nil } catch { return error }
            }
            if let failure { throw failure }
            try fd.sync()
            fd.close()
        } catch {
            fd.close()
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let e = Errno.current
            unlink(temporary)
            throw SystemCallError("rename \(temporary) to \(path)", e)
        }
    }
}
