#if canImport(Glibc)
import Glibc
#endif
import CMuseBenchFloor

/// The machine's own floor for `muse-bench latency`: a server process that
/// answers each 8-byte tag with itself through shared memory (no Muse code;
/// tools/bench-floor), with both sides spinning or both sleeping on futexes.
enum FloorBaseline {
    static let spinning = "spin"
    static let sleeping = "futex"

    /// `floor-server PATH LANES MODE`: creates the shared file and serves it
    /// until SIGTERM.
    static func serve(_ a: [String]) -> Never {
        let (path, lanes, mode) = (a[0], UInt32(a[1])!, a[2])
        guard let floor = muse_floor_create(path + ".building", lanes) else {
            fatalError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        // The clients wait for the file's name: it appears whole.
        rename(path + ".building", path)
        Stopper.floor = floor
        signal(SIGTERM) { _ in muse_floor_stop(Stopper.floor) }
        muse_floor_serve(floor, mode == sleeping ? 1 : 0)
        exit(0)
    }

    /// Where the SIGTERM handler finds what to stop (set once, before the
    /// handler is installed).
    enum Stopper { nonisolated(unsafe) static var floor: OpaquePointer? }
}
