extension CellState {
    /// Advances the state to the entities of `next` (sorted by id, velocities ignored),
    /// writing the delta payload:
    /// `varint nLeft, nLeft x varint idGap, varint nEnter, nEnter x entry (as in keyframes),
    /// then for every remaining entity in id order zigzag rx, zigzag ry`.
    /// An id whose kind changed leaves and enters in the same delta.
    public mutating func encodeDelta(to next: CellState, _ w: inout ByteWriter) {
        let residuals = encodeDeltaHead(to: next, &w)
        for r in residuals { w.varint(r) }
    }

    /// The same delta with its residuals Golomb-Rice coded (codec 2 + k): the head as in
    /// `encodeDelta`, then the zigzagged residuals rx, ry, ... as Rice codes. Returns k.
    @discardableResult
    public mutating func encodeDeltaRice(to next: CellState, _ w: inout ByteWriter) -> Int {
        let residuals = encodeDeltaHead(to: next, &w)
        let k = RiceCoding.bestK(residuals)
        RiceCoding.encode(residuals, k: k, into: &w.bytes)
        return k
    }

    /// Writes leavers and enterers, advances the state, and returns the zigzagged residuals.
    mutating func encodeDeltaHead(to next: CellState, _ w: inout ByteWriter) -> [UInt64] {
        var left: [UInt32] = []
        var entered = CellState()
        var residuals: [UInt64] = []
        residuals.reserveCapacity(next.count * 2)
        @inline(__always) func zz(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
        var out = CellState()
        out.reserve(next.count)
        var i = 0, j = 0
        while i < count || j < next.count {
            if j == next.count || (i < count && ids[i] < next.ids[j]) {
                left.append(ids[i]); i += 1
            } else if i == count || next.ids[j] < ids[i] {
                entered.append(id: next.ids[j], kind: next.kinds[j], qx: next.qx[j], qy: next.qy[j], vx: 0, vy: 0)
                out.append(id: next.ids[j], kind: next.kinds[j], qx: next.qx[j], qy: next.qy[j], vx: 0, vy: 0)
                j += 1
            } else if kinds[i] != next.kinds[j] {
                left.append(ids[i])
                entered.append(id: next.ids[j], kind: next.kinds[j], qx: next.qx[j], qy: next.qy[j], vx: 0, vy: 0)
                out.append(id: next.ids[j], kind: next.kinds[j], qx: next.qx[j], qy: next.qy[j], vx: 0, vy: 0)
                i += 1; j += 1
            } else {
                let px = Int64(qx[i]) + Int64(vx[i]), py = Int64(qy[i]) + Int64(vy[i])
                residuals.append(zz(Int64(next.qx[j]) - px))
                residuals.append(zz(Int64(next.qy[j]) - py))
                out.append(id: ids[i], kind: kinds[i], qx: next.qx[j], qy: next.qy[j],
                           vx: next.qx[j] &- qx[i], vy: next.qy[j] &- qy[i])
                i += 1; j += 1
            }
        }
        w.varint(UInt64(left.count))
        var last: UInt32 = 0
        for id in left { w.varint(UInt64(id &- last)); last = id }
        w.varint(UInt64(entered.count))
        entered.writeEntries(0..<entered.count, &w)
        self = out
        return residuals
    }

    /// Applies a delta payload written by `encodeDelta`; throws on anything inconsistent
    /// (a leave of an unknown id, an enter of a present one, missing or extra bytes).
    public mutating func applyDelta(_ r: inout ByteReader, riceK: Int? = nil) throws(WireError) -> (left: [UInt32], entered: [UInt32]) {
        let nLeft = try r.varint()
        guard nLeft <= UInt64(count) else { throw .malformed("delta removes \(nLeft) of \(count) entities") }
        var left: [UInt32] = []
        left.reserveCapacity(Int(nLeft))
        var last: UInt32 = 0
        for k in 0..<Int(nLeft) {
            let gap = try r.varint()
            guard gap <= UInt64(UInt32.max - last), k == 0 || gap > 0 else { throw .malformed("left ids must increase") }
            last += UInt32(gap)
            left.append(last)
        }
        let nEnter = try r.varint()
        guard nEnter <= UInt64(r.remaining / 6) else { throw .malformed("delta announces \(nEnter) entering entities in \(r.remaining) bytes") }
        var entered = CellState()
        try Self.readEntries(count: Int(nEnter), &r, into: &entered)
        var riceReader: RiceReader?
        if let k = riceK {
            riceReader = RiceReader(bytes: r.bytes, from: r.at, k: k)
        }
        @inline(__always) func residual() throws(WireError) -> Int64 {
            if riceReader != nil {
                let u = try riceReader!.next()
                return Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1)
            }
            return try r.zigzag()
        }
        var out = CellState()
        out.reserve(count - left.count + entered.count)
        var i = 0, l = 0, e = 0
        while i < count || e < entered.count {
            // Skip the leaving.
            if i < count, l < left.count, ids[i] == left[l] { i += 1; l += 1; continue }
            if l < left.count, i < count, left[l] < ids[i] { throw .malformed("delta removes entity \(left[l]) that the cell does not hold") }
            if e < entered.count && (i == count || entered.ids[e] < ids[i]) {
                out.append(id: entered.ids[e], kind: entered.kinds[e], qx: entered.qx[e], qy: entered.qy[e], vx: entered.vx[e], vy: entered.vy[e])
                e += 1
            } else if e < entered.count && entered.ids[e] == ids[i] {
                throw .malformed("delta enters entity \(ids[i]) that the cell already holds")
            } else {
                let nx = Int64(qx[i]) + Int64(vx[i]) + (try residual())
                let ny = Int64(qy[i]) + Int64(vy[i]) + (try residual())
                guard let x = Int32(exactly: nx), let y = Int32(exactly: ny) else { throw .malformed("position beyond 32 bits") }
                out.append(id: ids[i], kind: kinds[i], qx: x, qy: y, vx: x &- qx[i], vy: y &- qy[i])
                i += 1
            }
        }
        guard l == left.count else { throw .malformed("delta removes entity \(left[l]) that the cell does not hold") }
        if let rr = riceReader {
            guard rr.bytesUsed == r.bytes.count else { throw .malformed("\(r.bytes.count - rr.bytesUsed) bytes after the Rice-coded residuals") }
        } else {
            guard r.remaining == 0 else { throw .malformed("\(r.remaining) bytes after a delta") }
        }
        self = out
        return (left, entered.ids)
    }
}
