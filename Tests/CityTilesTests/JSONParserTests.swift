import Testing
@testable import CityTiles

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

    @Test func randomBytesNeverCrash() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? JSONParser.parse(bytes)
            let jsonish = (0..<Int.random(in: 0...64, using: &rng)).map { _ in Array("{}[]\",:0123e.-tfn\\ ".utf8).randomElement(using: &rng)! }
            _ = try? JSONParser.parse(jsonish)
        }
    }
}

@Suite struct SHA256Tests {
    @Test func fipsVectors() {
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var s = SHA256()
        for _ in 0..<1000 { s.update([UInt8](repeating: UInt8(ascii: "a"), count: 1000)) }
        #expect(s.finalize() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
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
        #expect(v.jsonText == "[[0,1,2,3],[-4,5]]")
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
