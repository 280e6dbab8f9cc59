/// One node of a parsed JSON document. Nodes lie in document order (a container before
/// its contents; an object's members as key, value, key, value), so a document is one flat
/// array with no allocation per value.
public struct JSONNode: Sendable {
    public enum Kind: UInt8, Sendable {
        case null, bool, int, double, string, escapedString, array, object
        /// An array whose elements are all integers: they lie in the tape's `ints`.
        case intArray
    }

    public var kind: Kind
    /// Members of an object, elements of an array, bytes of a string, 1 or 0 for a bool.
    public var count: UInt32
    /// An int's value, a double's bit pattern, a string's first byte offset, the node index
    /// after a container's last descendant, or an int array's first index in `ints`.
    public var payload: Int64
}

/// A growable buffer of plain values that the parser writes without copy-on-write
/// checks; owned by a `JSONTape`, which frees it.
struct TapeVector<Element> {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 1024) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    @inline(__always)
    subscript(i: Int) -> Element {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }

    @inline(__always)
    mutating func append(_ e: Element) {
        if count == capacity { grow() }
        (base + count).initialize(to: e)
        count += 1
    }

    mutating func grow() {
        let bigger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity *= 2
    }

    /// Drops the elements from `newCount` on (they are plain values: nothing to release).
    mutating func truncate(to newCount: Int) { count = newCount }

    var buffer: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }

    func deallocate() { base.deallocate() }
}

/// A JSON document parsed into flat arrays: nodes, and the integers of integer arrays.
/// Strings stay in the source bytes, so a tape is read together with them (`JSONDocument`).
/// A tape is reused from one document to the next without reallocating.
/// Not `Sendable`: one thread uses a tape at a time; workers get theirs handed over
/// (`sending`), never shared.
public final class JSONTape {
    var nodeStore = TapeVector<JSONNode>()
    var intStore = TapeVector<Int64>()
    /// The object left unparsed by `parse(_:deferring:skipping:)`, if it was found.
    public internal(set) var deferred: DeferredMembers?
    /// The value skipped over by `parse(_:deferring:skipping:)`, if it was found.
    public internal(set) var skipped: SkippedValue?

    public init() {}

    deinit {
        nodeStore.deallocate()
        intStore.deallocate()
    }

    /// The nodes of the last document parsed (valid until the next parse).
    public var nodes: UnsafeBufferPointer<JSONNode> { nodeStore.buffer }
    /// The integers of its integer arrays.
    public var ints: UnsafeBufferPointer<Int64> { intStore.buffer }

    /// Parses one complete JSON text, replacing what the tape held. The object value of the
    /// top-level key `deferring` is only scanned: its node is a null, and `deferred` says
    /// where its members lie, to be parsed with `parseMembers`.
    /// The array or object value of the top-level key `skipping` is only skipped over: its
    /// node is a null, and `skipped` says where its bytes lie.
    public func parse(_ bytes: UnsafeBufferPointer<UInt8>, deferring: StaticString? = nil,
                      skipping: StaticString? = nil) throws(JSONSyntaxError) {
        var p = JSONParser(bytes, tape: self)
        p.deferKey = deferring
        p.skipKey = skipping
        defer { finish(p) }
        try p.document()
    }

    /// Takes back the buffers the parser grew, and what it found.
    func finish(_ p: JSONParser) {
        nodeStore = p.nodes
        intStore = p.ints
        deferred = p.deferred
        skipped = p.skipped
    }
}

/// Where the members of an object left unparsed lie in the source bytes.
public struct DeferredMembers: Sendable {
    /// The placeholder node standing for the object in the tape.
    public var node: Int
    /// Byte offset of each member's key.
    public var members: [Int]
    /// Byte offset of the closing brace.
    public var close: Int
}

/// Where a value left unparsed lies in the source bytes.
public struct SkippedValue: Sendable {
    /// The placeholder node standing for the value in the tape.
    public var node: Int
    public var bytes: Range<Int>
}

/// A tape with the bytes it was parsed from: read access by node index. Valid only while
/// the bytes and the tape are (it is used inside the `withUnsafeBufferPointer` that parsed them).
/// The tape must not be parsed into again while the document is in use.
public struct JSONDocument {
    public let bytes: UnsafeBufferPointer<UInt8>
    public let nodes: UnsafeBufferPointer<JSONNode>
    public let ints: UnsafeBufferPointer<Int64>

    public init(bytes: UnsafeBufferPointer<UInt8>, tape: JSONTape) {
        self.bytes = bytes
        self.nodes = tape.nodes
        self.ints = tape.ints
    }

    /// The root value's node.
    public var root: Int { 0 }

    @inline(__always) public func kind(_ i: Int) -> JSONNode.Kind { nodes[i].kind }
    @inline(__always) public func count(_ i: Int) -> Int { Int(nodes[i].count) }

    /// The index after node `i` and everything inside it.
    @inline(__always)
    public func end(_ i: Int) -> Int {
        let n = nodes[i]
        return n.kind == .array || n.kind == .object ? Int(n.payload) : i + 1
    }

    /// The value of member `key` of object `i`; nil when `i` is no object or lacks the key.
    public func member(_ i: Int, _ key: StaticString) -> Int? {
        guard nodes[i].kind == .object else { return nil }
        var k = i + 1
        for _ in 0..<nodes[i].count {
            if stringEquals(k, key) { return k + 1 }
            k = end(k + 1)
        }
        return nil
    }

    /// Calls `body` with each member's key node and value node, in file order.
    @inline(__always)
    public func forEachMember<E: Error>(_ i: Int, _ body: (_ key: Int, _ value: Int) throws(E) -> Void) throws(E) {
        var k = i + 1
        for _ in 0..<nodes[i].count {
            try body(k, k + 1)
            k = end(k + 1)
        }
    }

    /// Calls `body` with each element's node of array `i` (not an int array).
    @inline(__always)
    public func forEachElement<E: Error>(_ i: Int, _ body: (_ index: Int, _ node: Int) throws(E) -> Void) throws(E) {
        var k = i + 1
        for e in 0..<Int(nodes[i].count) {
            try body(e, k)
            k = end(k)
        }
    }

    /// The node of element `e` of array `i`, nil when out of range or not an array.
    public func element(_ i: Int, _ e: Int) -> Int? {
        guard nodes[i].kind == .array, e >= 0, e < nodes[i].count else { return nil }
        var k = i + 1
        for _ in 0..<e { k = end(k) }
        return k
    }

    /// The integers of an int array.
    @inline(__always)
    public func intElements(_ i: Int) -> UnsafeBufferPointer<Int64> {
        let n = nodes[i]
        return UnsafeBufferPointer(rebasing: ints[Int(n.payload)..<Int(n.payload) + Int(n.count)])
    }

    public func int(_ i: Int) -> Int64? { nodes[i].kind == .int ? nodes[i].payload : nil }

    /// The value as a Double when it is any number.
    public func number(_ i: Int) -> Double? {
        switch nodes[i].kind {
        case .int: return Double(nodes[i].payload)
        case .double: return Double(bitPattern: UInt64(bitPattern: nodes[i].payload))
        default: return nil
        }
    }

    /// The string at node `i`, escapes decoded; nil when it is no string.
    public func string(_ i: Int) -> String? {
        let n = nodes[i]
        switch n.kind {
        case .string:
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[Int(n.payload)..<Int(n.payload) + Int(n.count)]), as: UTF8.self)
        case .escapedString:
            return String(decoding: JSONParser.unescape(bytes, from: Int(n.payload), count: Int(n.count)), as: UTF8.self)
        default:
            return nil
        }
    }

    /// True when node `i` is the string `s` (compared without building a String).
    @inline(__always)
    public func stringEquals(_ i: Int, _ s: StaticString) -> Bool {
        let n = nodes[i]
        if n.kind == .escapedString { return string(i) == s.description }
        guard n.kind == .string, Int(n.count) == s.utf8CodeUnitCount else { return false }
        let start = Int(n.payload)
        let p = s.utf8Start
        for k in 0..<Int(n.count) where bytes[start + k] != p[k] { return false }
        return true
    }

    /// A short name of the node's JSON type, for error messages.
    public func typeName(_ i: Int) -> String {
        switch nodes[i].kind {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string, .escapedString: return "a string"
        case .array, .intArray: return "an array"
        case .object: return "an object"
        }
    }
}
