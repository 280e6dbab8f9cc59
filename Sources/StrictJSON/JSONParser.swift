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
}
