/// A parsed JSON value that keeps what CityJSON needs to check: integers apart from
/// floating-point numbers, and object members in file order (duplicates are refused
/// by the parser, not silently dropped).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    /// An array whose elements are all integers, kept packed (CityJSON's vertices and
    /// boundaries are nearly all of this form). `array` still reads it element by element.
    case ints([Int64])
    case object(JSONObject)

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.object(let x), .object(let y)): return x == y
        case (.ints(let x), .ints(let y)): return x == y
        case (.array, _), (.ints, _):
            // A packed and an unpacked integer array with the same elements are equal.
            guard let x = a.array, let y = b.array else { return false }
            return x == y
        default: return false
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var array: [JSONValue]? {
        switch self {
        case .array(let a): return a
        case .ints(let v): return v.map { .int($0) }
        default: return nil
        }
    }

    /// The integers of an all-integer array, without unpacking.
    public var ints: [Int64]? {
        switch self {
        case .ints(let v): return v
        case .array(let a):
            var out: [Int64] = []
            out.reserveCapacity(a.count)
            for e in a { guard case .int(let i) = e else { return nil }; out.append(i) }
            return out
        default: return nil
        }
    }
    public var object: JSONObject? { if case .object(let o) = self { return o }; return nil }

    /// The value as a Double when it is any number.
    public var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// A short name of the value's JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array, .ints: return "an array"
        case .object: return "an object"
        }
    }
}

/// JSON object members in file order, with lookup by key.
public struct JSONObject: Sendable, Equatable {
    public private(set) var keys: [String] = []
    public private(set) var values: [JSONValue] = []
    /// Built only for large objects; small ones (most CityJSON objects) search linearly.
    private var index: [String: Int]?
    private static let indexFrom = 12

    public init() {}

    public static func == (a: JSONObject, b: JSONObject) -> Bool { a.keys == b.keys && a.values == b.values }

    private func position(_ key: String) -> Int? {
        if let index { return index[key] }
        return keys.firstIndex(of: key)
    }

    /// Adds a member; returns false (and changes nothing) when the key is already present.
    @discardableResult
    public mutating func append(_ key: String, _ value: JSONValue) -> Bool {
        if position(key) != nil { return false }
        keys.append(key)
        values.append(value)
        if index != nil {
            index![key] = keys.count - 1
        } else if keys.count >= Self.indexFrom {
            index = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })
        }
        return true
    }

    public subscript(key: String) -> JSONValue? {
        position(key).map { values[$0] }
    }

    public mutating func set(_ key: String, _ value: JSONValue) {
        if let i = position(key) { values[i] = value } else { append(key, value) }
    }

    public var count: Int { keys.count }
    public var members: Zip2Sequence<[String], [JSONValue]> { zip(keys, values) }
}
