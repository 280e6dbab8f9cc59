import Foundation

/// The package root and the shared real tracking data (`../shared/data/tracking` beside it);
/// tests on real data skip with a note where it is absent.
enum SharedTracking {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tracking = root.deletingLastPathComponent().appendingPathComponent("shared/data/tracking").path
    static var available: Bool { FileManager.default.fileExists(atPath: tracking) }
}
