/// Why a JSON text was refused, with the byte offset and line where it happened.
public struct JSONSyntaxError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public var line: Int
    /// Where in the document, as a JSON path like `$.CityObjects.B1.geometry[0]`.
    public var path: String

    public var description: String { "line \(line), byte \(offset), at \(path): \(message)" }
}

/// A strict JSON parser over UTF-8 bytes (RFC 8259).
///
/// Strict where CityJSON needs it: duplicate object keys are an error (most parsers keep
/// the last one silently), integers outside Int64 are an error rather than a rounded
/// double, nesting is bounded, and trailing content is refused.
public struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var at: Int = 0
    var depth: Int = 0
    /// Per nesting level: the byte offset of the current key (objects) or -1, and the
    /// current element index (arrays). Only read to name the path in an error.
    var keyAt = [Int](repeating: -1, count: JSONParser.maxDepth + 2)
    var elementIndex = [Int](repeating: 0, count: JSONParser.maxDepth + 2)
    /// Deepest nesting accepted (CityJSON needs about 8).
    public static let maxDepth = 64

    public init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Parses one complete JSON document from `bytes`.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONSyntaxError) -> JSONValue {
        var p = JSONParser(bytes)
        p.skipSpace()
        if p.at == bytes.count { throw p.error("the text is empty, a JSON value was expected") }
        let v = try p.value()
        p.skipSpace()
        if p.at != bytes.count { throw p.error("unexpected content after the JSON value") }
        return v
    }

    /// Parses a document held in an array of bytes.
    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        let result: Result<JSONValue, JSONSyntaxError> = bytes.withUnsafeBufferPointer { b in
            do throws(JSONSyntaxError) { return .success(try parse(b)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    func error(_ message: String) -> JSONSyntaxError {
        var line = 1
        for i in 0..<min(at, bytes.count) where bytes[i] == UInt8(ascii: "\n") { line += 1 }
        var path = "$"
        if depth > 0 {
            for level in 1...depth {
                if keyAt[level] >= 0 {
                    var p = JSONParser(bytes)
                    p.at = keyAt[level]
                    let key = (try? p.string()) ?? "?"
                    path += "." + key
                } else {
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

    mutating func value() throws(JSONSyntaxError) -> JSONValue {
        guard at < bytes.count else { throw error("the text ends where a value was expected (truncated file?)") }
        switch bytes[at] {
        case UInt8(ascii: "{"): return .object(try object())
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
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

    mutating func object() throws(JSONSyntaxError) -> JSONObject {
        try enter()
        defer { depth -= 1 }
        at += 1
        var o = JSONObject()
        keyAt[depth] = -1
        skipSpace()
        if at < bytes.count && bytes[at] == UInt8(ascii: "}") { at += 1; return o }
        while true {
            skipSpace()
            guard at < bytes.count else { throw error("the text ends inside an object (truncated file?)") }
            guard bytes[at] == UInt8(ascii: "\"") else { throw error("an object key (a string) was expected") }
            let keyStart = at
            keyAt[depth] = keyStart
            let key = try string()
            skipSpace()
            guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw error("':' was expected after the key \"\(key)\"") }
            at += 1
            skipSpace()
            let v = try value()
            if !o.append(key, v) {
                at = keyStart
                throw error("duplicate key \"\(key)\" in one object")
            }
            skipSpace()
            guard at < bytes.count else { throw error("the text ends inside an object (truncated file?)") }
            if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
            if bytes[at] == UInt8(ascii: "}") { at += 1; return o }
            throw error("',' or '}' was expected in an object")
        }
    }

    mutating func array() throws(JSONSyntaxError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        at += 1
        var a: [JSONValue] = []
        keyAt[depth] = -1
        elementIndex[depth] = 0
        skipSpace()
        if at < bytes.count && bytes[at] == UInt8(ascii: "]") { at += 1; return .array(a) }
        // Fast path: a run of integers is kept packed; anything else falls back below.
        if at < bytes.count, bytes[at] == UInt8(ascii: "-") || (48...57).contains(bytes[at]) {
            var ints: [Int64] = []
            while true {
                elementIndex[depth] = ints.count
                let value = try number()
                guard case .int(let i) = value else {
                    a = ints.map { .int($0) }
                    a.append(value)
                    break
                }
                ints.append(i)
                skipSpace()
                guard at < bytes.count else { throw error("the text ends inside an array (truncated file?)") }
                if bytes[at] == UInt8(ascii: "]") { at += 1; return .ints(ints) }
                guard bytes[at] == UInt8(ascii: ",") else { throw error("',' or ']' was expected in an array") }
                at += 1
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: "-") || (48...57).contains(bytes[at]) else {
                    a = ints.map { .int($0) }
                    break
                }
            }
            // Continue generically after the integers (or the first non-integer number).
            if case .double? = a.last {
                skipSpace()
                guard at < bytes.count else { throw error("the text ends inside an array (truncated file?)") }
                if bytes[at] == UInt8(ascii: "]") { at += 1; return .array(a) }
                guard bytes[at] == UInt8(ascii: ",") else { throw error("',' or ']' was expected in an array") }
                at += 1
            }
        }
        while true {
            skipSpace()
            elementIndex[depth] = a.count
            a.append(try value())
            skipSpace()
            guard at < bytes.count else { throw error("the text ends inside an array (truncated file?)") }
            if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
            if bytes[at] == UInt8(ascii: "]") { at += 1; return .array(a) }
            throw error("',' or ']' was expected in an array")
        }
    }

    mutating func string() throws(JSONSyntaxError) -> String {
        at += 1
        let start = at
        // Fast path: no escapes.
        while at < bytes.count {
            let c = bytes[at]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
                at += 1
                return s
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { break }
            at += 1
        }
        at = start
        var out: [UInt8] = []
        while at < bytes.count {
            let c = bytes[at]
            if c == UInt8(ascii: "\"") {
                at += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c < 0x20 { throw error("a control character inside a string") }
            if c == UInt8(ascii: "\\") {
                at += 1
                guard at < bytes.count else { break }
                switch bytes[at] {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), at + 2 < bytes.count,
                       bytes[at + 1] == UInt8(ascii: "\\"), bytes[at + 2] == UInt8(ascii: "u") {
                        at += 2
                        let low = try hex4()
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low &- 0xDC00)
                    }
                    out.append(contentsOf: Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8))
                default: throw error("invalid escape in a string")
                }
                at += 1
                continue
            }
            out.append(c)
            at += 1
        }
        throw error("the text ends inside a string (truncated file?)")
    }

    mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard at + 4 < bytes.count else { throw error("the text ends inside a \\u escape") }
        var v: UInt32 = 0
        for k in 1...4 {
            let c = bytes[at + k]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - 48)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - 87)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - 55)
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | d
        }
        at += 4
        return v
    }

    mutating func number() throws(JSONSyntaxError) -> JSONValue {
        let start = at
        var negative = false
        if bytes[at] == UInt8(ascii: "-") { negative = true; at += 1 }
        guard at < bytes.count, (48...57).contains(bytes[at]) else { throw error("a digit was expected in a number") }
        if bytes[at] == 48, at + 1 < bytes.count, (48...57).contains(bytes[at + 1]) {
            throw error("a number may not have a leading zero")
        }
        var magnitude: UInt64 = 0
        var overflow = false
        while at < bytes.count, (48...57).contains(bytes[at]) {
            let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (m2, o2) = m1.addingReportingOverflow(UInt64(bytes[at] - 48))
            magnitude = m2
            overflow = overflow || o1 || o2
            at += 1
        }
        var isInteger = true
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
            isInteger = false
            at += 1
            guard at < bytes.count, (48...57).contains(bytes[at]) else { throw error("a digit was expected after '.'") }
            while at < bytes.count, (48...57).contains(bytes[at]) { at += 1 }
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
            isInteger = false
            at += 1
            if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard at < bytes.count, (48...57).contains(bytes[at]) else { throw error("a digit was expected in an exponent") }
            while at < bytes.count, (48...57).contains(bytes[at]) { at += 1 }
        }
        if isInteger {
            let limit: UInt64 = negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)
            if overflow || magnitude > limit {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
                at = start
                throw error("the integer \(text.prefix(40)) is outside the 64-bit range")
            }
            return .int(negative ? Int64(bitPattern: 0 &- magnitude) : Int64(magnitude))
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
        guard let d = Double(text), d.isFinite else {
            at = start
            throw error("the number \(text.prefix(40))... is beyond the range of a 64-bit float")
        }
        return .double(d)
    }
}
