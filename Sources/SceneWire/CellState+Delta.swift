extension CellState {
    /// Advances the state to the entities of `next` (sorted by id, velocities ignored),
    /// writing the delta payload (codec 2 + k): `varint nLeft, nLeft x varint idGap,
    /// varint nEnter, nEnter x entry (as in keyframes)`, then the zigzagged residuals rx, ry
    /// of every remaining entity in id order as Golomb-Rice codes. An id whose kind changed
    /// leaves and enters in the same delta. Returns k.
    /// With `heights`, entities of a height kind also carry z: in entries as in keyframes, and
    /// a third residual rz after rx, ry.
    @discardableResult
    public mutating func encodeDeltaRice(to next: CellState, _ w: inout ByteWriter, heights: HeightKinds? = nil) -> Int {
        var ws = DeltaWorkspace()
        return encodeDeltaRice(to: next, range: 0..<next.count, &w, &ws, heights: heights)
    }

    /// As above for the entities `range` of `next`, with buffers reused between calls.
    @discardableResult
    mutating func encodeDeltaRice(to next: CellState, range: Range<Int>, _ w: inout ByteWriter, _ ws: inout DeltaWorkspace,
                                  heights: HeightKinds? = nil) -> Int {
        encodeDeltaHead(to: next, range: range, &w, &ws, heights: heights)
        let k = RiceCoding.bestK(ws.residuals)
        RiceCoding.encode(ws.residuals, k: k, into: &w.bytes)
        return k
    }

    /// Writes leavers and enterers, advances the state to `next[range]`, and leaves the
    /// zigzagged residuals in `ws.residuals`.
    mutating func encodeDeltaHead(to next: CellState, range: Range<Int>, _ w: inout ByteWriter, _ ws: inout DeltaWorkspace,
                                  heights: HeightKinds? = nil) {
        if let heights {
            encodeDeltaHead3(to: next, range: range, &w, &ws, heights: heights)
            return
        }
        ws.reset()
        @inline(__always) func zz(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
        ws.out.reserve(range.count)
        var i = 0, j = range.lowerBound
        let end = range.upperBound
        while i < count || j < end {
            if j == end || (i < count && ids[i] < next.ids[j]) {
                ws.left.append(ids[i]); i += 1
            } else if i == count || next.ids[j] < ids[i] {
                let (dx, dy) = ws.seen.velocity(id: next.ids[j], qx: next.qx[j], qy: next.qy[j])
                ws.entered.append(id: next.ids[j], kind: next.kinds[j], qx: next.qx[j], qy: next.qy[j], vx: dx, vy: dy)
                ws.out.append(id: next.ids[j], kind: next.kinds[j], qx: next.qx[j], qy: next.qy[j], vx: dx, vy: dy)
                j += 1
            } else if kinds[i] != next.kinds[j] {
                ws.left.append(ids[i])
                let (dx, dy) = ws.seen.velocity(id: next.ids[j], qx: next.qx[j], qy: next.qy[j])
                ws.entered.append(id: next.ids[j], kind: next.kinds[j], qx: next.qx[j], qy: next.qy[j], vx: dx, vy: dy)
                ws.out.append(id: next.ids[j], kind: next.kinds[j], qx: next.qx[j], qy: next.qy[j], vx: dx, vy: dy)
                i += 1; j += 1
            } else {
                let px = Int64(qx[i]) + Int64(vx[i]), py = Int64(qy[i]) + Int64(vy[i])
                ws.residuals.append(zz(Int64(next.qx[j]) - px))
                ws.residuals.append(zz(Int64(next.qy[j]) - py))
                ws.out.append(id: ids[i], kind: kinds[i], qx: next.qx[j], qy: next.qy[j],
                              vx: next.qx[j] &- qx[i], vy: next.qy[j] &- qy[i])
                i += 1; j += 1
            }
        }
        w.varint(UInt64(ws.left.count))
        var last: UInt32 = 0
        for id in ws.left { w.varint(UInt64(id &- last)); last = id }
        w.varint(UInt64(ws.entered.count))
        ws.entered.writeEntries(0..<ws.entered.count, &w)
        // The new state takes the workspace's arrays; the old ones are reused next time.
        swap(&self, &ws.out)
    }

    /// `encodeDeltaHead` for a stream with height kinds (a loop of its own, so the
    /// two-dimensional one stays as fast as it was).
    mutating func encodeDeltaHead3(to next: CellState, range: Range<Int>, _ w: inout ByteWriter, _ ws: inout DeltaWorkspace,
                                   heights: HeightKinds) {
        ws.reset()
        @inline(__always) func zz(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
        var i = 0, j = range.lowerBound
        let end = range.upperBound
        func enter(_ j: Int) {
            let (dx, dy) = ws.seen.velocity(id: next.ids[j], qx: next.qx[j], qy: next.qy[j])
            let dz = heights.has(next.kinds[j]) ? ws.seen.velocityZ(id: next.ids[j], kind: next.kinds[j], qz: next.qz[j]) : 0
            ws.entered.append(id: next.ids[j], kind: next.kinds[j], qx: next.qx[j], qy: next.qy[j], vx: dx, vy: dy, qz: next.qz[j], vz: dz)
            ws.out.append(id: next.ids[j], kind: next.kinds[j], qx: next.qx[j], qy: next.qy[j], vx: dx, vy: dy, qz: next.qz[j], vz: dz)
        }
        while i < count || j < end {
            if j == end || (i < count && ids[i] < next.ids[j]) {
                ws.left.append(ids[i]); i += 1
            } else if i == count || next.ids[j] < ids[i] {
                enter(j); j += 1
            } else if kinds[i] != next.kinds[j] {
                ws.left.append(ids[i]); enter(j)
                i += 1; j += 1
            } else {
                let px = Int64(qx[i]) + Int64(vx[i]), py = Int64(qy[i]) + Int64(vy[i])
                ws.residuals.append(zz(Int64(next.qx[j]) - px))
                ws.residuals.append(zz(Int64(next.qy[j]) - py))
                var z: Int32 = 0, dz: Int32 = 0
                if heights.has(kinds[i]) {
                    ws.residuals.append(zz(Int64(next.qz[j]) - (Int64(qz[i]) + Int64(vz[i]))))
                    z = next.qz[j]; dz = next.qz[j] &- qz[i]
                }
                ws.out.append(id: ids[i], kind: kinds[i], qx: next.qx[j], qy: next.qy[j],
                              vx: next.qx[j] &- qx[i], vy: next.qy[j] &- qy[i], qz: z, vz: dz)
                i += 1; j += 1
            }
        }
        w.varint(UInt64(ws.left.count))
        var last: UInt32 = 0
        for id in ws.left { w.varint(UInt64(id &- last)); last = id }
        w.varint(UInt64(ws.entered.count))
        ws.entered.writeEntries(0..<ws.entered.count, &w, heights: heights)
        swap(&self, &ws.out)
    }

    /// Applies a delta payload written by `encodeDeltaRice`; throws on anything inconsistent
    /// (a leave of an unknown id, an enter of a present one, missing or extra bytes).
    public mutating func applyDelta(_ r: inout ByteReader, riceK: Int? = nil, heights: HeightKinds? = nil) throws(WireError) -> (left: [UInt32], entered: [UInt32]) {
        if let heights { return try applyDelta3(&r, riceK: riceK, heights: heights) }
        let (left, entered) = try readDeltaHead(&r, heights: nil)
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
        try Self.checkDeltaEnd(r, riceReader)
        self = out
        return (left, entered.ids)
    }

    /// A delta's leavers and enterers (parts 1 and 2 of the payload), checked.
    func readDeltaHead(_ r: inout ByteReader, heights: HeightKinds?) throws(WireError) -> (left: [UInt32], entered: CellState) {
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
        try Self.readEntries(count: Int(nEnter), &r, into: &entered, heights: heights)
        return (left, entered)
    }

    /// The residuals must end the payload exactly.
    static func checkDeltaEnd(_ r: ByteReader, _ riceReader: RiceReader?) throws(WireError) {
        if let rr = riceReader {
            guard rr.bytesUsed == r.bytes.count else { throw .malformed("\(r.bytes.count - rr.bytesUsed) bytes after the Rice-coded residuals") }
        } else {
            guard r.remaining == 0 else { throw .malformed("\(r.remaining) bytes after a delta") }
        }
    }

    /// `applyDelta` of a stream with height kinds (a loop of its own, so the
    /// two-dimensional one stays as fast as it was).
    mutating func applyDelta3(_ r: inout ByteReader, riceK: Int?, heights: HeightKinds) throws(WireError) -> (left: [UInt32], entered: [UInt32]) {
        let (left, entered) = try readDeltaHead(&r, heights: heights)
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
                out.append(id: entered.ids[e], kind: entered.kinds[e], qx: entered.qx[e], qy: entered.qy[e], vx: entered.vx[e], vy: entered.vy[e],
                           qz: entered.qz[e], vz: entered.vz[e])
                e += 1
            } else if e < entered.count && entered.ids[e] == ids[i] {
                throw .malformed("delta enters entity \(ids[i]) that the cell already holds")
            } else {
                let nx = Int64(qx[i]) + Int64(vx[i]) + (try residual())
                let ny = Int64(qy[i]) + Int64(vy[i]) + (try residual())
                guard let x = Int32(exactly: nx), let y = Int32(exactly: ny) else { throw .malformed("position beyond 32 bits") }
                var z: Int32 = 0
                if let range = heights.range(kinds[i]) {
                    let nz = Int64(qz[i]) + Int64(vz[i]) + (try residual())
                    guard let zi = Int32(exactly: nz), range.contains(zi) else { throw .malformed("height \(nz) of entity \(ids[i]) outside its kind's range \(range)") }
                    z = zi
                }
                out.append(id: ids[i], kind: kinds[i], qx: x, qy: y, vx: x &- qx[i], vy: y &- qy[i], qz: z, vz: z &- qz[i])
                i += 1
            }
        }
        guard l == left.count else { throw .malformed("delta removes entity \(left[l]) that the cell does not hold") }
        try Self.checkDeltaEnd(r, riceReader)
        self = out
        return (left, entered.ids)
    }
}

/// Buffers reused from cell to cell and tick to tick, so delta coding allocates nothing
/// once warm.
struct DeltaWorkspace {
    /// The previous input: an entity entering a cell from another one is sent with its
    /// velocity rather than 0.
    var seen = LastSeen()
    var left: [UInt32] = []
    var entered = CellState()
    var residuals: [UInt64] = []
    var out = CellState()

    mutating func reset() {
        left.removeAll(keepingCapacity: true)
        entered.removeAll()
        residuals.removeAll(keepingCapacity: true)
        out.removeAll()
    }
}

/// The encoder's previous input, so an entity that enters a cell from another one is sent
/// with its step since then as velocity. Keeping the arrays costs nothing (they are the
/// caller's, shared copy-on-write); only enterers look their id up.
struct LastSeen {
    var ids: [UInt32] = [], x: [Float] = [], y: [Float] = [], z: [Float]? = nil
    var inverse = 0.0
    var heights: HeightKinds?

    /// Where `id` was, index into the arrays (ids ascend; usually id == index).
    @inline(__always) func index(of id: UInt32) -> Int? {
        let guess = Int(id)
        if guess < ids.count && ids[guess] == id { return guess }
        var lo = 0, hi = ids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ids[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo < ids.count && ids[lo] == id ? lo : nil
    }

    /// The step of an entity entering at (qx, qy): its displacement since the previous input
    /// when it was there, else 0.
    @inline(__always) func velocity(id: UInt32, qx: Int32, qy: Int32) -> (Int32, Int32) {
        guard let k = index(of: id) else { return (0, 0) }
        let px = SceneStateEncoder.quantise(x[k], inverse: inverse), py = SceneStateEncoder.quantise(y[k], inverse: inverse)
        return (Self.clamp(Int64(qx) - Int64(px)), Self.clamp(Int64(qy) - Int64(py)))
    }

    @inline(__always) func velocityZ(id: UInt32, kind: UInt8, qz: Int32) -> Int32 {
        guard let z, let heights, let k = index(of: id) else { return 0 }
        let pz = heights.clamp(SceneStateEncoder.quantise(z[k], inverse: inverse), kind: kind)
        return Self.clamp(Int64(qz) - Int64(pz))
    }

    static func clamp(_ v: Int64) -> Int32 { Int32(max(min(v, Int64(Int32.max)), Int64(Int32.min))) }
}
