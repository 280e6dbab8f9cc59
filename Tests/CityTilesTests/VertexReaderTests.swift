import Districts
import StrictJSON
import Foundation
import Testing
@testable import CityTiles

@Suite struct VertexReaderTests {
    let header = TileHeader(version: "2.0", scale: SIMD3(0.001, 0.001, 0.001), translate: SIMD3(85_000, 446_000, 0), epsg: 7415)

    func read(_ text: String) -> [Int64]? {
        Array(text.utf8).withUnsafeBufferPointer { VertexReader.read($0, header: header) }
    }

    @Test func plainTriplesAreReadFlat() {
        #expect(read("[[1,2,3],[-4,0,6]]") == [1, 2, 3, -4, 0, 6])
        #expect(read(" [ [1 , 2,3] ,\n [4,5, 6] ] ") == [1, 2, 3, 4, 5, 6])
        #expect(read("[]") == [])
        #expect(read("[[99999999999,0,0]]") == [99_999_999_999, 0, 0])
    }

    /// Everything else is left to the general parser, which names the problem.
    @Test(arguments: ["[[1,2]]", "[[1,2,3,4]]", "[[1.5,2,3]]", "[[01,2,3]]", "[[1,2,3],]", "[[1,2,3]] x",
                      "[[1,2,3]", "[[1,2,\"3\"]]", "[[1000000000000000000,0,0]]", "[[2000000000000000,0,0]]",
                      "[[-,1,2]]", "{}", "", "[[1e3,0,0]]", "[[null,0,0]]"])
    func anythingElseIsLeftToTheGeneralParser(_ text: String) {
        #expect(read(text) == nil)
    }

    @Test func agreesWithTheGeneralReadingOnAGeneratedDistrict() throws {
        let text = DistrictGenerator(buildings: 50, seed: 3)
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("v.city.json").path
        try text.writeDocument(to: path)
        let bytes = try Array(String(contentsOfFile: path, encoding: .utf8).utf8)
        try bytes.withUnsafeBufferPointer { b in
            let tape = JSONTape()
            try tape.parse(b)
            let doc = JSONDocument(bytes: b, tape: tape)
            let header = try TileHeader.read(doc, doc.root, file: path, crsOverride: nil)
            let general = try CityJSONReader.readVertices(doc, doc.member(doc.root, "vertices"), file: path, header: header)
            try tape.parse(b, skipping: "vertices")
            let span = try #require(tape.skipped)
            #expect(VertexReader.read(UnsafeBufferPointer(rebasing: b[span.bytes]), header: header) == general)
            #expect(general.count > 150)
        }
    }
}

@Suite struct StructuralScanTests {
    /// The scan finds every member where the full parser finds its key, and the end where
    /// the object closes, on a document with long runs of brackets and many strings.
    @Test(arguments: [7, 300])
    func scanAgreesWithTheParser(buildings: Int) throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("s.city.json").path
        try DistrictGenerator(buildings: buildings, seed: 21).writeDocument(to: path)
        // Pretty-printing puts spaces and newlines everywhere the scan has to skip.
        let compact = try Array(String(contentsOfFile: path, encoding: .utf8).utf8)
        let object = try JSONSerialization.jsonObject(with: Data(compact))
        let pretty = try Array(JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted]))
        for bytes in [compact, pretty] {
            try bytes.withUnsafeBufferPointer { b in
                let tape = JSONTape()
                try tape.parse(b)
                let doc = JSONDocument(bytes: b, tape: tape)
                let objects = try #require(doc.member(doc.root, "CityObjects"))
                var keys: [Int] = []
                doc.forEachMember(objects) { k, _ in keys.append(Int(doc.nodes[k].payload) - 1) }
                // The object's `{`: just before its first key, past any space.
                var open = keys.first! - 1
                while b[open] != UInt8(ascii: "{") { open -= 1 }
                let scan = try JSONParser.scanMembers(b, objectAt: open)
                #expect(scan.members == keys)
                #expect(b[scan.close] == UInt8(ascii: "}"))
                let vertices = try #require(doc.member(doc.root, "vertices"))
                try tape.parse(b, skipping: "vertices")
                let skipped = try #require(tape.skipped)
                #expect(b[skipped.bytes.lowerBound] == UInt8(ascii: "[") && b[skipped.bytes.upperBound - 1] == UInt8(ascii: "]"))
                _ = vertices
            }
        }
    }

    @Test(arguments: ["{\"a\":[1,2,3", "{\"a\":\"]}", "{\"a\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]", "[1,2}"])
    func truncatedOrMismatchedTextIsAnError(text: String) {
        let bytes = Array(text.utf8)
        #expect(throws: JSONSyntaxError.self) {
            try bytes.withUnsafeBufferPointer { b in _ = try JSONParser.scanValue(b, at: 0) }
        }
    }
}
