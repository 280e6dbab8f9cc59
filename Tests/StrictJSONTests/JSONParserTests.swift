import Foundation
import Testing
@testable import StrictJSON

@Suite struct JSONParserTests {
    func parse(_ s: String) throws(JSONSyntaxError) -> JSONValue { try JSONParser.parse(Array(s.utf8)) }

    @Test func parsesValuesKeepingIntegersApart() throws {
        let v = try parse(#"{"a":[1,-2,3.5,1e3,true,null,"x\u00e9\n"],"b":{}}"#)
        #expect(v["a"]?.array == [.int(1), .int(-2), .double(3.5), .double(1000), .bool(true), .null, .string("xé\n")])
        #expect(v["b"]?.object?.count == 0)
        #expect(try parse("-9223372036854775808") == .int(.min))
    }

    @Test func refusesDuplicateKeysNamingThePath() {
        #expect {
            try parse(#"{"CityObjects":{"B1":{"type":"Building"},"B1":{"type":"Road"}}}"#)
        } throws: { e in
            let e = e as! JSONSyntaxError
            return e.message.contains("duplicate key \"B1\"") && e.path == "$.CityObjects.B1"
        }
    }

    @Test(arguments: [
        ("", "empty"), ("{\"a\":[1,2", "truncated"), ("{\"a\":1} x", "after the JSON value"),
        ("18446744073709551616", "64-bit range"), ("1e999", "64-bit float"), ("01", "leading zero"),
        ("{\"a\" 1}", "':' was expected"), ("[1,]", "unexpected byte"), ("\"abc", "inside a string"),
        (String(repeating: "[", count: 100), "nesting deeper"), ("{\"a\":tru}", "literal"),
    ])
    func refusesBadText(text: String, expected: String) {
        #expect {
            try parse(text)
        } throws: { e in
            "\(e)".contains(expected)
        }
    }

    @Test func reportsLineAndPath() {
        #expect {
            try parse("{\n\"vertices\": [[0,0,0],\n[1, 2, x]]}")
        } throws: { e in
            let e = e as! JSONSyntaxError
            return e.line == 3 && e.path == "$.vertices[1][2]"
        }
    }

    @Test(arguments: [("{", "$"), ("{\"a\": {", "$.a"), ("[{", "$[0]"), ("{\"a\": [1, {", "$.a[1]"), ("{\"a\": [1, {\"b\": tru", "$.a[1].b")])
    func pathsOfTruncatedTextNameOnlyWhatWasRead(text: String, path: String) {
        #expect {
            try parse(text)
        } throws: { e in
            (e as! JSONSyntaxError).path == path
        }
    }

    @Test func randomBytesNeverCrash() {
        // Seeded, so a crash replays: the seed is printed first, TWINSCENE_FUZZ_SEED runs another.
        let seed = UInt64(ProcessInfo.processInfo.environment["TWINSCENE_FUZZ_SEED"] ?? "") ?? 20261201
        print("randomBytesNeverCrash: fuzz seed \(seed)")
        var rng = SplitMixGenerator(seed: seed)
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? JSONParser.parse(bytes)
            let jsonish = (0..<Int.random(in: 0...64, using: &rng)).map { _ in Array("{}[]\",:0123e.-tfn\\ ".utf8).randomElement(using: &rng)! }
            _ = try? JSONParser.parse(jsonish)
        }
    }
}

@Suite struct PackedIntegerArrayTests {
    func parse(_ s: String) throws(JSONSyntaxError) -> JSONValue { try JSONParser.parse(Array(s.utf8)) }

    @Test func integerArraysArePackedAndReadAsArrays() throws {
        let v = try parse("[[0, 1,2 ,3],[-4,5]]")
        #expect(v.array?.count == 2)
        guard case .ints(let first)? = v.array?.first else { Issue.record("not packed"); return }
        #expect(first == [0, 1, 2, 3])
        #expect(v.array?[1].array == [.int(-4), .int(5)])
    }

    /// What the catalog stores as an object's attributes: compact, strings as written.
    @Test func compactTextDropsSpacesAndKeepsStringsAsWritten() throws {
        let text = #"{ "a" : [ [0, 1,2 ,3], [-4, 5] ], "s": "caf\u00e9 \"x\"", "n": null, "t": true, "d": 2.5, "o": {} , "e": [] }"#
        let bytes = Array(text.utf8)
        try bytes.withUnsafeBufferPointer { b in
            let tape = JSONTape()
            try tape.parse(b)
            let doc = JSONDocument(bytes: b, tape: tape)
            let compact = doc.compactText(doc.root)
            #expect(compact == #"{"a":[[0,1,2,3],[-4,5]],"s":"caf\u00e9 \"x\"","n":null,"t":true,"d":2.5,"o":{},"e":[]}"#)
            // And it parses back to the same value.
            #expect(try JSONParser.parse(Array(compact.utf8)) == JSONParser.parse(bytes))
        }
    }

    @Test(arguments: [
        ("[1, 2.5, 3]", [JSONValue.int(1), .double(2.5), .int(3)]),
        ("[1, \"a\"]", [.int(1), .string("a")]),
        ("[1.5]", [.double(1.5)]),
        ("[7, null, 8]", [.int(7), .null, .int(8)]),
        ("[1, 2e2]", [.int(1), .double(200)]),
    ])
    func mixedArraysFallBackToElements(text: String, expected: [JSONValue]) throws {
        #expect(try parse(text).array == expected)
    }

    @Test(arguments: ["[1,", "[1 2]", "[1,]", "[-]", "[1,2"])
    func brokenIntegerArraysAreErrors(text: String) {
        #expect(throws: JSONSyntaxError.self) { try parse(text) }
    }
}

/// A seeded generator for the fuzz test (SplitMix64), so the parser's tests need nothing but
/// the parser.
struct SplitMixGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
