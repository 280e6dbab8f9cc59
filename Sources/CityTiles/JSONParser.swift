import Foundation

/// Why a JSON text was refused, with the byte offset and line where it happened.
public struct JSONSyntaxError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public var line: Int
    /// Where in the document, as a JSON path like `$.CityObjects.B1.geometry[0]`.
    public var path: String

    public var description: String { "line \(line), byte \(offset), at \(path): \(message)" }
}

/// A strict JSON parser over UTF-8 bytes (RFC 8259) that writes a `JSONTape`.
///
/// Strict where CityJSON needs it: duplicate object keys are an error (most parsers keep
/// the last one silently), integers outside Int64 are an error rather than a rounded
/// double, nesting is bounded, and trailing content is refused.
public struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var at: Int = 0
    var depth: Int = 0
    var nodes: TapeVector<JSONNode>
    var ints: TapeVector<Int64>
    /// Key nodes of the objects being parsed, innermost last (for the duplicate check).
    var keyNodes: [Int] = []
    /// Per nesting level: the byte offset of the current key (objects) or -1, and the
    /// current element index (arrays). Only read to name the path in an error.
    var keyAt = [Int](repeating: -1, count: JSONParser.maxDepth + 2)
    var elementIndex = [Int](repeating: 0, count: JSONParser.maxDepth + 2)
    /// A top-level key whose object value is only scanned, to be parsed later in pieces.
    var deferKey: StaticString?
    var deferred: DeferredMembers?
    /// A top-level key whose array or object value is only skipped over, its place noted.
    var skipKey: StaticString?
    var skipped: SkippedValue?
    /// The path of the parsed text inside a larger document ("CityObjects"), for errors.
    var pathPrefix = ""
    /// `keyAt` of an object whose first key is not read yet (-1 marks an array level).
    @inline(__always) static var noKeyYet: Int { -2 }
    /// Deepest nesting accepted (CityJSON needs about 8).
    public static let maxDepth = 64
    /// Objects with more members than this find duplicate keys through a hash table.
    @inline(__always) static var linearKeyLimit: Int { 16 }

    /// A parser writing into `tape`, which it empties.
    init(_ bytes: UnsafeBufferPointer<UInt8>, tape: JSONTape) {
        self.bytes = bytes
        nodes = tape.nodeStore
        ints = tape.intStore
        nodes.truncate(to: 0)
        ints.truncate(to: 0)
    }

    /// A parser for scanning only, with buffers of its own: `release` them after.
    init(scanning bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        nodes = TapeVector(capacity: 1)
        ints = TapeVector(capacity: 1)
    }

    func release() {
        nodes.deallocate()
        ints.deallocate()
    }

    /// Parses one complete JSON document from `bytes` into a tree of values.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONSyntaxError) -> JSONValue {
        let tape = JSONTape()
        try tape.parse(bytes)
        return JSONDocument(bytes: bytes, tape: tape).value(0)
    }

    /// Parses a document held in an array of bytes.
    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        let result: Result<JSONValue, JSONSyntaxError> = bytes.withUnsafeBufferPointer { b in
            do throws(JSONSyntaxError) { return .success(try parse(b)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    mutating func document() throws(JSONSyntaxError) {
        skipSpace()
        if at == bytes.count { throw error("the text is empty, a JSON value was expected") }
        try value()
        skipSpace()
        if at != bytes.count { throw error("unexpected content after the JSON value") }
    }

    func error(_ message: String) -> JSONSyntaxError {
        var line = 1
        for i in 0..<min(at, bytes.count) where bytes[i] == UInt8(ascii: "\n") { line += 1 }
        var path = pathPrefix.isEmpty ? "$" : "$." + pathPrefix
        if depth > 0 {
            for level in 1...depth {
                if keyAt[level] >= 0 {
                    var p = JSONParser(scanning: bytes)
                    defer { p.release() }
                    p.at = keyAt[level]
                    let key = (try? p.string()).map { String(decoding: Self.unescape(bytes, from: keyAt[level] + 1, count: $0.count), as: UTF8.self) } ?? "?"
                    path += "." + key
                } else if keyAt[level] != Self.noKeyYet {
                    path += "[\(elementIndex[level])]"
                }
            }
        }
        return JSONSyntaxError(message: message, offset: at, line: line, path: path)
    }

    @inline(__always)
    mutating func skipSpace() {
        while at < bytes.count {
            let c = bytes[at]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { at += 1 } else { return }
        }
    }

    @inline(__always)
    static func isNumberStart(_ c: UInt8) -> Bool { c == UInt8(ascii: "-") || (c >= 48 && c <= 57) }

    mutating func value() throws(JSONSyntaxError) {
        guard at < bytes.count else { throw error("the text ends where a value was expected (truncated file?)") }
        switch bytes[at] {
        case UInt8(ascii: "{"): try object()
        case UInt8(ascii: "["): try array()
        case UInt8(ascii: "\""):
            let s = try string()
            nodes.append(JSONNode(kind: s.escaped ? .escapedString : .string, count: UInt32(s.count), payload: Int64(s.start)))
        case UInt8(ascii: "t"): try literal("true"); nodes.append(JSONNode(kind: .bool, count: 1, payload: 0))
        case UInt8(ascii: "f"): try literal("false"); nodes.append(JSONNode(kind: .bool, count: 0, payload: 0))
        case UInt8(ascii: "n"): try literal("null"); nodes.append(JSONNode(kind: .null, count: 0, payload: 0))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): nodes.append(try number())
        default:
            throw error("unexpected byte 0x\(String(bytes[at], radix: 16)) where a value was expected")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let n = word.utf8CodeUnitCount
        guard at + n <= bytes.count else { throw error("the text ends inside '\(word)'") }
        for k in 0..<n where bytes[at + k] != word.utf8Start[k] { throw error("invalid literal, expected '\(word)'") }
        at += n
    }

    mutating func enter() throws(JSONSyntaxError) {
        depth += 1
        if depth > Self.maxDepth { throw error("nesting deeper than \(Self.maxDepth) levels") }
    }

    mutating func object() throws(JSONSyntaxError) {
        try enter()
        defer { depth -= 1 }
        at += 1
        let me = nodes.count
        nodes.append(JSONNode(kind: .object, count: 0, payload: 0))
        let firstKey = keyNodes.count
        defer { keyNodes.removeSubrange(firstKey...) }
        var hashed: [UInt64: Int]?
        var members: UInt32 = 0
        keyAt[depth] = Self.noKeyYet
        skipSpace()
        if at < bytes.count && bytes[at] == UInt8(ascii: "}") {
            at += 1
            nodes[me].payload = Int64(nodes.count)
            return
        }
        while true {
            skipSpace()
            guard at < bytes.count else { throw error("the text ends inside an object (truncated file?)") }
            let key = try memberKey(checkingAmong: firstKey, hashed: &hashed, end: bytes.count)
            if depth == 1, let deferKey, isKey(key, deferKey), at < bytes.count, bytes[at] == UInt8(ascii: "{") {
                let scan = try Self.scanMembers(bytes, objectAt: at)
                deferred = DeferredMembers(node: nodes.count, members: scan.members, close: scan.close)
                nodes.append(JSONNode(kind: .null, count: 0, payload: 0))
                at = scan.close + 1
            } else if depth == 1, let skipKey, isKey(key, skipKey), at < bytes.count,
                      bytes[at] == UInt8(ascii: "[") || bytes[at] == UInt8(ascii: "{") {
                let end = try Self.scanValue(bytes, at: at)
                skipped = SkippedValue(node: nodes.count, bytes: at..<end)
                nodes.append(JSONNode(kind: .null, count: 0, payload: 0))
                at = end
            } else {
                try value()
            }
            members += 1
            skipSpace()
            guard at < bytes.count else { throw error("the text ends inside an object (truncated file?)") }
            if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
            if bytes[at] == UInt8(ascii: "}") {
                at += 1
                nodes[me].count = members
                nodes[me].payload = Int64(nodes.count)
                return
            }
            throw error("',' or '}' was expected in an object")
        }
    }

    @inline(__always)
    func isKey(_ key: (start: Int, count: Int, escaped: Bool), _ name: StaticString) -> Bool {
        !key.escaped && key.count == name.utf8CodeUnitCount && memcmp(bytes.baseAddress! + key.start, name.utf8Start, key.count) == 0
    }

    /// Reads a member's key, its ':' and the space after: the key node is appended and, when
    /// `checkingAmong` is given, refused if it repeats a key of the object (whose keys start
    /// at that index of `keyNodes`).
    mutating func memberKey(checkingAmong firstKey: Int?, hashed: inout [UInt64: Int]?, end: Int)
        throws(JSONSyntaxError) -> (start: Int, count: Int, escaped: Bool) {
        guard bytes[at] == UInt8(ascii: "\"") else { throw error("an object key (a string) was expected") }
        let keyStart = at
        keyAt[depth] = keyStart
        let key = try string()
        let keyNode = nodes.count
        nodes.append(JSONNode(kind: key.escaped ? .escapedString : .string, count: UInt32(key.count), payload: Int64(key.start)))
        func named() -> String { String(decoding: Self.unescape(bytes, from: key.start, count: key.count), as: UTF8.self) }
        if let firstKey {
            if isDuplicate(keyNode, among: firstKey, hashed: &hashed) {
                at = keyStart
                throw error("duplicate key \"\(named())\" in one object")
            }
            keyNodes.append(keyNode)
        }
        skipSpace()
        guard at < end, bytes[at] == UInt8(ascii: ":") else { throw error("':' was expected after the key \"\(named())\"") }
        at += 1
        skipSpace()
        return key
    }

    /// True when the key at `node` equals an earlier key of the same object.
    mutating func isDuplicate(_ node: Int, among firstKey: Int, hashed: inout [UInt64: Int]?) -> Bool {
        let key = nodes[node]
        if keyNodes.count - firstKey < Self.linearKeyLimit {
            for k in firstKey..<keyNodes.count where Self.sameKey(nodes[keyNodes[k]], key, bytes) { return true }
            return false
        }
        if hashed == nil {
            var table: [UInt64: Int] = [:]
            for k in firstKey..<keyNodes.count { table[Self.keyHash(nodes[keyNodes[k]], bytes), default: keyNodes[k]] = keyNodes[k] }
            hashed = table
        }
        let h = Self.keyHash(key, bytes)
        if let other = hashed![h] {
            if Self.sameKey(nodes[other], key, bytes) { return true }
            // A hash collision: settle it by looking at every key.
            for k in firstKey..<keyNodes.count where Self.sameKey(nodes[keyNodes[k]], key, bytes) { return true }
            return false
        }
        hashed![h] = node
        return false
    }

    /// The decoded bytes of an escaped key, nil for a plain one (its bytes are the source's).
    static func keyBytes(_ n: JSONNode, _ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        n.kind == .escapedString ? unescape(bytes, from: Int(n.payload), count: Int(n.count)) : nil
    }

    @inline(__always)
    static func sameKey(_ x: JSONNode, _ y: JSONNode, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if x.kind == .string && y.kind == .string {
            guard x.count == y.count else { return false }
            return memcmp(bytes.baseAddress! + Int(x.payload), bytes.baseAddress! + Int(y.payload), Int(x.count)) == 0
        }
        let xb = keyBytes(x, bytes) ?? Array(bytes[Int(x.payload)..<Int(x.payload) + Int(x.count)])
        let yb = keyBytes(y, bytes) ?? Array(bytes[Int(y.payload)..<Int(y.payload) + Int(y.count)])
        return xb == yb
    }

    /// FNV-1a of the key's decoded bytes.
    static func keyHash(_ n: JSONNode, _ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        if let decoded = keyBytes(n, bytes) {
            for c in decoded { h = (h ^ UInt64(c)) &* 0x100000001b3 }
        } else {
            for k in Int(n.payload)..<Int(n.payload) + Int(n.count) { h = (h ^ UInt64(bytes[k])) &* 0x100000001b3 }
        }
        return h
    }

    mutating func array() throws(JSONSyntaxError) {
        try enter()
        defer { depth -= 1 }
        at += 1
        let me = nodes.count
        nodes.append(JSONNode(kind: .array, count: 0, payload: 0))
        keyAt[depth] = -1
        elementIndex[depth] = 0
        var count: UInt32 = 0
        skipSpace()
        if at < bytes.count && bytes[at] == UInt8(ascii: "]") {
            at += 1
            nodes[me].payload = Int64(nodes.count)
            return
        }
        // Fast path: a run of integers goes straight to `ints`; anything else falls back below.
        if at < bytes.count, Self.isNumberStart(bytes[at]) {
            let firstInt = ints.count
            while true {
                if let v = plainInteger() {
                    ints.append(v)
                    count += 1
                    if bytes[at] == UInt8(ascii: ",") {
                        at += 1
                        if at < bytes.count, Self.isNumberStart(bytes[at]) { continue }
                        skipSpace()
                        if at < bytes.count, Self.isNumberStart(bytes[at]) { continue }
                        elementIndex[depth] = Int(count)
                        guard at < bytes.count else { throw error("the text ends inside an array (truncated file?)") }
                        unpackInts(from: firstInt)
                        try value()
                        count += 1
                        break
                    }
                    at += 1   // the closing bracket
                    nodes[me] = JSONNode(kind: .intArray, count: count, payload: Int64(firstInt))
                    return
                }
                elementIndex[depth] = Int(count)
                let n = try number()
                guard n.kind == .int else {
                    // Unpack the integers read so far into nodes, then carry on generically.
                    unpackInts(from: firstInt)
                    nodes.append(n)
                    count += 1
                    break
                }
                ints.append(n.payload)
                count += 1
                skipSpace()
                guard at < bytes.count else { throw error("the text ends inside an array (truncated file?)") }
                if bytes[at] == UInt8(ascii: "]") {
                    at += 1
                    nodes[me] = JSONNode(kind: .intArray, count: count, payload: Int64(firstInt))
                    return
                }
                guard bytes[at] == UInt8(ascii: ",") else { throw error("',' or ']' was expected in an array") }
                at += 1
                skipSpace()
                guard at < bytes.count, Self.isNumberStart(bytes[at]) else {
                    unpackInts(from: firstInt)
                    // The comma is consumed: read the next element generically.
                    elementIndex[depth] = Int(count)
                    try value()
                    count += 1
                    break
                }
            }
            skipSpace()
            guard at < bytes.count else { throw error("the text ends inside an array (truncated file?)") }
            if bytes[at] == UInt8(ascii: "]") {
                at += 1
                nodes[me].count = count
                nodes[me].payload = Int64(nodes.count)
                return
            }
            guard bytes[at] == UInt8(ascii: ",") else { throw error("',' or ']' was expected in an array") }
            at += 1
        }
        while true {
            skipSpace()
            elementIndex[depth] = Int(count)
            try value()
            count += 1
            skipSpace()
            guard at < bytes.count else { throw error("the text ends inside an array (truncated file?)") }
            if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
            if bytes[at] == UInt8(ascii: "]") {
                at += 1
                nodes[me].count = count
                nodes[me].payload = Int64(nodes.count)
                return
            }
            throw error("',' or ']' was expected in an array")
        }
    }

    /// Turns the integers read since `first` back into nodes (an array that began with
    /// integers turned out to hold something else).
    mutating func unpackInts(from first: Int) {
        for k in first..<ints.count { nodes.append(JSONNode(kind: .int, count: 0, payload: ints[k])) }
        ints.truncate(to: first)
    }

    /// Scans a string starting at its opening quote: where its content starts, how many
    /// bytes it has in the source, and whether it holds escapes. Escapes are checked here.
    mutating func string() throws(JSONSyntaxError) -> (start: Int, count: Int, escaped: Bool) {
        at += 1
        let start = at
        var escaped = false
        while at < bytes.count {
            let c = bytes[at]
            if c == UInt8(ascii: "\"") {
                at += 1
                return (start, at - 1 - start, escaped)
            }
            if c < 0x20 { throw error("a control character inside a string") }
            if c == UInt8(ascii: "\\") {
                escaped = true
                at += 1
                guard at < bytes.count else { break }
                switch bytes[at] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    guard at + 4 < bytes.count else { throw error("the text ends inside a \\u escape") }
                    for k in 1...4 where Self.hexDigit(bytes[at + k]) == nil { throw error("invalid \\u escape") }
                    at += 4
                default: throw error("invalid escape in a string")
                }
            }
            at += 1
        }
        throw error("the text ends inside a string (truncated file?)")
    }

    static func hexDigit(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - 48)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(c - 87)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(c - 55)
        default: return nil
        }
    }

    /// The UTF-8 bytes of a string's content with its escapes decoded (the parser has
    /// already checked them).
    static func unescape(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var at = start
        let end = start + count
        func hex4(_ at: Int) -> UInt32 {
            var v: UInt32 = 0
            for k in 1...4 where at + k < end { v = v << 4 | (hexDigit(bytes[at + k]) ?? 0) }
            return v
        }
        while at < end {
            let c = bytes[at]
            guard c == UInt8(ascii: "\\"), at + 1 < end else { out.append(c); at += 1; continue }
            at += 1
            switch bytes[at] {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(at)
                at += 4
                if (0xD800..<0xDC00).contains(scalar), at + 2 < end,
                   bytes[at + 1] == UInt8(ascii: "\\"), bytes[at + 2] == UInt8(ascii: "u") {
                    let low = hex4(at + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        at += 6
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                }
                out.append(contentsOf: String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8)
            default: out.append(bytes[at])   // \" \\ \/
            }
            at += 1
        }
        return out
    }

    /// The common integer inside an int array, read without overflow checks: at most 18
    /// digits, no leading zero, followed at once by ',' or ']' (which is not consumed).
    /// Anything else returns nil with nothing consumed, for `number` to read or refuse.
    @inline(__always)
    mutating func plainInteger() -> Int64? {
        var i = at
        let negative = bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        let first = i
        var m: Int64 = 0
        while i < bytes.count {
            let d = bytes[i] &- 48
            if d > 9 { break }
            m = m &* 10 &+ Int64(d)
            i += 1
        }
        let digits = i - first
        guard digits > 0, digits <= 18, i < bytes.count, bytes[i] == UInt8(ascii: ",") || bytes[i] == UInt8(ascii: "]"),
              digits == 1 || bytes[first] != UInt8(ascii: "0") else { return nil }
        at = i
        return negative ? -m : m
    }

    /// Reads decimal digits into `magnitude` (noting overflow); how many there were.
    @inline(__always)
    mutating func accumulateDigits(_ magnitude: inout UInt64, _ overflow: inout Bool) -> Int {
        let first = at
        while at < bytes.count, bytes[at] >= 48 && bytes[at] <= 57 {
            let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (m2, o2) = m1.addingReportingOverflow(UInt64(bytes[at] - 48))
            magnitude = m2
            overflow = overflow || o1 || o2
            at += 1
        }
        return at - first
    }

    /// Powers of ten exactly representable as a Double (for the fast path of `number`).
    static let exactPowers: [Double] = (0...22).map { k in (0..<k).reduce(1.0) { x, _ in x * 10 } }

    mutating func number() throws(JSONSyntaxError) -> JSONNode {
        let start = at
        var negative = false
        if bytes[at] == UInt8(ascii: "-") { negative = true; at += 1 }
        guard at < bytes.count, bytes[at] >= 48 && bytes[at] <= 57 else { throw error("a digit was expected in a number") }
        if bytes[at] == 48, at + 1 < bytes.count, bytes[at + 1] >= 48 && bytes[at + 1] <= 57 {
            throw error("a number may not have a leading zero")
        }
        var magnitude: UInt64 = 0
        var overflow = false
        _ = accumulateDigits(&magnitude, &overflow)
        let isInteger = at >= bytes.count || (bytes[at] != UInt8(ascii: ".") && bytes[at] | 0x20 != UInt8(ascii: "e"))
        if isInteger {
            let limit: UInt64 = negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)
            if overflow || magnitude > limit {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
                at = start
                throw error("the integer \(text.prefix(40)) is outside the 64-bit range")
            }
            return JSONNode(kind: .int, count: 0, payload: negative ? Int64(bitPattern: 0 &- magnitude) : Int64(magnitude))
        }
        var fractionDigits = 0
        if bytes[at] == UInt8(ascii: ".") {
            at += 1
            guard at < bytes.count, bytes[at] >= 48 && bytes[at] <= 57 else { throw error("a digit was expected after '.'") }
            fractionDigits = accumulateDigits(&magnitude, &overflow)
        }
        var hasExponent = false
        if at < bytes.count, bytes[at] | 0x20 == UInt8(ascii: "e") {
            hasExponent = true
            at += 1
            if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard at < bytes.count, bytes[at] >= 48 && bytes[at] <= 57 else { throw error("a digit was expected in an exponent") }
            while at < bytes.count, bytes[at] >= 48 && bytes[at] <= 57 { at += 1 }
        }
        // Exact when the digits fit a double's mantissa and the power of ten is exact.
        if !hasExponent, !overflow, magnitude < 1 << 53, fractionDigits <= 22 {
            let d = Double(magnitude) / Self.exactPowers[fractionDigits]
            return JSONNode(kind: .double, count: 0, payload: Int64(bitPattern: (negative ? -d : d).bitPattern))
        }
        let d: Double? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: at - start + 1) { buf in
            for k in start..<at { buf[k - start] = CChar(bitPattern: bytes[k]) }
            buf[at - start] = 0
            var endPointer: UnsafeMutablePointer<CChar>?
            let v = strtod(buf.baseAddress!, &endPointer)
            return endPointer == buf.baseAddress! + (at - start) ? v : nil
        }
        guard let d, d.isFinite else {
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
            at = start
            throw error("the number \(text.prefix(40))... is beyond the range of a 64-bit float")
        }
        return JSONNode(kind: .double, count: 0, payload: Int64(bitPattern: d.bitPattern))
    }
}
