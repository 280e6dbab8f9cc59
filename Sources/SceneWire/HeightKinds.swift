/// Which entity kinds carry a height in the position stream (protocol version 2), with each
/// one's declared range in position units. Encoder and decoder of a cell stream share one;
/// entities of other kinds are coded in two dimensions as in version 1.
public struct HeightKinds: Equatable, Sendable {
    /// Per kind code: the quantised range of z, nil for a two-dimensional kind.
    private var ranges: [ClosedRange<Int32>?]

    /// `kinds`: kind code to its range of z in metres; `quantum`: metres per position unit.
    public init(_ kinds: [UInt8: ClosedRange<Float>], quantum: Double) {
        ranges = Array(repeating: nil, count: 256)
        for (kind, r) in kinds {
            ranges[Int(kind)] = Self.quantise(Double(r.lowerBound), quantum, .down)...Self.quantise(Double(r.upperBound), quantum, .up)
        }
    }

    /// From SceneInfo's kinds (version 2 declares their ranges).
    public init(_ kinds: [KindInfo], quantum: Double) {
        var map: [UInt8: ClosedRange<Float>] = [:]
        for k in kinds { if let r = k.zRange { map[k.code] = r } }
        self.init(map, quantum: quantum)
    }

    static func quantise(_ v: Double, _ quantum: Double, _ rule: FloatingPointRoundingRule) -> Int32 {
        let q = (v / quantum).rounded(rule)
        return Int32(max(min(q, Double(Int32.max)), Double(Int32.min)))
    }

    public var isEmpty: Bool { !ranges.contains { $0 != nil } }

    @inline(__always) public func has(_ kind: UInt8) -> Bool { ranges[Int(kind)] != nil }

    /// The quantised range of a kind's z (nil for a two-dimensional kind).
    @inline(__always) public func range(_ kind: UInt8) -> ClosedRange<Int32>? { ranges[Int(kind)] }

    /// A quantised z clamped into its kind's range (0 for a two-dimensional kind).
    @inline(__always) public func clamp(_ qz: Int32, kind: UInt8) -> Int32 {
        guard let r = ranges[Int(kind)] else { return 0 }
        return min(max(qz, r.lowerBound), r.upperBound)
    }
}
