import Foundation
import NIOCore

/// The viewer's files, read once from the package's resources into memory at start-up.
///
/// Served by exact name only: a request path either is one of these names or gets 404, so
/// no path (`/../../etc/passwd`, percent-encoded or not) can reach anything else on disk.
struct ViewerFiles: Sendable {
    struct File: Sendable {
        let bytes: ByteBuffer
        let contentType: String
    }

    let files: [String: File]

    static let contentTypes = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8",
        "css": "text/css; charset=utf-8", "svg": "image/svg+xml", "png": "image/png", "json": "application/json",
    ]

    /// Every file directly in the bundle's `Viewer` folder (no subfolders).
    static func load() throws -> ViewerFiles {
        guard let folder = Bundle.module.url(forResource: "Viewer", withExtension: nil) else {
            throw ViewerFilesError.missing("the Viewer folder is not in the package's resources")
        }
        var files: [String: File] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            let ext = (name as NSString).pathExtension
            guard let type = contentTypes[ext] else { continue }
            files[name] = File(bytes: ByteBuffer(bytes: Array(try Data(contentsOf: folder.appendingPathComponent(name)))), contentType: type)
        }
        guard files["index.html"] != nil else { throw ViewerFilesError.missing("Viewer/index.html is not in the package's resources") }
        return ViewerFiles(files: files)
    }

    /// The file for a request path: `/` is index.html, `/NAME` a file by its exact name.
    func file(forPath path: String) -> File? {
        if path == "/" || path.isEmpty { return files["index.html"] }
        // Browsers ask for /favicon.ico on pages without an icon link (the JSON endpoints).
        if path == "/favicon.ico" { return files["favicon.svg"] }
        guard path.hasPrefix("/") else { return nil }
        let name = String(path.dropFirst())
        guard !name.contains("/") else { return nil }
        return files[name]
    }
}

enum ViewerFilesError: Error, CustomStringConvertible {
    case missing(String)
    var description: String {
        switch self { case .missing(let s): return s }
    }
}
