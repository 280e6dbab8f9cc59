/// The entities of one wire cell as encoder and decoder both track them: sorted by id,
/// each with its quantised position and last quantised step (its velocity per tick).
///
/// Prediction is constant velocity: next = q + v. The residual sent is the true next
/// position minus the prediction; both sides then set v = new - old, q = new. All of it is
/// integer arithmetic, so the decoder's state equals the encoder's bit for bit.
public struct CellState: Equatable, Sendable {
    public var ids: [UInt32] = []
    public var kinds: [UInt8] = []
    public var qx: [Int32] = []
    public var qy: [Int32] = []
    public var vx: [Int32] = []
    public var vy: [Int32] = []
    /// Heights and their steps (protocol version 2): as long as `ids` in a stream with
    /// height kinds (0 for entities of other kinds), empty otherwise.
    public var qz: [Int32] = []
    public var vz: [Int32] = []

    public init() {}

    public var count: Int { ids.count }
    public var isEmpty: Bool { ids.isEmpty }

    mutating func append(id: UInt32, kind: UInt8, qx x: Int32, qy y: Int32, vx dx: Int32, vy dy: Int32) {
        ids.append(id); kinds.append(kind); qx.append(x); qy.append(y); vx.append(dx); vy.append(dy)
    }

    mutating func append(id: UInt32, kind: UInt8, qx x: Int32, qy y: Int32, vx dx: Int32, vy dy: Int32, qz z: Int32, vz dz: Int32) {
        ids.append(id); kinds.append(kind); qx.append(x); qy.append(y); vx.append(dx); vy.append(dy); qz.append(z); vz.append(dz)
    }

    mutating func removeAll() {
        ids.removeAll(keepingCapacity: true); kinds.removeAll(keepingCapacity: true)
        qx.removeAll(keepingCapacity: true); qy.removeAll(keepingCapacity: true)
        vx.removeAll(keepingCapacity: true); vy.removeAll(keepingCapacity: true)
        qz.removeAll(keepingCapacity: true); vz.removeAll(keepingCapacity: true)
    }

    mutating func reserve(_ n: Int) {
        ids.reserveCapacity(n); kinds.reserveCapacity(n); qx.reserveCapacity(n); qy.reserveCapacity(n)
        vx.reserveCapacity(n); vy.reserveCapacity(n)
    }

    /// Keyframe payload: `varint n`, then per entity `varint idGap, u8 kind,
    /// zigzag dqx, zigzag dqy, zigzag vx, zigzag vy` (positions relative to the previous
    /// entity), and for a height kind `zigzag dqz, zigzag vz` (relative to the previous
    /// entity with a height).
    public func writeKeyframe(_ w: inout ByteWriter, heights: HeightKinds? = nil) {
        w.varint(UInt64(count))
        writeEntries(0..<count, &w, heights: heights)
    }

    func writeEntries(_ range: Range<Int>, _ w: inout ByteWriter, heights: HeightKinds? = nil) {
        var lastId: UInt32 = 0, lx: Int32 = 0, ly: Int32 = 0, lz: Int32 = 0
        for i in range {
            w.varint(UInt64(ids[i] &- lastId)); lastId = ids[i]
            w.byte(kinds[i])
            w.zigzag(Int64(qx[i]) - Int64(lx)); w.zigzag(Int64(qy[i]) - Int64(ly))
            lx = qx[i]; ly = qy[i]
            w.zigzag(Int64(vx[i])); w.zigzag(Int64(vy[i]))
            if let heights, heights.has(kinds[i]) {
                w.zigzag(Int64(qz[i]) - Int64(lz)); lz = qz[i]
                w.zigzag(Int64(vz[i]))
            }
        }
    }

    static func readEntries(count n: Int, _ r: inout ByteReader, into s: inout CellState, heights: HeightKinds? = nil) throws(WireError) {
        if let heights { try readEntries3(count: n, &r, into: &s, heights: heights); return }
        var lastId: UInt32 = 0, lx: Int64 = 0, ly: Int64 = 0
        for k in 0..<n {
            let gap = try r.varint()
            guard gap <= UInt64(UInt32.max) - UInt64(lastId), k == 0 || gap > 0 else { throw .malformed("entity ids must increase") }
            let id = lastId + UInt32(gap)
            lastId = id
            let kind = try r.byte()
            lx += try r.zigzag(); ly += try r.zigzag()
            guard let x = Int32(exactly: lx), let y = Int32(exactly: ly) else { throw .malformed("position beyond 32 bits") }
            s.append(id: id, kind: kind, qx: x, qy: y, vx: try r.zigzag32(), vy: try r.zigzag32())
        }
    }

    /// `readEntries` of a stream with height kinds (a loop of its own, so the
    /// two-dimensional one stays as fast as it was).
    static func readEntries3(count n: Int, _ r: inout ByteReader, into s: inout CellState, heights: HeightKinds) throws(WireError) {
        var lastId: UInt32 = 0, lx: Int64 = 0, ly: Int64 = 0, lz: Int64 = 0
        for k in 0..<n {
            let gap = try r.varint()
            guard gap <= UInt64(UInt32.max) - UInt64(lastId), k == 0 || gap > 0 else { throw .malformed("entity ids must increase") }
            let id = lastId + UInt32(gap)
            lastId = id
            let kind = try r.byte()
            lx += try r.zigzag(); ly += try r.zigzag()
            guard let x = Int32(exactly: lx), let y = Int32(exactly: ly) else { throw .malformed("position beyond 32 bits") }
            let dx = try r.zigzag32(), dy = try r.zigzag32()
            var z: Int32 = 0, dz: Int32 = 0
            if let range = heights.range(kind) {
                lz += try r.zigzag()
                guard let zi = Int32(exactly: lz), range.contains(zi) else { throw .malformed("height \(lz) of entity \(id) outside its kind's range \(range)") }
                z = zi
                dz = try r.zigzag32()
            }
            s.append(id: id, kind: kind, qx: x, qy: y, vx: dx, vy: dy, qz: z, vz: dz)
        }
    }

    /// Decodes a keyframe payload into a fresh state.
    public static func readKeyframe(_ r: inout ByteReader, heights: HeightKinds? = nil) throws(WireError) -> CellState {
        let n = try r.varint()
        // Each entry takes at least 6 bytes: a count beyond that is a lie, refuse before allocating.
        guard n <= UInt64(r.remaining / 6) else { throw .malformed("keyframe announces \(n) entities in \(r.remaining) bytes") }
        var s = CellState()
        s.reserve(Int(n))
        try readEntries(count: Int(n), &r, into: &s, heights: heights)
        guard r.remaining == 0 else { throw .malformed("\(r.remaining) bytes after a keyframe") }
        return s
    }
}
