import Dispatch
import Foundation
import Logging

/// Writes a scene's input log (`--input-log DIR`; docs/SCENES.md, "Input logs") on a queue
/// of its own, so the tick thread never waits for the disk. The tick thread hands it each
/// tick's text; a failed write is logged once and the log stops (the scene goes on).
final class InputLogWriter: @unchecked Sendable {
    // @unchecked: `handle` and `failed` are used only on `queue`.
    private let queue = DispatchQueue(label: "twinscene.input-log")
    private var handle: FileHandle?
    private var failed = false
    let path: String
    let logger: Logger

    init(path: String, logger: Logger) throws {
        self.path = path
        self.logger = logger
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw InputLogWriteError(path: path)
        }
        handle = h
    }

    func write(_ text: String) {
        guard !text.isEmpty else { return }
        queue.async { [self] in
            guard !failed, let handle else { return }
            do { try handle.write(contentsOf: Data(text.utf8)) } catch {
                failed = true
                logger.error("input log write failed; the log stops here", metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
    }

    /// Writes what is queued and closes the file; returns once it is on disk.
    func close() {
        queue.sync {
            try? handle?.synchronize()
            try? handle?.close()
            handle = nil
        }
    }
}

struct InputLogWriteError: Error, CustomStringConvertible {
    var path: String
    var description: String { "cannot create the input log \(path)" }
}
