import Foundation
import NIOCore
import Testing
@testable import SceneWire

/// docs/PROTOCOL.md is the contract with client authors: its worked examples must be
/// exactly what the encoder writes, and must decode back to the same messages.
@Suite struct ProtocolDocTests {
    static let docPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/PROTOCOL.md").path

    /// `<!-- example: NAME -->` followed by a ```hex block.
    static func examples() throws -> [String: String] {
        let text = try String(contentsOfFile: docPath, encoding: .utf8)
        var out: [String: String] = [:]
        let parts = text.components(separatedBy: "<!-- example: ")
        for part in parts.dropFirst() {
            guard let end = part.range(of: " -->") else { continue }
            let name = String(part[..<end.lowerBound])
            guard let open = part.range(of: "```hex\n"), let close = part.range(of: "\n```", range: open.upperBound..<part.endIndex) else { continue }
            out[name] = String(part[open.upperBound..<close.lowerBound])
        }
        return out
    }

    @Test func everyExampleInTheDocumentMatchesTheEncoder() throws {
        let doc = try Self.examples()
        for (name, message) in ProtocolExamples.all {
            let expected = ProtocolExamples.hex(message)
            #expect(doc[name] == expected, "PROTOCOL.md example '\(name)' should be:\n\(expected)")
            if let text = doc[name] {
                let bytes = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { UInt8($0, radix: 16) }
                var buffer = ByteBuffer(bytes: bytes)
                let frame = try #require(try WireFrameDecoder().next(&buffer))
                #expect(try WireMessage.decode(type: frame.type, payload: frame.payload) == message)
            }
        }
    }

    @Test func theVersionTwoKeyframeDecodesToTheDocumentedHeights() throws {
        var decoder = SceneStateDecoder(heights: ProtocolExamples.heights)
        _ = try decoder.apply(tick: 41, resync: true, blocks: [ProtocolExamples.keyframe3D()])
        var seen: [UInt32: Int32?] = [:]
        decoder.forEach3 { id, _, _, _, qz in seen[id] = qz }
        #expect(seen == [3: nil, 4: 120])
        #expect(decoder.cells[0]?.vz == [0, 3])
    }

    @Test func theExampleDeltaDecodesToTheDocumentedPositions() throws {
        let (key, delta) = ProtocolExamples.cellBlocks()
        var decoder = SceneStateDecoder()
        _ = try decoder.apply(tick: 41, resync: true, blocks: [key])
        let changes = try decoder.apply(tick: 42, resync: false, blocks: [delta])
        #expect(changes.entered == [9])
        let cell = try #require(decoder.cells[0])
        #expect(cell.ids == [3, 7, 9])
        #expect(cell.qx == [101, 150, 300])
        #expect(cell.vx == [1, 0, 0])
    }
}
