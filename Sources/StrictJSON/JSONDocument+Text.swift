extension JSONDocument {
    /// The value at node `i` as a tree (for small documents: headers, manifests).
    public func value(_ i: Int) -> JSONValue {
        let n = nodes[i]
        switch n.kind {
        case .null: return .null
        case .bool: return .bool(n.count != 0)
        case .int: return .int(n.payload)
        case .double: return .double(Double(bitPattern: UInt64(bitPattern: n.payload)))
        case .string, .escapedString: return .string(string(i)!)
        case .intArray: return .ints(Array(intElements(i)))
        case .array:
            var a: [JSONValue] = []
            a.reserveCapacity(Int(n.count))
            forEachElement(i) { _, e in a.append(value(e)) }
            return .array(a)
        case .object:
            var o = JSONObject()
            forEachMember(i) { k, v in o.append(string(k)!, value(v)) }
            return .object(o)
        }
    }

    /// Compact JSON text of the value at node `i`: strings copied as written, no spaces.
    public func compactText(_ i: Int) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        write(i, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func write(_ i: Int, to out: inout [UInt8]) {
        let n = nodes[i]
        switch n.kind {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool: out.append(contentsOf: n.count != 0 ? "true".utf8 : "false".utf8)
        case .int: Self.writeInt(n.payload, to: &out)
        case .double:
            let d = Double(bitPattern: UInt64(bitPattern: n.payload))
            out.append(contentsOf: "\(d)".utf8)
        case .string, .escapedString:
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[Int(n.payload)..<Int(n.payload) + Int(n.count)]))
            out.append(UInt8(ascii: "\""))
        case .intArray:
            out.append(UInt8(ascii: "["))
            for (k, v) in intElements(i).enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeInt(v, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .array:
            out.append(UInt8(ascii: "["))
            forEachElement(i) { k, e in
                if k > 0 { out.append(UInt8(ascii: ",")) }
                write(e, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object:
            out.append(UInt8(ascii: "{"))
            var first = true
            forEachMember(i) { k, v in
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                write(k, to: &out)
                out.append(UInt8(ascii: ":"))
                write(v, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeInt(_ v: Int64, to out: inout [UInt8]) {
        if v < 0 { out.append(UInt8(ascii: "-")) }
        var m = v.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 20 digits, written backwards
        withUnsafeMutableBytes(of: &digits) { buf in
            var k = buf.count
            repeat {
                k -= 1
                buf[k] = UInt8(48 + m % 10)
                m /= 10
            } while m > 0
            out.append(contentsOf: buf[k...])
        }
    }
}
