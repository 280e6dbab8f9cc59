import Foundation

/// Strings and numbers.
extension JSONParser {
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
