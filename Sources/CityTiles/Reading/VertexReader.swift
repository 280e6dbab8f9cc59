/// Reads a `vertices` array straight from its bytes into the flat integer array the
/// extractor uses, without a tape: about a quarter of a CityJSON text is vertices.
/// Anything beyond plain integer triples (and whitespace) returns nil, and the caller
/// parses the text the general way, which names the problem.
enum VertexReader {
    static func read(_ bytes: UnsafeBufferPointer<UInt8>, header: TileHeader) -> [Int64]? {
        var at = 0
        let n = bytes.count
        @inline(__always) func space() {
            while at < n, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
        }
        @inline(__always) func integer() -> Int64? {
            let negative = at < n && bytes[at] == UInt8(ascii: "-")
            if negative { at += 1 }
            let first = at
            var m: Int64 = 0
            while at < n {
                let d = bytes[at] &- 48
                if d > 9 { break }
                m = m &* 10 &+ Int64(d)
                at += 1
            }
            let digits = at - first
            guard digits > 0, digits <= 18, digits == 1 || bytes[first] != UInt8(ascii: "0") else { return nil }
            return negative ? -m : m
        }
        let scale = header.scale, translate = header.translate, limit = TileHeader.coordinateLimit
        space()
        guard at < n, bytes[at] == UInt8(ascii: "[") else { return nil }
        at += 1
        space()
        var out: [Int64] = []
        out.reserveCapacity(n / 5)
        if at < n, bytes[at] == UInt8(ascii: "]") {
            at += 1
            space()
            return at == n ? out : nil
        }
        while true {
            guard at < n, bytes[at] == UInt8(ascii: "[") else { return nil }
            at += 1
            for k in 0..<3 {
                space()
                guard let v = integer() else { return nil }
                let real = Double(v) * scale[k] + translate[k]
                guard real.isFinite, abs(real) <= limit else { return nil }
                out.append(v)
                space()
                if k < 2 {
                    guard at < n, bytes[at] == UInt8(ascii: ",") else { return nil }
                    at += 1
                }
            }
            guard at < n, bytes[at] == UInt8(ascii: "]") else { return nil }
            at += 1
            space()
            guard at < n else { return nil }
            if bytes[at] == UInt8(ascii: ",") {
                at += 1
                space()
                continue
            }
            guard bytes[at] == UInt8(ascii: "]") else { return nil }
            at += 1
            space()
            return at == n ? out : nil
        }
    }
}
