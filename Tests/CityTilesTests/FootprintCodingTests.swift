import Testing
@testable import CityTiles

@Suite struct FootprintCodingTests {
    @Test func footprintBlobsRoundTripAndBadOnesAreRefused() {
        let polygons: [Polygon2D] = [[[SIMD2(0, 0), SIMD2(10, 0), SIMD2(10, 5)], [SIMD2(1, 1), SIMD2(2, 1), SIMD2(2, 2)]], []]
        let blob = FootprintCoding.encode(polygons)
        #expect(FootprintCoding.decode(blob) == polygons)
        #expect(FootprintCoding.decode(Array(blob.dropLast())) == nil)
        #expect(FootprintCoding.decode(blob + [0]) == nil)
        #expect(FootprintCoding.decode([0xFF, 0xFF, 0xFF, 0x7F]) == nil)
    }
}
