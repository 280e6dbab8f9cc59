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
