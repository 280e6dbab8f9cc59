import Foundation
import Testing

/// The viewer in headless Chromium with Selenium (Tests/Browser/viewer_test.py) against a
/// real `twinscene serve`: entity counts against `watch`, building pixels against the tile's
/// footprints, zoom, follow, reconnect, console. `.ci/run` installs Chromium, its driver and
/// Selenium and sets TWINSCENE_REQUIRE_TOOLS=1, so there the test cannot skip; elsewhere it
/// runs where they are installed.
@Suite(.serialized) struct BrowserTests {
    static var browserAvailable: Bool {
        let fm = FileManager.default
        guard fm.isExecutableFile(atPath: "/usr/bin/chromium"), fm.isExecutableFile(atPath: "/usr/bin/chromedriver") else { return false }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import selenium"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    static var required: Bool { ProcessInfo.processInfo.environment["TWINSCENE_REQUIRE_TOOLS"] == "1" }

    @Test func theViewerWorksInARealBrowser() async throws {
        guard Self.browserAvailable else {
            if Self.required { Issue.record("TWINSCENE_REQUIRE_TOOLS=1 but chromium, chromedriver or selenium is missing") }
            return
        }
        let (status, text, overran) = try await offThePool { try Self.runBrowserTest() }
        #expect(!overran, "the browser test ran past 900 s")
        #expect(status == 0, "\(text.split(separator: "\n").filter { !$0.hasPrefix("ok ") }.suffix(30).joined(separator: "\n"))")
        #expect(text.contains("0 failed"))
    }

    /// The script's exit status, its output, and whether it had to be stopped.
    static func runBrowserTest() throws -> (Int32, String, Bool) {
        let out = CommandLineTests.root.appendingPathComponent(".build/screenshots").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "Tests/Browser/viewer_test.py", "--binary", CommandLineTests.binary.path, "--out", out]
        p.currentDirectoryURL = CommandLineTests.root
        let log = CommandLineTests.root.appendingPathComponent(".build/browser-test.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        // Bounded: the script's own waits add up to well under this. It takes about 300 s in
        // CI, and over 600 s on a machine busy with a build beside it; each check line says
        // when it came.
        let deadline = Date().addingTimeInterval(900)
        while p.isRunning && Date() < deadline { usleep(200_000) }
        let overran = p.isRunning
        if overran { p.terminate() }
        p.waitUntilExit()
        try handle.close()
        return (p.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "", overran)
    }
}
