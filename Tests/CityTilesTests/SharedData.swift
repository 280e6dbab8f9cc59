import Foundation
import Testing

/// Where the shared real data lives: `../shared/data` beside the package root.
enum SharedData {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let root = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
    static var available: Bool { FileManager.default.fileExists(atPath: root.path) }
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
    static let skipNote: Comment = "../shared/data is absent: tests on real data are skipped"
}

/// This test process's scratch folder: every test's temporary directory is in it, and it is
/// removed when the process exits (tests left a thousand folders in /tmp before).
let scratchRoot: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("twinscene-tests-\(getpid())-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: scratchRoot) }
    return url
}()

/// A fresh temporary directory per test.
func temporaryDirectory() -> URL {
    let url = scratchRoot.appendingPathComponent(UUID().uuidString)
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
