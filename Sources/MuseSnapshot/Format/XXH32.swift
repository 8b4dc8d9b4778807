/// XXH32, written from the xxHash specification: the LZ4 frame's content
/// checksum. Muse computes it itself so that it can hash a decoded buffer
/// while the decoder is still filling it (see `LZ4Frame`), which liblz4's
/// built-in check cannot do.
public enum XXH32 {
    static let p1: UInt32 = 2_654_435_761
    static let p2: UInt32 = 2_246_822_519
    static let p3: UInt32 = 3_266_489_917
    static let p4: UInt32 = 668_265_263
    static let p5: UInt32 = 374_761_393

    public static func hash(_ bytes: [UInt8], seed: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }

    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        var state = Running(seed: seed)
        state.consume(bytes, upTo: bytes.count)
        return state.finish(bytes)
    }

    /// The hash of a contiguous buffer that is filled front to back: feed it
    /// the filled length as it grows (`consume`), then `finish` once the
    /// whole buffer is there. Only whole 16-byte stripes are taken early.
    struct Running {
        var v1, v2, v3, v4: UInt32
        let seed: UInt32
        /// Bytes taken into the lanes so far (a multiple of 16).
        private(set) var offset = 0

        init(seed: UInt32 = 0) {
            self.seed = seed
            v1 = seed &+ p1 &+ p2
            v2 = seed &+ p2
            v3 = seed
            v4 = seed &- p1
        }

        /// Takes the whole stripes of `bytes[offset..<available]`.
        mutating func consume(_ bytes: UnsafeRawBufferPointer, upTo available: Int) {
            guard let base = bytes.baseAddress else { return }
            var i = offset
            var a = v1, b = v2, c = v3, d = v4
            while i + 16 <= available {
                a = round(a, load32(base, i))
                b = round(b, load32(base, i &+ 4))
                c = round(c, load32(base, i &+ 8))
                d = round(d, load32(base, i &+ 12))
                i &+= 16
            }
            v1 = a; v2 = b; v3 = c; v4 = d
            offset = i
        }

        /// The hash of all of `bytes`, whose stripes up to `offset` were consumed.
        func finish(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
            var h: UInt32
            let count = bytes.count
            if count >= 16 {
                h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
            } else {
                h = seed &+ p5
            }
            h &+= UInt32(truncatingIfNeeded: count)
            guard let base = bytes.baseAddress else { return avalanche(h) }
            var i = offset
            while i + 4 <= count {
                h &+= load32(base, i) &* p3
                h = rotl(h, 17) &* p4
                i &+= 4
            }
            while i < count {
                h &+= UInt32(base.load(fromByteOffset: i, as: UInt8.self)) &* p5
                h = rotl(h, 11) &* p1
                i &+= 1
            }
            return avalanche(h)
        }
    }

    @inline(__always) static func load32(_ p: UnsafeRawPointer, _ i: Int) -> UInt32 {
        UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self))
    }
    @inline(__always) static func rotl(_ x: UInt32, _ r: UInt32) -> UInt32 { (x << r) | (x >> (32 - r)) }
    @inline(__always) static func round(_ acc: UInt32, _ input: UInt32) -> UInt32 { rotl(acc &+ input &* p2, 13) &* p1 }
    @inline(__always) static func avalanche(_ h0: UInt32) -> UInt32 {
        var h = h0
        h ^= h >> 15; h &*= p2
        h ^= h >> 13; h &*= p3
        h ^= h >> 16
        return h
    }
}
