import Foundation

/// Object keys: reading them, and refusing one that repeats an earlier key of its object.
extension JSONParser {
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
}
