import Foundation
import NIOCore
import Testing
@testable import SceneWire

@Suite struct DeflaterTests {
    /// Resident memory of this process, from /proc (Linux).
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return (Int(fields.count > 1 ? fields[1] : "0") ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    @Test func aThousandStaticGeometryMessagesDoNotLeakZlibState() throws {
        // Each message deflates at level 6 with its own zlib stream (about 256 KiB of state):
        // leaked, 1,000 of them would hold some 250 MB.
        let building = WireBuilding(rings: [[SIMD2(0, 0), SIMD2(1000, 0), SIMD2(1000, 800), SIMD2(0, 800)]], heightDecimetres: 120)
        let message = WireMessage.staticGeometry(subscription: 1, buildings: Array(repeating: building, count: 50))
        for _ in 0..<50 { _ = message.frame() }   // warm the allocator
        let before = Self.residentBytes()
        var bytes = 0
        for _ in 0..<1000 { bytes += message.frame().readableBytes }
        let growth = Self.residentBytes() - before
        #expect(bytes > 0)
        // Under AddressSanitizer freed memory sits in quarantine, so RSS says nothing there;
        // LeakSanitizer checks the same code for leaks instead (README).
        if ProcessInfo.processInfo.environment["ASAN_OPTIONS"] == nil {
            // A leak holds some 250 MB; the rest of a parallel run can grow this process by
            // tens of MB meanwhile (30 MB seen in CI), so the bound sits between the two.
            #expect(growth < 120 << 20, "RSS grew by \(growth >> 20) MB over 1,000 StaticGeometry messages")
        }
        // And the bytes still decode to the same buildings.
        var buffer = message.frame()
        let frame = try #require(try WireFrameDecoder().next(&buffer))
        #expect(try WireMessage.decode(type: frame.type, payload: frame.payload) == message)
    }

    @Test func oneDeflaterCompressesManyInputsLikeFreshOnes() throws {
        let shared = Deflater(level: 1)
        for n in [0, 1, 100, 5000] {
            let input = (0..<n).map { UInt8(truncatingIfNeeded: $0 * 7 / 3) }
            let a = shared.deflate(input), b = Deflater(level: 1).deflate(input)
            #expect(a == b)
            #expect(Array(try Inflater.inflate(a.readableBytesView, expectedLength: n).readableBytesView) == input)
        }
    }
}
