/// Golomb-Rice coding of non-negative integers (zigzagged residuals), bit-packed MSB first.
///
/// A value v with parameter k is written as q = v >> k one-bits, a zero-bit, then the k low
/// bits of v, most significant first. A quotient of `escapeOnes` or more is written as
/// `escapeOnes` one-bits (no zero) followed by the value in `escapeBits` bits, so a wild value
/// never costs more than 56 bits. The last byte is padded with zero-bits.
public enum RiceCoding {
    public static let escapeOnes = 16
    public static let escapeBits = 40
    public static let maxK = 12

    /// The parameter that makes `values` smallest.
    public static func bestK(_ values: [UInt64]) -> Int {
        var best = 0, bestBits = Int.max
        for k in 0...maxK {
            var bits = 0
            for v in values {
                let q = Int(truncatingIfNeeded: v >> UInt64(k))
                bits += q >= escapeOnes ? escapeOnes + escapeBits : q + 1 + k
            }
            if bits < bestBits { best = k; bestBits = bits }
            if bits > bestBits { break }   // cost is convex in k: stop once it rises
        }
        return best
    }

    /// Appends `values` coded with `k` to `out`.
    public static func encode(_ values: [UInt64], k: Int, into out: inout [UInt8]) {
        var w = BitWriter(out: out)
        out = []
        let low: UInt64 = k == 0 ? 0 : (1 << UInt64(k)) - 1
        for v in values {
            let q = v >> UInt64(k)
            if q >= UInt64(escapeOnes) {
                w.write((1 << UInt64(escapeOnes)) - 1, escapeOnes)
                w.write(v, escapeBits)
            } else {
                // q one-bits then a zero-bit, then the k low bits.
                w.write(((1 << q) - 1) << 1, Int(q) + 1)
                if k > 0 { w.write(v & low, k) }
            }
        }
        w.flush()
        out = w.out
    }
}

/// Packs bits MSB first; holds fewer than 8 pending bits between writes.
struct BitWriter {
    var out: [UInt8]
    var acc: UInt64 = 0
    var pending = 0

    /// Writes the low `count` bits of `value` (count at most 56).
    @inline(__always)
    mutating func write(_ value: UInt64, _ count: Int) {
        let mask: UInt64 = count >= 64 ? .max : (1 << UInt64(count)) - 1
        acc = (acc << UInt64(count)) | (value & mask)
        pending += count
        while pending >= 8 {
            pending -= 8
            out.append(UInt8(truncatingIfNeeded: acc >> UInt64(pending)))
        }
        acc &= pending == 0 ? 0 : (1 << UInt64(pending)) - 1
    }

    mutating func flush() {
        if pending > 0 { out.append(UInt8(truncatingIfNeeded: acc << UInt64(8 - pending))) }
        acc = 0
        pending = 0
    }
}

/// Reads Rice-coded values from a byte range; every read is bounds-checked.
public struct RiceReader {
    let bytes: [UInt8]
    var bit: Int
    let endBit: Int
    let k: Int

    init(bytes: [UInt8], from byteOffset: Int, k: Int) {
        self.bytes = bytes
        self.bit = byteOffset * 8
        self.endBit = bytes.count * 8
        self.k = k
    }

    @inline(__always)
    mutating func readBit() throws(WireError) -> UInt64 {
        guard bit < endBit else { throw .truncated("Rice-coded residuals") }
        let b = (bytes[bit >> 3] >> UInt8(7 - (bit & 7))) & 1
        bit += 1
        return UInt64(b)
    }

    @inline(__always)
    mutating func readBits(_ n: Int) throws(WireError) -> UInt64 {
        var v: UInt64 = 0
        for _ in 0..<n { v = (v << 1) | (try readBit()) }
        return v
    }

    /// The next 64 bits from the current position (zeros past the end).
    @inline(__always)
    func peek64() -> UInt64 {
        var w: UInt64 = 0
        let byte = bit >> 3
        for i in 0..<9 {
            let b: UInt64 = byte + i < bytes.count ? UInt64(bytes[byte + i]) : 0
            w = i < 8 ? (w << 8) | b : w
            if i == 8 { w = (w << UInt64(bit & 7)) | (b >> UInt64(8 - (bit & 7))) }
        }
        return w
    }

    public mutating func next() throws(WireError) -> UInt64 {
        // Fast path: the whole code lies in the next 64 bits.
        let w = peek64()
        let ones = (~w).leadingZeroBitCount
        if ones < RiceCoding.escapeOnes {
            let length = ones + 1 + k
            guard bit + length <= endBit else { throw .truncated("Rice-coded residuals") }
            bit += length
            let low: UInt64 = k == 0 ? 0 : (w << UInt64(ones + 1)) >> UInt64(64 - k)
            return (UInt64(ones) << UInt64(k)) | low
        }
        guard bit + RiceCoding.escapeOnes <= endBit else { throw .truncated("Rice-coded residuals") }
        bit += RiceCoding.escapeOnes
        return try readBits(RiceCoding.escapeBits)
    }

    /// Bytes consumed, counting a partly used last byte.
    public var bytesUsed: Int { (bit + 7) / 8 }
}
