// libFuzzer entry point over the snapshot loader, built by tools/fuzz/run.sh
// together with Sources/MuseSnapshot (one module, so it reaches the
// container decoder without the LZ4 frame) against Sources/MuseScoring,
// coverage-instrumented, with AddressSanitizer. Complements the in-suite
// loop (Tests/MuseSnapshotTests/SnapshotFuzz.swift), which is blind to
// coverage.
//
// An input is a container (what `lz4 -d` makes of a snapshot file). Its
// container length, section hashes, table hash and header hash are
// recomputed before it is read: libFuzzer cannot forge an XXH64, and a
// wrong hash would stop every mutation at the first check.
import Foundation
import MuseScoring

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var c = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    rehash(&c)
    c.withUnsafeBytes { bytes in
        do throws(SnapshotError) {
            let (header, _, sections) = try SnapshotContainer.decode(bytes)
            let contents = try SnapshotContents.decode(header: header, sections: sections, keepModelSources: false)
            let table = try contents.routingTable()
            try Canaries.verify(contents.canaries, table: table)
        } catch {
            precondition(!error.description.isEmpty, "a refusal without a message")
        }
    }
    return 0
}

/// Rewrites every hash (and the length) the container records, so the
/// bytes behind them are what gets read.
func rehash(_ c: inout [UInt8]) {
    guard c.count >= 64 else { return }
    func u32(_ at: Int) -> Int { Int(c[at]) | Int(c[at + 1]) << 8 | Int(c[at + 2]) << 16 | Int(c[at + 3]) << 24 }
    func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(c[at + $1]) << (8 * $1) } }
    func put(_ v: UInt64, _ at: Int) { for i in 0..<8 { c[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
    put(UInt64(c.count), 40)
    let count = min(u32(32), (c.count - 64) / 32, 64)
    for e in 0..<count {
        let entry = 64 + 32 * e
        let offset = u64(entry + 8), length = u64(entry + 16)
        guard offset <= UInt64(c.count), length <= UInt64(c.count) - offset else { continue }
        put(XXH64.hash(Array(c[Int(offset)..<Int(offset + length)])), entry + 24)
    }
    if u32(32) == count { put(XXH64.hash(Array(c[64..<64 + 32 * count])), 48) }
    put(XXH64.hash(Array(c[0..<56])), 56)
}
