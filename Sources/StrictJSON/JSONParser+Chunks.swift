/// Parsing a large object in pieces: a structural scan finds where each member starts,
/// then runs of members are parsed separately (on several threads, by the tile reader).
extension JSONParser {
    /// Finds the members of the object whose `{` is at `start`: the byte offset where each
    /// member's key starts, and the offset of the closing `}`. Only strings and brackets are
    /// looked at; the members are checked in full when they are parsed.
    package static func scanMembers(_ bytes: UnsafeBufferPointer<UInt8>, objectAt start: Int) throws(JSONSyntaxError) -> (members: [Int], close: Int) {
        var members: [Int] = []
        let close = try scan(bytes, from: start, recording: true, members: &members)
        return (members, close)
    }

    /// The offset just past the array or object whose opening bracket is at `start`.
    package static func scanValue(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) throws(JSONSyntaxError) -> Int {
        var members: [Int] = []
        return try scan(bytes, from: start, recording: false, members: &members) + 1
    }

    /// Follows strings and brackets from the opening bracket at `start` to its closing one
    /// (returned), noting where each top-level member or element starts when `recording`.
    static func scan(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, recording: Bool,
                     members: inout [Int]) throws(JSONSyntaxError) -> Int {
        func failure(_ message: String, at offset: Int) -> JSONSyntaxError {
            var p = JSONParser(scanning: bytes)
            defer { p.release() }
            p.at = offset
            return p.error(message)
        }
        let n = bytes.count
        guard let base = bytes.baseAddress else { throw failure("the text ends inside a value (truncated file?)", at: start) }
        @inline(__always) func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }
        var i = start + 1
        while i < n && isSpace(base[i]) { i += 1 }
        guard i < n else { throw failure("the text ends inside a value (truncated file?)", at: i) }
        if recording && base[i] != UInt8(ascii: "}") && base[i] != UInt8(ascii: "]") { members.append(i) }
        let opening = base[start]
        var depth = 1
        // Sixteen bytes at a time while they hold no string and cannot bring the depth down
        // to where a comma or the end matters; byte by byte otherwise.
        let quote = SIMD16<UInt8>(repeating: 0x22), backslash = SIMD16<UInt8>(repeating: 0x5C)
        let openSquare = SIMD16<UInt8>(repeating: 0x5B), openCurly = SIMD16<UInt8>(repeating: 0x7B)
        let closeSquare = SIMD16<UInt8>(repeating: 0x5D), closeCurly = SIMD16<UInt8>(repeating: 0x7D)
        let floor = recording ? 1 : 0
        while i < n {
            if depth > floor + 1, i + 16 <= n {
                let v = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD16<UInt8>.self)
                if !any((v .== quote) .| (v .== backslash)) {
                    let closes = SIMD16<UInt8>(repeating: 0).replacing(with: 1, where: (v .== closeSquare) .| (v .== closeCurly)).wrappedSum()
                    if depth - Int(closes) > floor {
                        let opens = SIMD16<UInt8>(repeating: 0).replacing(with: 1, where: (v .== openSquare) .| (v .== openCurly)).wrappedSum()
                        depth += Int(opens) - Int(closes)
                        i += 16
                        continue
                    }
                }
            }
            switch base[i] {
            case UInt8(ascii: "\""):
                i += 1
                while i < n && base[i] != UInt8(ascii: "\"") {
                    i += base[i] == UInt8(ascii: "\\") ? 2 : 1
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 {
                    guard (base[i] == UInt8(ascii: "}")) == (opening == UInt8(ascii: "{")) else { throw failure("mismatched brackets", at: i) }
                    return i
                }
            case UInt8(ascii: ","):
                if depth == 1 && recording {
                    i += 1
                    while i < n && isSpace(base[i]) { i += 1 }
                    members.append(i)
                    continue
                }
            default:
                break
            }
            i += 1
        }
        throw failure("the text ends inside a value (truncated file?)", at: n)
    }

    /// Parses the members between `start` and `end` (offsets from `scanMembers`) as one
    /// object at the tape's root. Errors name the path below `parent` (the object's key
    /// at the top level).
    mutating func members(from start: Int, to end: Int, parent: String, checkingKeys: Bool) throws(JSONSyntaxError) {
        at = start
        depth = 1
        keyAt[1] = Self.noKeyYet
        pathPrefix = parent
        nodes.append(JSONNode(kind: .object, count: 0, payload: 0))
        var hashed: [UInt64: Int]?
        var count: UInt32 = 0
        while true {
            skipSpace()
            if at >= end { break }
            _ = try memberKey(checkingAmong: checkingKeys ? 0 : nil, hashed: &hashed, end: end)
            try value()
            count += 1
            skipSpace()
            if at > end { throw error("a value runs past the end of its object") }
            if at < end {
                guard bytes[at] == UInt8(ascii: ",") else { throw error("',' or '}' was expected in an object") }
                at += 1
            }
        }
        nodes[0].count = count
        nodes[0].payload = Int64(nodes.count)
    }
}

extension JSONTape {
    /// Parses a run of members of a large object (see `JSONParser.scanMembers`) into an
    /// object at node 0. With `checkingKeys` false, a key repeated within the run is not
    /// refused: for callers that check keys across all runs themselves.
    public func parseMembers(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int,
                             parent: String, checkingKeys: Bool = true) throws(JSONSyntaxError) {
        var p = JSONParser(bytes, tape: self)
        defer { finish(p) }
        try p.members(from: start, to: end, parent: parent, checkingKeys: checkingKeys)
    }
}
