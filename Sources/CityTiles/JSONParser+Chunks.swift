/// Parsing a large object in pieces: a structural scan finds where each member starts,
/// then runs of members are parsed separately (on several threads, by the tile reader).
extension JSONParser {
    /// Finds the members of the object whose `{` is at `start`: the byte offset where each
    /// member's key starts, and the offset of the closing `}`. Only strings and brackets are
    /// looked at; the members are checked in full when they are parsed.
    static func scanMembers(_ bytes: UnsafeBufferPointer<UInt8>, objectAt start: Int) throws(JSONSyntaxError) -> (members: [Int], close: Int) {
        var members: [Int] = []
        let close = try scan(bytes, from: start, recording: true, members: &members)
        return (members, close)
    }

    /// The offset just past the array or object whose opening bracket is at `start`.
    static func scanValue(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) throws(JSONSyntaxError) -> Int {
        var members: [Int] = []
        return try scan(bytes, from: start, recording: false, members: &members) + 1
    }

    /// Follows strings and brackets from the opening bracket at `start` to its closing one
    /// (returned), noting where each top-level member or element starts when asked.
    static func scan(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, recording: Bool,
                     members: inout [Int]) throws(JSONSyntaxError) -> Int {
        var p = JSONParser(scanning: bytes)
        defer { p.release() }
        p.at = start + 1
        p.skipSpace()
        guard p.at < bytes.count else { throw p.error("the text ends inside a value (truncated file?)") }
        if recording && bytes[p.at] != UInt8(ascii: "}") && bytes[p.at] != UInt8(ascii: "]") { members.append(p.at) }
        let opening = bytes[start]
        var depth = 1
        while p.at < bytes.count {
            switch bytes[p.at] {
            case UInt8(ascii: "\""):
                p.at += 1
                while p.at < bytes.count && bytes[p.at] != UInt8(ascii: "\"") {
                    p.at += bytes[p.at] == UInt8(ascii: "\\") ? 2 : 1
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 {
                    guard (bytes[p.at] == UInt8(ascii: "}")) == (opening == UInt8(ascii: "{")) else { throw p.error("mismatched brackets") }
                    return p.at
                }
            case UInt8(ascii: ","):
                if depth == 1 && recording {
                    p.at += 1
                    p.skipSpace()
                    members.append(p.at)
                    continue
                }
            default:
                break
            }
            p.at += 1
        }
        throw p.error("the text ends inside a value (truncated file?)")
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
