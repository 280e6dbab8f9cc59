import Foundation
import Testing

/// Footprints and heights of every building in ../shared/data/cityjson against Shapely
/// (Tests/Conformance/footprints.py: GEOS from Python, reading the JSON on its own): areas
/// within 1%, heights within 1 cm. `.ci/run` installs Shapely and sets
/// TWINSCENE_REQUIRE_TOOLS=1, so there it cannot skip.
@Suite struct ConformanceTests {
    static var shapelyAvailable: Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import shapely"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    @Test func everyBuildingMatchesShapely() async throws {
        let dir = CommandLineTests.root.deletingLastPathComponent().appendingPathComponent("shared/data/cityjson")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
            .filter { $0.hasSuffix(".city.json") || $0.hasSuffix(".city.jsonl") }.sorted().map { dir.appendingPathComponent($0).path }
        let required = ProcessInfo.processInfo.environment["TWINSCENE_REQUIRE_TOOLS"] == "1"
        guard !files.isEmpty, Self.shapelyAvailable else {
            if required { Issue.record("TWINSCENE_REQUIRE_TOOLS=1 but ../shared/data/cityjson or shapely is missing") }
            return
        }
        let (status, text) = try await offThePool { try Self.check(files) }
        #expect(status == 0, "\(text.suffix(3000))")
        #expect(text.contains(" 0 outside 1% of area or 1 cm of height"), "\(text.suffix(600))")
        #expect(text.contains("\(files.count) files"))
    }

    /// The script's exit status and output.
    static func check(_ files: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "Tests/Conformance/footprints.py", "--binary", CommandLineTests.binary.path] + files
        p.currentDirectoryURL = CommandLineTests.root
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
